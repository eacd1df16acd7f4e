// `GET /api/v1/objects/history`: every write to one object (its subresources too), oldest first, each with what it
// changed — the difference between consecutive stored states of the object (the response object; the request
// object of a create or update stored without its response; the state a patch leads to when only the patch was
// stored). Reads (get, list, watch) and the early stages of a call are not writes and are left out. Tenant-scoped
// like every query: the object's events are found through the same EventQuery, with the caller's scope.
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../auth/index.ts';
import { maskDigests } from '../event/mask-digest.ts';
import { isObject } from '../event/validate.ts';
import { decodeCursor, encodeCursor } from '../store/semantics.ts';
import type { EventQuery, Store, StoredEvent } from '../store/types.ts';
import { applyPatch, type DiffEntry, diffStates, type ObjectState } from './diff.ts';
import { ParamError, type Params, parseTime, type QueryBounds } from './params.ts';

export type ChangeKind = 'created' | 'updated' | 'deleted' | 'patched' | 'read' | 'unknown';

export interface HistoryItem {
  /** The stored event's id (`/api/v1/events/{id}`). */
  id: string;
  auditID: string;
  time: string;
  user: string;
  verb: string;
  code?: number;
  subresource?: string;
  stage: string;
  change: { kind: ChangeKind; diff: DiffEntry[] };
}

export interface History {
  object: { resource: string; namespace: string; name: string };
  items: HistoryItem[];
  next?: string;
}

const KINDS: Record<string, ChangeKind> = {
  create: 'created',
  update: 'updated',
  patch: 'patched',
  delete: 'deleted',
  deletecollection: 'deleted',
  get: 'read',
  list: 'read',
  watch: 'read',
};
const READS = ['get', 'list', 'watch'];
/** Stages before the response: the call's ResponseComplete (or Panic) says what it did. */
const EARLY_STAGES = ['RequestReceived', 'ResponseStarted'];
/** Events read before a page to know the object's state when the page starts. */
const LOOKBACK = 50;
export const MAX_HISTORY = 1000;

export const HISTORY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['resource', 'name'],
  properties: {
    resource: { type: 'string', minLength: 1 },
    namespace: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    subresource: { type: 'string' },
    start_time: { type: 'string', minLength: 1 },
    end_time: { type: 'string', minLength: 1 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_HISTORY },
    after: { type: 'string', minLength: 1 },
  },
} as const;

/** A whole object (not a Status, not a patch): it is the object's state. */
function wholeObject(v: unknown): v is Record<string, unknown> {
  return isObject(v) && !Array.isArray(v) && v.kind !== 'Status' && isObject(v.metadata);
}

/** The digests of the values masked under `/<body>` of an event, with pointers from that body's root. */
function bodyDigests(
  e: StoredEvent,
  body: 'requestObject' | 'responseObject',
): { digests: Map<string, string>; key?: string } {
  const d = maskDigests(e);
  const digests = new Map<string, string>();
  if (!d) return { digests };
  const prefix = `/${body}`;
  for (const [k, v] of Object.entries(d.values))
    if (k === prefix || k.startsWith(`${prefix}/`)) digests.set(k.slice(prefix.length), v);
  return { digests, key: d.key };
}

function stateOf(e: StoredEvent, body: 'requestObject' | 'responseObject'): ObjectState {
  return { object: e[body], ...bodyDigests(e, body) };
}

/** The object states a history follows: the object itself, and each subresource with a body of its own (scale). */
function stateKey(e: StoredEvent): string {
  const sub = e.objectRef?.subresource ?? '';
  return sub === 'status' ? '' : sub; // a status write answers the whole object
}

/** Replays writes in order, each against the state the previous ones left. */
class Replay {
  readonly #states = new Map<string, ObjectState | null | undefined>();

