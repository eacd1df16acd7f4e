// Store benchmark: append throughput of 400-event batches against JSON.parse of the same bytes (the baseline every
// collector pays anyway), then query latency (p50/p95) over the stored events.
// BENCH_EVENTS sets how many events (default 200000); BENCH_DIR where the database goes (default a temp dir, removed
// afterwards). Then the page cache's effect on appends to that store: the store reopened with each of
// BENCH_CACHE_MIB (default "256,64,16"; the first is the baseline), appending the next events in turn, two rounds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { gzipSync } from 'node:zlib';
import type { AuditEvent } from '../src/event/model.ts';
import { objectHistory } from '../src/query/history.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = 400;
const fixtures = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Record<string, unknown>);

// Deterministic pseudo-random numbers (mulberry32), so that every run stores the same events.
let seed = 42;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)]!;
/** Skewed pick: a few values are frequent, most are rare (as users and namespaces are in real clusters). */
const skewed = <T>(a: T[]): T => a[Math.floor(rand() ** 3 * a.length)]!;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

const namespaces = Array.from({ length: 300 }, (_, i) =>
  i < 5 ? ['default', 'kube-system', 'monitoring', 'ingress', 'logging'][i]! : `team-${i}`,
);
const workspaceOf = (ns: string) => (ns.startsWith('team-') ? `ws-${Number(ns.slice(5)) % 30}` : 'system-workspace');
const users = [
  ...Array.from({ length: 120 }, (_, i) => `system:serviceaccount:${namespaces[i % 300]}:sa-${i}`),
  ...Array.from({ length: 40 }, (_, i) => `system:node:node-${i}`),
  ...Array.from({ length: 80 }, (_, i) => `user${i}@example.com`),
  'system:kube-controller-manager',
  'system:kube-scheduler',
  'admin',
];
const agents = [
  'kubectl/v1.30.2',
  'kube-controller-manager/v1.30.2',
  'kubelet/v1.30.2',
  'Go-http-client/2.0',
  'ks-console/v4.1',
];
const ips = Array.from({ length: 60 }, (_, i) => `10.${i % 4}.${Math.floor(i / 4)}.${(i * 37) % 250}`);
const codes = [200, 200, 200, 200, 200, 201, 201, 404, 403, 409, 500];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const SPAN_MS = 7 * 86_400_000; // a week of events

/** Audit IDs of some stored events, for lookups by audit ID (as a user pasting Kubernetes' Audit-Id header). */
const knownIDs: string[] = [];
/** The JSON lines as gzip would keep them (a rotated, compressed kube-apiserver log): bytes, per chunk. */
let gzipBytes = 0;
let jsonBytes = 0;

