// The query API: Vigil's `/api/v1/events…`, an object's history (./history.ts) and KubeSphere's auditing path. Every handler takes the caller's
// tenant scope from the token and puts it into the EventQuery itself — filters can only narrow it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from '../auth/index.ts';
import { bytesPerEvent, type CollectorMetrics } from '../metrics/index.ts';
import type { EventQuery, Store, StoredEvent } from '../store/types.ts';
import { registerHistory } from './history.ts';
import { toKubeSphereRecord } from './kubesphere.ts';
import { compileMatcher } from './matches.ts';
import {
  histogramRange,
  intParam,
  type Params,
  toEventQuery as parseQuery,
  type QueryBounds,
  SCHEMAS,
  STATS_BY,
  toInterval,
  toPage,
} from './params.ts';
import { type LiveStream, openStream, type StreamState } from './stream.ts';

export interface QueryOptions {
  store: Store;
  auth: Authenticator;
  metrics?: CollectorMetrics;
  /** Live-tail keep-alive comment period. */
  heartbeatMs?: number;
  /** Bounds of start_time/end_time (the clock-skew allowance of ingest.limits.maxClockSkew). */
  bounds?: QueryBounds;
}

const READ_ROLES = ['admin', 'tenant'] as const;

export interface QueryRoutes {
  /** Ends every live tail (shutdown). */
  closeStreams(): void;
  /** What each open live tail holds: unsent bytes and events skipped. */
  streams(): StreamState[];
}

export function registerQuery(app: FastifyInstance, o: QueryOptions): QueryRoutes {
  const { store, auth, metrics } = o;
  const bounds = o.bounds ?? {};
  const toEventQuery = (p: Params) => parseQuery(p, bounds);
  const streams = new Set<LiveStream>();

  const caller = (req: FastifyRequest): Principal => auth.authorize(req, READ_ROLES, 'query');
  const scoped = (p: Principal, q: EventQuery): EventQuery => (p.scope ? { ...q, scope: p.scope } : q);
  const timed = async <T>(endpoint: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      metrics?.queryLatency.observe({ endpoint }, (performance.now() - t0) / 1000);
    }
  };

  app.get('/api/v1/events', { schema: { querystring: SCHEMAS.list } }, async (req) => {
    const p = req.query as Params;
    const q = scoped(caller(req), toEventQuery(p));
    const page = await timed('list', () => store.query(q, toPage(p)));
    return page.next === undefined ? { total: page.total, items: page.items } : page;
  });

  app.get('/api/v1/events/histogram', { schema: { querystring: SCHEMAS.histogram } }, async (req) => {
    const p = req.query as Params;
    const q = scoped(caller(req), toEventQuery(p));
    return timed('histogram', () => store.histogram(histogramRange(q, bounds), toInterval(p)));
  });

  app.get('/api/v1/events/stats', { schema: { querystring: SCHEMAS.stats } }, async (req) => {
    const p = req.query as Params;
    const q = scoped(caller(req), toEventQuery(p));
    const by = STATS_BY[(p.by as keyof typeof STATS_BY | undefined) ?? 'user'];
    const r = await timed('stats', () => store.stats(q, by, intParam(p, 'size', 10)));
    return { by, ...r };
  });

  // The store's size, for sizing a volume (docs/scaling.md): not a tenant's business, so admin only.
  app.get('/api/v1/store', async (req) => {
    auth.authorize(req, ['admin'], 'query');
    const s = await store.size();
    return { events: s.events, bytes: s.bytes, bytesPerEvent: bytesPerEvent(s) };
  });

  app.get('/api/v1/events/stream', { schema: { querystring: SCHEMAS.stream } }, async (req, reply) => {
    const p = req.query as Params;
    const match = compileMatcher(scoped(caller(req), toEventQuery(p)));
    // EventSource sends Last-Event-ID when it reconnects; since_id is for clients that cannot set headers
    const last = req.headers['last-event-id'] ?? (p.since_id as string | undefined);
    if (last !== undefined && !/^\d{1,16}$/.test(String(last)))
      return reply.code(400).send({ error: 'Last-Event-ID: expected an event id (digits)', field: 'since_id' });
    stream(reply, match, last === undefined ? undefined : Number(last));
  });

  app.get('/api/v1/events/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const e = await timed('get', () => store.get(id, caller(req).scope));
    if (!e) return reply.code(404).send({ error: `no event with id "${id}"`, field: 'id' });
    return e;
  });

  registerHistory(app, { store, auth, bounds, timed });

  app.get(
    '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events',
    { schema: { querystring: SCHEMAS.kubesphere } },
    (req) => kubesphere(req),
  );
  app.get(
    '/kapis/clusters/:cluster/tenant.kubesphere.io/v1alpha2/auditing/events',
    { schema: { querystring: SCHEMAS.kubesphere } },
    (req) => kubesphere(req, (req.params as { cluster: string }).cluster),
  );

  async function kubesphere(req: FastifyRequest, cluster?: string) {
    const p = req.query as Params;
    const q = scoped(caller(req), toEventQuery(p));
    if (cluster) q.exact = { ...q.exact, cluster: [cluster] };
    switch (p.operation ?? 'query') {
      case 'statistics': {
        const s = await timed('kubesphere', () => store.stats(q, 'user', 1));
        return { statistics: { resources: s.auditIDs, events: s.total } };
      }
      case 'histogram':
        return {
          histogram: await timed('kubesphere', () => store.histogram(histogramRange(q, bounds), toInterval(p))),
        };
      default: {
        const page = await timed('kubesphere', () => store.query(q, toPage(p)));
        return {
          query: { total: page.total, records: page.items.length ? page.items.map(toKubeSphereRecord) : null },
        };
      }
    }
  }

  /** Server-Sent Events (./stream.ts): bounded per stream, resumable with Last-Event-ID / since_id. */
  function stream(reply: FastifyReply, match: (e: StoredEvent) => boolean, sinceId: number | undefined): void {
    reply.hijack();
    const s = openStream(reply.raw, {
      store,
      match,
      sinceId,
      heartbeatMs: o.heartbeatMs ?? 15_000,
      onEnd: () => streams.delete(s),
    });
    streams.add(s);
  }

  return {
    closeStreams() {
      for (const s of [...streams]) s.end();
    },
    streams: () => [...streams].map((s) => s.state()),
  };
}
