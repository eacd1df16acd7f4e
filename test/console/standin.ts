// TEST FIXTURE, not product code: a stand-in for the collector's query API (same paths, parameters and shapes as
// /api/v1/events…, over events held in memory) that also serves GET /api/v1/alerts, which the collector does not
// have yet. Only the console's alerts test uses it; every other console test runs against the real collector
// (server.ts). Exact = whole value, case-sensitive; fuzzy = case-insensitive substring; values of one parameter
// OR'ed, parameters AND'ed.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { AuditEvent } from '../../src/event/model.ts';
import { CONSOLE_DIST_DIR, registerConsole } from '../../src/server/console.ts';
import type { StoredEvent } from '../../src/store/types.ts';

type Getter = (e: StoredEvent) => (string | number | undefined)[];
const FIELDS: Record<string, Getter> = {
  workspace: (e) => [e.workspace],
  namespace: (e) => [e.objectRef?.namespace],
  resource: (e) => [e.objectRef?.resource],
  subresource: (e) => [e.objectRef?.subresource],
  name: (e) => [e.objectRef?.name],
  verb: (e) => [e.verb],
  level: (e) => [e.level],
  user: (e) => [e.user?.username],
  group: (e) => e.user?.groups ?? [],
  source_ip: (e) => e.sourceIPs ?? [],
  response_code: (e) => [e.responseStatus?.code],
  response_status: (e) => [e.responseStatus?.status],
  cluster: (e) => [e.cluster],
  source: (e) => [e.source],
};
const PARAM_FIELD: Record<string, string> = {
  workspace: 'workspace',
  objectref_namespace: 'namespace',
  objectref_resource: 'resource',
  objectref_subresource: 'subresource',
  objectref_name: 'name',
  verb: 'verb',
  level: 'level',
  user: 'user',
  group: 'group',
  source_ip: 'source_ip',
  response_code: 'response_code',
  response_status: 'response_status',
  cluster: 'cluster',
  source: 'source',
};
type Query = Record<string, string | undefined>;

function time(e: AuditEvent): number {
  return Date.parse(e.requestReceivedTimestamp);
}

function parseTime(v: string): number {
  return /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
}

function matcher(q: Query): (e: StoredEvent) => boolean {
  const tests: ((e: StoredEvent) => boolean)[] = [];
  for (const [param, raw] of Object.entries(q)) {
    const m = /^(.*)_(filter|search)$/.exec(param);
    if (!m || raw === undefined || !PARAM_FIELD[m[1]]) continue;
    const get = FIELDS[PARAM_FIELD[m[1]]];
    const values = raw
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (m[2] === 'filter') tests.push((e) => get(e).some((h) => h !== undefined && values.includes(String(h))));
    else {
      const lower = values.map((v) => v.toLowerCase());
      tests.push((e) => get(e).some((h) => h !== undefined && lower.some((v) => String(h).toLowerCase().includes(v))));
    }
  }
  if (q.q) {
    const text = q.q.toLowerCase();
    tests.push((e) =>
      [e.user?.username, e.verb, e.objectRef?.resource, e.objectRef?.name, e.objectRef?.namespace, e.workspace]
        .concat(e.sourceIPs ?? [])
        .some((v) => v?.toLowerCase().includes(text)),
    );
  }
  if (q.start_time) {
    const s = parseTime(q.start_time);
    tests.push((e) => time(e) >= s);
  }
  if (q.end_time) {
    const s = parseTime(q.end_time);
    tests.push((e) => time(e) <= s);
  }
  return (e) => tests.every((t) => t(e));
}

/** The fields of the collector's alerts (src/alerts/types.ts) the console reads. */
export interface StandInAlert {
  id: string;
  createdAt: number;
  rule: string;
  priority: string;
  message: string;
  eventId: string;
  auditID: string;
  workspace?: string;
  namespace?: string;
}

export interface StandIn {
  url: string;
  /** The stored events, newest first, with their ids. */
  stored: StoredEvent[];
  /** What GET /api/v1/alerts answers. */
  alerts: StandInAlert[];
  /** What GET /api/v1/objects/history answers, by `resource/namespace/name`. */
  histories: Map<string, unknown>;
  close(): Promise<void>;
}

/** Starts the stand-in API plus the built console on a free loopback port. */
export async function startStandIn(events: AuditEvent[]): Promise<StandIn> {
  const stored: StoredEvent[] = events
    .map((e) => ({ ...e, id: randomUUID() }))
    .sort((a, b) => time(b) - time(a) || (a.id < b.id ? 1 : -1));
  const alerts: StandInAlert[] = [];
  const histories = new Map<string, unknown>();
  const app = Fastify();

  app.get('/api/v1/events', async (req) => {
    const q = req.query as Query;
    const all = stored.filter(matcher(q));
    if (q.sort === 'asc') all.reverse();
    const startAt = q.after ? all.findIndex((e) => e.id === q.after) + 1 : 0;
    const size = Math.min(Number(q.size ?? 10), 1000);
    const items = all.slice(startAt, startAt + size);
    const next = startAt + size < all.length ? items[items.length - 1]?.id : undefined;
    return next ? { total: all.length, items, next } : { total: all.length, items };
  });
  app.get('/api/v1/events/histogram', async (req, reply) => {
    const q = req.query as Query;
    const m = /^(\d+)([smhd])$/.exec(q.interval ?? '15m');
    if (!m) return reply.code(400).send({ error: 'bad interval', field: 'interval' });
    const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's'];
    const counts = new Map<number, number>();
    const all = stored.filter(matcher(q));
    for (const e of all) {
      const b = Math.floor(time(e) / ms) * ms;
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    const buckets = [...counts].sort((a, b) => a[0] - b[0]).map(([t, count]) => ({ time: t, count }));
    return { total: all.length, buckets };
  });
  app.get('/api/v1/events/:id', async (req, reply) => {
    const e = stored.find((x) => x.id === (req.params as { id: string }).id);
    return e ?? reply.code(404).send({ error: 'no such event' });
  });
  app.get('/api/v1/alerts', async (req) => {
    const q = req.query as Query;
    // As the collector's: `from`/`size` paging, 50 by default, with the total.
    const all = alerts.filter((a) => !q.event_id || a.eventId === q.event_id);
    const from = Number(q.from ?? 0);
    return { total: all.length, items: all.slice(from, from + Number(q.size ?? 50)) };
  });
  // The object history API's contract (/api/v1/objects/history), answered from what a test puts in `histories`
  // under `resource/namespace/name`; 404 for other objects.
  app.get('/api/v1/objects/history', async (req, reply) => {
    const q = req.query as Query;
    const h = histories.get(`${q.resource}/${q.namespace ?? ''}/${q.name}`);
    return h ?? reply.code(404).send({ error: 'no such object' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'Not Found' }));
  registerConsole(app, { distDir: CONSOLE_DIST_DIR });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stored, alerts, histories, close: () => app.close() };
}
