// PostgreSQL store: ingest of 400-event batches by two concurrent writers (two collectors), against the SQLite
// store and against JSON.parse of the same bytes measured in the same run; then filtered, full-text and
// histogram query latency (p50/p95) at BENCH_EVENTS events (default 200 000) spread over 7 days.
// Needs the local PostgreSQL (VIGIL_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
// BENCH_KEEP=1 keeps the schema it filled; BENCH_SCHEMA=<that schema> BENCH_SKIP_INGEST=1 queries it again without
// loading (10 M events take ~17 min to load here).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import type { AuditEvent } from '../src/event/model.ts';
import { openPostgresStore, openSqliteStore, type PostgresStore } from '../src/store/index.ts';
import type { EventQuery, Store } from '../src/store/types.ts';

const URL_ = process.env.VIGIL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = 400;
const INGEST_EVENTS = Math.min(N, 40_000);
const DAYS = 7;
const END = Date.parse('2026-11-20T00:00:00Z');
const START = END - DAYS * 86_400_000;

const fixture = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as AuditEvent);

/** Event i of the synthetic stream: a real event's shape with varied users, namespaces, verbs and times. */
/** Audit IDs of some stored events, for lookups by audit ID. */
const knownIDs: string[] = [];

function event(i: number): AuditEvent {
  const base = fixture[i % fixture.length]!;
  const t = START + Math.floor(((END - START) * i) / N);
  const ts = new Date(t).toISOString().replace('Z', '000Z');
  const auditID = `${(i + 1).toString(16).padStart(8, '0')}-0000-4000-8000-${randomBytes(6).toString('hex')}`;
  if (i % 997 === 0) knownIDs.push(auditID);
  return {
    ...base,
    auditID,
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
    user: { username: `user-${i % 500}`, groups: ['system:authenticated', `team-${i % 20}`] },
    sourceIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    objectRef: { ...base.objectRef, namespace: `ns-${i % 200}` },
    workspace: `ws-${i % 40}`,
    verb: ['get', 'list', 'create', 'update', 'delete', 'patch', 'watch'][i % 7]!,
    source: 'kubernetes',
  };
}

function batches(from: number, to: number): AuditEvent[][] {
  const out: AuditEvent[][] = [];
  for (let i = from; i < to; i += BATCH) {
    const b: AuditEvent[] = [];
    for (let j = i; j < Math.min(to, i + BATCH); j++) b.push(event(j));
    out.push(b);
  }
  return out;
}