  step(e: StoredEvent): HistoryItem['change'] {
    const kind = KINDS[e.verb] ?? 'unknown';
    const code = e.responseStatus?.code;
    const key = stateKey(e);
    const prior = this.#states.get(key);
    // A refused or failed write changed nothing.
    if (code !== undefined && (code < 200 || code >= 300)) return { kind, diff: [] };
    let next: ObjectState | null | undefined;
    let diff: DiffEntry[] = [];
    if (kind === 'deleted' && !wholeObject(e.responseObject)) {
      next = null; // gone (a response with the object is one that finalizers keep for now)
    } else if (wholeObject(e.responseObject)) {
      next = stateOf(e, 'responseObject');
    } else if ((kind === 'created' || kind === 'updated') && wholeObject(e.requestObject)) {
      next = stateOf(e, 'requestObject');
    } else if (kind === 'patched' && e.requestObject !== undefined) {
      const { digests, key: digestKey } = bodyDigests(e, 'requestObject');
      const p = applyPatch(prior ?? undefined, e.requestObject, digests, digestKey);
      this.#states.set(key, p.state);
      diff = p.state && prior ? [...diffStates(prior, p.state), ...p.rewritten] : p.written;
      return { kind, diff };
    }
    if (next !== undefined) {
      if (next === null) diff = [];
      else if (prior !== undefined) diff = diffStates(prior ?? { object: undefined, digests: new Map() }, next);
      else if (kind === 'created') diff = diffStates({ object: undefined, digests: new Map() }, next);
      // no earlier state known (before the time range or retention): the state is known from here on
    }
    this.#states.set(key, next ?? (kind === 'deleted' ? null : undefined));
    return { kind, diff };
  }
}

function item(e: StoredEvent, change: HistoryItem['change']): HistoryItem {
  const out: HistoryItem = {
    id: e.id,
    auditID: e.auditID,
    time: e.requestReceivedTimestamp,
    user: e.user?.username ?? '',
    verb: e.verb,
    stage: e.stage,
    change,
  };
  if (e.responseStatus?.code !== undefined) out.code = e.responseStatus.code;
  if (e.objectRef?.subresource) out.subresource = e.objectRef.subresource;
  return out;
}

export interface HistoryRequest {
  resource: string;
  namespace?: string;
  name: string;
  subresource?: string;
  start?: number;
  end?: number;
  limit: number;
  after?: string;
  scope?: EventQuery['scope'];
}

/** One page of an object's history. */
export async function objectHistory(store: Store, r: HistoryRequest): Promise<History> {
  const q: EventQuery = {
    exact: {
      resource: [r.resource],
      namespace: [r.namespace ?? ''],
      name: [r.name],
      ...(r.subresource !== undefined ? { subresource: [r.subresource] } : {}),
    },
    exclude: { verb: READS, stage: EARLY_STAGES },
    ...(r.scope ? { scope: r.scope } : {}),
  };
  const page = await store.query({ ...q, start: r.start, end: r.end }, { sort: 'asc', size: r.limit, after: r.after });
  const replay = new Replay();
  // The state where the page starts: replayed from the writes just before it (its first item's diff needs it).
  const first = page.items[0];
  if (first) {
    const c = r.after ? decodeCursor(r.after) : undefined;
    const before = c
      ? await store.query(q, {
          sort: 'desc',
          size: LOOKBACK,
          after: encodeCursor(c.received, String(BigInt(c.id) + 1n)),
        })
      : r.start !== undefined
        ? await store.query({ ...q, end: r.start - 1 }, { sort: 'desc', size: LOOKBACK })
        : undefined;
    for (const e of (before?.items ?? []).reverse()) replay.step(e);
  }
  const items = page.items.map((e) => item(e, replay.step(e)));
  const out: History = { object: { resource: r.resource, namespace: r.namespace ?? '', name: r.name }, items };
  if (page.next) out.next = page.next;
  return out;
}

export function registerHistory(
  app: FastifyInstance,
  o: {
    store: Store;
    auth: Authenticator;
    bounds: QueryBounds;
    /** Observes the query latency metric of an endpoint. */
    timed: <T>(endpoint: string, fn: () => Promise<T>) => Promise<T>;
  },
): void {
  app.get('/api/v1/objects/history', { schema: { querystring: HISTORY_SCHEMA } }, async (req) => {
    const scope = o.auth.authorize(req, ['admin', 'tenant'], 'query').scope;
    const p = req.query as Params;
    const time = (k: 'start_time' | 'end_time') =>
      p[k] === undefined ? undefined : parseTime(k, String(p[k]), o.bounds.skewMs);
    const start = time('start_time');
    const end = time('end_time');
    if (start !== undefined && end !== undefined && start > end)
      throw new ParamError('start_time', 'start_time is after end_time');
    const request: HistoryRequest = {
      resource: String(p.resource),
      namespace: p.namespace === undefined ? undefined : String(p.namespace),
      name: String(p.name),
      subresource: p.subresource === undefined ? undefined : String(p.subresource),
      start,
      end,
      limit: (p.limit as number | undefined) ?? 100,
      after: p.after === undefined ? undefined : String(p.after),
      scope,
    };
    return o.timed('history', () => objectHistory(o.store, request));
  });
}