function eventLine(i: number): string {
  const e = structuredClone(pick(fixtures)) as Record<string, unknown> & { objectRef?: Record<string, unknown> };
  const ns = skewed(namespaces);
  const user = skewed(users);
  const obj = (e.objectRef ?? { resource: 'pods' }) as Record<string, unknown>;
  const name = `${String(obj.name ?? obj.resource ?? 'obj')}-${Math.floor(rand() * 2000)}`;
  const resource = String(obj.resource ?? 'pods');
  const at = T0 + Math.floor((i / N) * SPAN_MS) + Math.floor(rand() * 1000);
  const ts = new Date(at).toISOString().replace('Z', `${String(Math.floor(rand() * 1000)).padStart(3, '0')}Z`);
  const code = pick(codes);
  const auditID = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
  e.auditID = auditID;
  if (i % 997 === 0) knownIDs.push(auditID);
  e.user = {
    username: user,
    groups: user.startsWith('system:serviceaccount')
      ? ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated']
      : ['system:authenticated'],
  };
  e.objectRef = { ...obj, namespace: ns, name, resource };
  e.workspace = workspaceOf(ns);
  e.sourceIPs = [pick(ips)];
  e.userAgent = pick(agents);
  e.requestURI = `/api/v1/namespaces/${ns}/${resource}/${name}${rand() < 0.1 ? `?resourceVersion=${i}&watch=true` : ''}`;
  e.responseStatus = { metadata: {}, code, ...(code >= 400 ? { status: 'Failure' } : {}) };
  e.requestReceivedTimestamp = ts;
  e.stageTimestamp = ts;
  e.source = 'kubernetes';
  return JSON.stringify(e);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latency(label: string, runs: number, q: (i: number) => Promise<unknown>): Promise<void> {
  await q(runs); // warm the statement cache
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await q(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(
    `  ${label.padEnd(58)} p50 ${pct(times, 50).toFixed(1).padStart(7)} ms   p95 ${pct(times, 95).toFixed(1).padStart(7)} ms`,
  );
}

const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'vigil-store-bench-'));
const path = join(dir, 'bench.db');
// BENCH_REUSE=1 with BENCH_DIR: query the events a previous run stored there instead of storing them again.
const reuse = process.env.BENCH_REUSE === '1' && process.env.BENCH_DIR !== undefined;
if (!reuse) {
  rmSync(path, { force: true });
  rmSync(`${path}-wal`, { force: true });
}
let store: Store = await openSqliteStore({ path });
try {
  // Chunks of 8 batches alternate between one batch at a time (a single sender) and 8 batches in flight
  // (concurrent senders, which the store commits together), so that both see the database at the same sizes.
  const phases = [
    { label: 'one batch at a time', inFlight: 1, parseMs: 0, appendMs: 0, events: 0, bytes: 0 },
    { label: '8 batches in flight', inFlight: 8, parseMs: 0, appendMs: 0, events: 0, bytes: 0 },
  ];
  if (!reuse) {
    const chunk = 8 * BATCH;
    for (let c = 0; c * chunk < N; c++) {
      const phase = phases[c % 2]!;
      const batches: AuditEvent[][] = [];
      for (let i = c * chunk; i < Math.min(N, (c + 1) * chunk); i += BATCH) {
        const lines: string[] = [];
        for (let k = i; k < Math.min(N, i + BATCH); k++) lines.push(eventLine(k));
        const t = performance.now();
        batches.push(lines.map((l) => JSON.parse(l) as AuditEvent));
        phase.parseMs += performance.now() - t;
        for (const l of lines) phase.bytes += l.length;
        const text = `${lines.join('\n')}\n`;
        jsonBytes += Buffer.byteLength(text);
        gzipBytes += gzipSync(text).length;
        phase.events += lines.length;
      }
      const t = performance.now();
      if (phase.inFlight === 1) for (const b of batches) await store.append(b);
      else await Promise.all(batches.map((b) => store.append(b)));
      phase.appendMs += performance.now() - t;
    }
    for (const p of phases)
      console.log(
        `append, ${p.label}: ${p.events} events (${(p.bytes / p.events).toFixed(0)} B of JSON each), ${BATCH}-event ` +
          `batches, synchronous=FULL: ${Math.round((p.events / p.appendMs) * 1000)} events/s; JSON.parse of the same ` +
          `bytes: ${Math.round((p.events / p.parseMs) * 1000)} events/s; append/parse time ratio ` +
          `${(p.appendMs / p.parseMs).toFixed(2)}`,
      );
  }
  // the events stored before the store's first dictionary are packed in the background: finish that first
  let packed = 0;
  for (let n = 1; n > 0; packed += n) n = (await store.compact?.()) ?? 0;
  const size = await store.size();
  console.log(
    `database: ${(size.bytes / 1048576).toFixed(0)} MiB for ${size.events} events (${packed} packed after the appends)`,
  );
  if (!reuse) {
    const per = size.bytes / size.events;
    const json = jsonBytes / N;
    console.log(
      `bytes per event on disk, indexes included: ${per.toFixed(0)} B = ${(per / json).toFixed(2)}× its JSON ` +
        `(${json.toFixed(0)} B); gzip of the same JSON lines: ${(gzipBytes / N).toFixed(0)} B/event ` +
        `(store/gzip ${(per / (gzipBytes / N)).toFixed(2)})`,
    );
  }
  // where the bytes go, per event (dbstat: every table and index)
  const stat = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = stat
      .prepare('SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC LIMIT 12')
      .all() as { name: string; b: number }[];
    console.log(`  ${rows.map((r) => `${r.name} ${(r.b / size.events).toFixed(0)}`).join(', ')} (B/event)`);
  } catch (err) {
    console.log(`  (no dbstat: ${(err as Error).message})`);
  } finally {
    stat.close();
  }

  // Appends with other page-cache sizes, on the store as it is now (the OS's file cache is warm for all of them).
  const caches = (process.env.BENCH_CACHE_MIB ?? '256,64,16').split(',').map(Number);
  const CACHE_EVENTS = 24 * BATCH;
  let next = N;
  const rate: number[][] = caches.map(() => []);
  for (let round = 0; round < 2; round++)
    for (const [k, cacheMiB] of caches.entries()) {
      await store.close();
      store = await openSqliteStore({ path, cacheMiB });
      const batches: AuditEvent[][] = [];
      for (let b = 0; b < CACHE_EVENTS / BATCH; b++)
        batches.push(Array.from({ length: BATCH }, () => JSON.parse(eventLine(next++)) as AuditEvent));
      await store.append(batches.pop()!); // starts the writer thread
      const t = performance.now();
      for (let b = 0; b < batches.length; b += 4)
        await Promise.all(batches.slice(b, b + 4).map((x) => store.append(x)));
      rate[k]!.push(((CACHE_EVENTS - BATCH) / (performance.now() - t)) * 1000);
    }
  console.log(`append with the page cache at each size, ${CACHE_EVENTS} events each, 4 batches in flight, 2 rounds:`);
  for (const [k, cacheMiB] of caches.entries()) {
    const mean = rate[k]!.reduce((a, b) => a + b, 0) / rate[k]!.length;
    const base = rate[0]!.reduce((a, b) => a + b, 0) / rate[0]!.length;
    console.log(
      `  cacheMiB ${String(cacheMiB).padStart(5)}: ${rate[k]!.map((r) => Math.round(r)).join(' / ')} events/s, ` +
        `ratio to ${caches[0]} MiB ${(mean / base).toFixed(2)}`,
    );
  }
  await store.close();
  store = await openSqliteStore({ path });

  const end = T0 + SPAN_MS;
  const hour = 3_600_000;
  const ns = (i: number) => namespaces[(i * 7 + 11) % 300]!;
  console.log(
    `queries over ${(await store.size()).events} events (each first page of 20, newest first, with the exact total):`,
  );
  const page = { sort: 'desc' as const, size: 20 };
  const runs = 40;
  await latency('filtered: namespace', runs, (i) => store.query({ exact: { namespace: [ns(i)] } }, page));
  await latency('filtered: user AND verb', runs, (i) =>
    store.query({ exact: { user: [users[(i * 13) % users.length]!], verb: ['get', 'list'] } }, page),
  );
  await latency('filtered: code 403, last 24 h', runs, () =>
    store.query({ exact: { code: ['403'] }, start: end - 24 * hour, end }, page),
  );
  await latency('filtered: workspace + resource, last 24 h', runs, (i) =>
    store.query(
      { exact: { workspace: [`ws-${i % 30}`], resource: ['pods', 'secrets'] }, start: end - 24 * hour, end },
      page,
    ),
  );
  await latency('filtered: group (list field)', runs, (i) =>
    store.query({ exact: { group: [`system:serviceaccounts:${ns(i)}`] } }, page),
  );
  await latency('filtered: tenant scope (3 workspaces)', runs, (i) =>
    store.query(
      { scope: { workspaces: [`ws-${i % 30}`, `ws-${(i + 1) % 30}`, `ws-${(i + 2) % 30}`], namespaces: [] } },
      page,
    ),
  );
  await latency('filtered: auditID (stored ones)', runs, (i) =>
    store.query({ exact: { auditID: [knownIDs[(i * 7) % knownIDs.length]!] } }, page),
  );
  await latency('fuzzy: user substring', runs, (i) => store.query({ fuzzy: { user: [`user${(i * 3) % 80}@`] } }, page));
  await latency('fuzzy: name substring', runs, (i) => store.query({ fuzzy: { name: [`-${100 + i}`] } }, page));
  await latency('fuzzy: namespace substring + verb', runs, (i) =>
    store.query({ fuzzy: { namespace: [`am-${i + 10}`] }, exact: { verb: ['delete'] } }, page),
  );
  await latency('text: one word (user, name, URI, ... any field)', runs, (i) =>
    store.query({ text: [`sa-${i + 5}`] }, page),
  );
  await latency('text: short term (2 chars, scanned dictionary)', 10, (i) =>
    store.query({ text: [`${i % 10}q`] }, page),
  );
  await latency('exclude: top 3 users, namespace', runs, (i) =>
    store.query({ exact: { namespace: [ns(i)] }, exclude: { user: users.slice(0, 3) } }, page),
  );
  await latency('exclude: verbs get,list,watch, last 24 h', runs, () =>
    store.query({ exclude: { verb: ['get', 'list', 'watch'] }, start: end - 24 * hour, end }, page),
  );
  await latency('code class: 4xx,5xx, last 24 h', runs, () =>
    store.query({ exact: { code: ['4xx', '5xx'] }, start: end - 24 * hour, end }, page),
  );
  await latency('code range: >=400 AND exclude 404, last 24 h', runs, () =>
    store.query({ exact: { code: ['>=400'] }, exclude: { code: ['404'] }, start: end - 24 * hour, end }, page),
  );
  // objects that were written (the generated names repeat: about 2,000 per resource and namespace)
  const written = (
    await store.query(
      { exclude: { verb: ['get', 'list', 'watch'] }, start: end - 24 * hour, end },
      { ...page, size: runs },
    )
  ).items.flatMap((e) => (e.objectRef?.name ? [e.objectRef] : []));
  await latency('object history: one written object (all writes, diffs)', runs, (i) => {
    const o = written[i % written.length]!;
    return objectHistory(store, { resource: o.resource!, namespace: o.namespace, name: o.name!, limit: 100 });
  });
  await latency('histogram: all events, 1 h buckets', 20, () => store.histogram({}, hour));
  await latency('histogram: namespace, 1 h buckets', runs, (i) =>
    store.histogram({ exact: { namespace: [ns(i)] } }, hour),
  );
  await latency('histogram: last 24 h, 5 min buckets', runs, () =>
    store.histogram({ start: end - 24 * hour, end }, 300_000),
  );
  await latency('stats: top 10 users of a namespace', runs, (i) =>
    store.stats({ exact: { namespace: [ns(i)] } }, 'user', 10),
  );
  let cursor: string | undefined;
  await latency('keyset: next page, 50 pages deep and on', runs, async () => {
    if (!cursor) for (let k = 0; k < 50; k++) cursor = (await store.query({}, { ...page, after: cursor })).next;
    cursor = (await store.query({}, { ...page, after: cursor })).next;
  });
  await latency(`offset: from=${Math.floor(N / 2)}`, 10, () => store.query({}, { ...page, from: Math.floor(N / 2) }));
  // What free text over the stored bodies would cost (issue #22 item 10): a substring scan of every body (what `q`
  // cannot use an index for), and of the newest 10,000 only (a bounded variant), straight on the database.
  await store.close();
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const scan = db.prepare("SELECT count(*) AS n FROM event_bodies WHERE instr(lower(body), 'forbidden') > 0");
    const newest = db.prepare(
      "SELECT count(*) AS n FROM (SELECT id FROM events ORDER BY received DESC LIMIT 10000) e JOIN event_bodies b ON b.id = e.id WHERE instr(lower(b.body), 'forbidden') > 0",
    );
    await latency('body scan: every body, one term (not done by q)', 3, async () => scan.get());
    await latency('body scan: newest 10,000 bodies, one term', 10, async () => newest.get());
  } finally {
    db.close();
  }
} finally {
  await store.close();
  if (!process.env.BENCH_DIR) rmSync(dir, { recursive: true, force: true });
}