/** Appends the batches with `writers` concurrent writers (one store each); returns events per second. */
async function ingest(stores: Store[], list: AuditEvent[][]): Promise<number> {
  let next = 0;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    stores.map(async (s) => {
      while (next < list.length) {
        const b = list[next++]!;
        n += (await s.append(b)).inserted;
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function latency(fn: () => Promise<unknown>, runs = 40): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return { p50: pct(xs, 50), p95: pct(xs, 95) };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => x.toFixed(1);

/** Ingest: SQLite with one writer, PostgreSQL with two and with one, against JSON.parse of the same bytes. */
async function benchIngest(stores: PostgresStore[], dir: string): Promise<void> {
  const ingestBatches = batches(0, INGEST_EVENTS);
  // baseline: JSON.parse of the same bytes (one JSON array per batch, as a sink would deliver it)
  const texts = ingestBatches.map((b) => JSON.stringify(b));
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  let parsed = 0;
  const p0 = performance.now();
  for (let r = 0; r < 3; r++) for (const t of texts) parsed += (JSON.parse(t) as unknown[]).length;
  const parseRate = parsed / ((performance.now() - p0) / 1000);

  const sqlite = await openSqliteStore({ path: join(dir, 'events.db') });
  const sqliteRate = await ingest([sqlite], ingestBatches);
  await sqlite.close();

  await stores[0]!.createPartitions(START * 1000, END * 1000);
  const pgRate = await ingest(stores, ingestBatches);
  const pgOneRate = await (async () => {
    // one writer, for comparison with SQLite's single writer (fresh events)
    const more = batches(INGEST_EVENTS, Math.min(N, INGEST_EVENTS + 8_000));
    return more.length > 0 ? ingest([stores[0]!], more) : Number.NaN;
  })();

  console.log(
    `ingest: ${INGEST_EVENTS} events in ${BATCH}-event batches, ${(bytes / INGEST_EVENTS).toFixed(0)} B/event`,
  );
  console.log('| measure | events/s | ratio to JSON.parse |');
  console.log('| --- | --- | --- |');
  console.log(`| JSON.parse of the batches | ${fmt(parseRate)} | 1 |`);
  console.log(`| SQLite append (1 writer) | ${fmt(sqliteRate)} | ${(sqliteRate / parseRate).toFixed(3)} |`);
  console.log(`| PostgreSQL append (2 writers) | ${fmt(pgRate)} | ${(pgRate / parseRate).toFixed(3)} |`);
  console.log(`| PostgreSQL append (1 writer) | ${fmt(pgOneRate)} | ${(pgOneRate / parseRate).toFixed(3)} |`);
}

async function main(): Promise<void> {
  const schema = process.env.BENCH_SCHEMA ?? `vigil_bench_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const stores: PostgresStore[] = [];
  try {
    for (let w = 0; w < 2; w++) stores.push(await openPostgresStore({ url: URL_, schema, poolSize: 4 }));
    if (!process.env.BENCH_SKIP_INGEST) await benchIngest(stores, dir);

    // fill up to N for the query figures (events are independent of the ingest ones above)
    const have = (await stores[0]!.size()).events;
    if (have < N) {
      const t0 = performance.now();
      const chunk = 20_000;
      for (let i = have; i < N; i += chunk) await ingest(stores, batches(i, Math.min(N, i + chunk)));
      console.log(`\nloaded ${fmt(N - have)} more events in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
    await admin.query(`VACUUM ANALYZE "${schema}".events`);
    const size = await stores[0]!.size();
    // where the bytes go: heap + TOAST (the bodies, lz4) and indexes, over every partition; the bodies' own size
    const parts = await admin.query(
      `SELECT sum(pg_table_size(c.oid))::float8 AS tables, sum(pg_indexes_size(c.oid))::float8 AS indexes
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relname = 'events' AND n.nspname = $1`,
      [schema],
    );
    const bodies = await admin.query(
      `SELECT avg(octet_length(body))::float8 AS json, avg(pg_column_size(body))::float8 AS stored
       FROM (SELECT body FROM "${schema}".events LIMIT 20000) b`,
    );
    await admin.end();
    const json = bodies.rows[0].json as number;
    const per = size.bytes / size.events;
    console.log(`\nqueries at ${fmt(size.events)} events over ${DAYS} days, ${fmt(size.bytes / 2 ** 20)} MiB`);
    console.log(
      `bytes per event on disk, indexes included: ${per.toFixed(0)} B = ${(per / json).toFixed(2)}× its JSON ` +
        `(${json.toFixed(0)} B); events tables+TOAST ${(parts.rows[0].tables / size.events).toFixed(0)} B, their ` +
        `indexes ${(parts.rows[0].indexes / size.events).toFixed(0)} B; a body as stored (lz4 TOAST) ` +
        `${(bodies.rows[0].stored as number).toFixed(0)} B; gzip of the JSON lines ${gzipPerEvent().toFixed(0)} B/event`,
    );
    const s = stores[0]!;
    const day = END - 86_400_000;
    const queries: [string, () => Promise<unknown>][] = [
      [
        'exact user, last 24 h, page of 50 + exact total',
        () => s.query(q({ exact: { user: ['user-7'] }, start: day }), page),
      ],
      [
        'exact user + verb, 7 days, page of 50',
        () => s.query(q({ exact: { user: ['user-7'], verb: ['delete'] } }), page),
      ],
      [
        'fuzzy namespace "s-12", last 24 h, page of 50',
        () => s.query(q({ fuzzy: { namespace: ['s-12'] }, start: day }), page),
      ],
      ['free text "team-3", last 24 h, page of 50', () => s.query(q({ text: ['team-3'], start: day }), page)],
      [
        'tenant scope (2 workspaces), last 24 h, page of 50',
        () => s.query(q({ scope: { workspaces: ['ws-1', 'ws-2'], namespaces: [] }, start: day }), page),
      ],
      ['newest page, no filter (total over everything)', () => s.query(q({}), page)],
      ['histogram last 24 h, 15 min buckets', () => s.histogram(q({ start: day }), 900_000)],
      ['histogram 7 days, 1 h, exact user', () => s.histogram(q({ exact: { user: ['user-7'] } }), 3_600_000)],
      ['histogram 7 days, 1 h, no filter', () => s.histogram(q({}), 3_600_000)],
      ['stats top users, last 24 h', () => s.stats(q({ start: day }), 'user', 10)],
      [
        'audit ID of a stored event, page of 50',
        () => s.query(q({ exact: { auditID: [knownIDs[Math.floor(Math.random() * knownIDs.length)]!] } }), page),
      ],
    ];
    console.log('| query | p50 ms | p95 ms |');
    console.log('| --- | --- | --- |');
    for (const [name, fn] of queries) {
      const l = await latency(fn);
      console.log(`| ${name} | ${ms(l.p50)} | ${ms(l.p95)} |`);
    }
  } finally {
    await Promise.all(stores.map((x) => x.close()));
    const admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
    if (!process.env.BENCH_KEEP && !process.env.BENCH_SCHEMA)
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    else console.log(`kept schema ${schema}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

const page = { sort: 'desc' as const, size: 50 };

/** gzip of 20 000 of the events as JSON lines, per event (what a rotated, compressed log file takes). */
function gzipPerEvent(): number {
  const known = knownIDs.length;
  const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify(event(i)));
  knownIDs.length = known; // these events are not stored (their audit IDs are random)
  return gzipSync(`${lines.join('\n')}\n`).length / lines.length;
}
function q(x: EventQuery): EventQuery {
  return x;
}

await main();
