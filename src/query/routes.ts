// The query API: Vigil's `/api/v1/events…`, an object's history (./history.ts) and KubeSphere's auditing path. Every handler takes the caller's
// tenant scope from the token and puts it into the EventQuery itself — filters can only narrow it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from '../auth/index.ts';
import type { CollectorMetrics } from '../metrics/index.ts';
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

export function registerQuery(app: FastifyInstance, o: QueryOptions): { closeStreams(): void } {
  const { store, auth, metrics } = o;
  const bounds = o.bounds ?? {};
  const toEventQuery = (p: Params) => parseQuery(p, bounds);
  const streams = new Set<() => void>();

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

  app.get('/api/v1/events/stream', { schema: { querystring: SCHEMAS.stream } }, async (req, reply) => {
    const p = req.query as Params;
    const match = compileMatcher(scoped(caller(req), toEventQuery(p)));
    stream(reply, match);
  });

  app.get('/api/v1/events/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const e = await timed('get', () => store.get(id, caller(req).scope));
    if (!e) return reply.code(404).send({ error: `no event with id "${id}"`, field: 'id' });
    return e;
  });

  registerHistory(app, { store, auth });

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

  /** Server-Sent Events: each newly stored event the caller may see and the filters match, as one `data:` line. */
  function stream(reply: FastifyReply, match: (e: StoredEvent) => boolean): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    const unsubscribe = store.subscribe((events) => {
      let chunk = '';
      for (const e of events) if (match(e)) chunk += `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
      if (chunk) res.write(chunk);
    });
    // Tells the client the subscription is live, so it can rely on seeing every event stored from now on.
    res.write(': subscribed\n\n');
    const beat = setInterval(() => res.write(': keep-alive\n\n'), o.heartbeatMs ?? 15_000);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(beat);
      unsubscribe();
      streams.delete(end);
      if (!res.destroyed) {
        res.end();
        // A tail held its connection to the end: let the socket go too, so that shutdown never waits on it.
        res.socket?.destroySoon();
      }
    };
    streams.add(end);
    res.on('close', end);
  }

  return {
    closeStreams() {
      for (const end of [...streams]) end();
    },
  };
}
