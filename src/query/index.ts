// Public surface of the query API: routes, KubeSphere parameter parsing and in-process matching.

export type { DiffEntry } from './diff.ts';
export { type History, type HistoryItem, objectHistory } from './history.ts';
export { toKubeSphereRecord } from './kubesphere.ts';
export { compileMatcher, inScope, matches } from './matches.ts';
export { FILTER_PARAMS, ParamError, type Params, toEventQuery, toInterval, toPage } from './params.ts';
export { type QueryOptions, registerQuery } from './routes.ts';
