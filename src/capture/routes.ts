// Route maps: resource attribution for APIs that are not Kubernetes-shaped (OpenFaaS' `/system/functions`, any
// REST API). Patterns are URLPattern pathnames, compiled once; the first matching entry wins.
import type { RouteMap } from './types.ts';

const METHOD_VERBS: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export interface RouteMatch {
  resource: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  name: string;
  subresource: string;
  verb: string;
  action?: string;
}

type ValueRef = { kind: 'literal'; value: string } | { kind: 'group'; name: string } | { kind: 'query'; name: string };

interface CompiledRoute {
  methods: Set<string> | null;
  pattern: URLPattern;
  entry: RouteMap;
  namespace: ValueRef;
  name: ValueRef;
  subresource: ValueRef;
  /** exec() builds every component's groups and costs ~10× test(): only call it when a value needs a group. */
  needsGroups: boolean;
}

export class RouteTable {
  readonly #routes: CompiledRoute[];

  constructor(routes: RouteMap[]) {
    this.#routes = routes.map((entry, i) => compile(entry, i));
  }

  /** The first route matching the method and decoded path, or undefined. */
  match(method: string, path: string, query: string): RouteMatch | undefined {
    for (const r of this.#routes) {
      if (r.methods !== null && !r.methods.has(method)) continue;
      let groups: Record<string, string | undefined> = {};
      if (r.needsGroups) {
        const m = r.pattern.exec({ pathname: path });
        if (m === null) continue;
        groups = m.pathname.groups;
      } else if (!r.pattern.test({ pathname: path })) {
        continue;
      }
      let params: URLSearchParams | undefined;
      const value = (ref: ValueRef): string => {
        if (ref.kind === 'literal') return ref.value;
        if (ref.kind === 'group') return groups[ref.name] ?? '';
        params ??= new URLSearchParams(query);
        return params.get(ref.name) ?? '';
      };
      const name = value(r.name);
      let verb = r.entry.verb ?? METHOD_VERBS[method] ?? method.toLowerCase();
      if (r.entry.verb === undefined && name === '') {
        if (verb === 'get') verb = 'list';
        else if (verb === 'delete') verb = 'deletecollection';
      }
      return {
        resource: r.entry.resource,
        apiGroup: r.entry.apiGroup ?? '',
        apiVersion: r.entry.apiVersion ?? '',
        namespace: value(r.namespace),
        name,
        subresource: value(r.subresource),
        verb,
        action: r.entry.action,
      };
    }
    return undefined;
  }
}

function compile(entry: RouteMap, index: number): CompiledRoute {
  const where = `routes[${index}]`;
  if (typeof entry.pattern !== 'string' || entry.pattern === '')
    throw new Error(`${where}.pattern: a pathname pattern is required`);
  if (typeof entry.resource !== 'string' || entry.resource === '') throw new Error(`${where}.resource is required`);
  let pattern: URLPattern;
  try {
    pattern = new URLPattern({ pathname: entry.pattern });
  } catch (err) {
    throw new Error(`${where}.pattern ${JSON.stringify(entry.pattern)}: ${(err as Error).message}`);
  }
  const methods =
    entry.method === undefined
      ? null
      : new Set((Array.isArray(entry.method) ? entry.method : [entry.method]).map((m) => m.toUpperCase()));
  const groups = new Set(groupNames(entry.pattern));
  const ref = (field: 'namespace' | 'name' | 'subresource'): ValueRef => {
    const v = entry[field];
    if (v === undefined) return { kind: 'literal', value: '' };
    if (v.startsWith(':')) {
      const name = v.slice(1);
      if (!groups.has(name)) throw new Error(`${where}.${field}: the pattern has no group ":${name}"`);
      return { kind: 'group', name };
    }
    if (v.startsWith('?')) return { kind: 'query', name: v.slice(1) };
    return { kind: 'literal', value: v };
  };
  const namespace = ref('namespace');
  const name = ref('name');
  const subresource = ref('subresource');
  const needsGroups = [namespace, name, subresource].some((r) => r.kind === 'group');
  return { methods, pattern, entry, namespace, name, subresource, needsGroups };
}

/** Named groups of a pathname pattern (`:name`, `:name(regex)`), to check references when the table is built. */
function groupNames(pattern: string): string[] {
  return [...pattern.matchAll(/:([A-Za-z_$][\w$]*)/g)].map((m) => m[1]);
}
