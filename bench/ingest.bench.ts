// The collector end to end. (1) Sustained ingest over HTTP of 400-event Kubernetes EventList batches (the
// kube-apiserver webhook's default batch size) into SQLite, the server in a child process; baseline in the same
// run: JSON.parse of the same bytes on one core. (2) Query latency p50/p95 over BENCH_EVENTS stored events
// (default 200 000) for filtered, fuzzy and histogram queries, over HTTP.
//   BENCH_EVENTS=1000000 npm run bench ingest
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../src/event/model.ts';
import { openStore } from '../src/store/index.ts';
import { BATCH, cpuMs, falcoBatches, percentile, startServer, stopServer } from './collector.ts';

const INGEST_SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 10);
const INGEST_MAX_BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 2500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 60);

async function benchIngest(): Promise<void> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-ingest-'));
  // Received "now", as a live kube-apiserver's batches are. With Falco's own 2018 timestamps every batch repeated the
  // same 51 times, so each index entry went into the middle of a run of equal keys instead of at its end: the writer
  // spent ≈ 40 µs per event instead of ≈ 25 (bench/RESULTS.md, "Fresh timestamps").
  const body = falcoBatches({ fresh: true });
  const sample = body(0);

  // Baseline: JSON.parse of one batch's bytes, one core.
  const buf = Buffer.from(sample);
  let parsed = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    JSON.parse(buf.toString('utf8'));
    parsed++;
  }
  const parseRate = (parsed * BATCH) / ((performance.now() - t0) / 1000);

  // The rules' cost: the same load against a collector with the default rules on and one with them off,
  // alternating, each on a fresh store.
  const rulesOff = path.join(data, 'rules-off.yaml');
  writeFileSync(rulesOff, 'rules: { enabled: false }\n');
  const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const cpu: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (const mode of ['on', 'off', 'on', 'off'] as const) {
    const dir = mkdtempSync(path.join(data, `store-${mode}-`));
    const { events, secs, cpuUsPerEvent, clientUsPerEvent } = await ingestRun(
      dir,
      mode === 'off' ? ['--config', rulesOff] : [],
      body,
    );
    rates[mode].push(events / secs);
    cpu[mode].push(cpuUsPerEvent);
    console.log(
      `ingest, rules ${mode}: ${events} events in ${secs.toFixed(1)} s over HTTP, ${CONCURRENCY} concurrent 400-event batches, server CPU ${cpuUsPerEvent.toFixed(1)} µs/event, sender ${clientUsPerEvent.toFixed(1)} µs/event`,
    );
  }
  const best = (xs: number[]) => Math.max(...xs);
  const rate = best(rates.on);
  console.log(`  ingest (rules on, the default)  ${Math.round(rate).toLocaleString('en')} events/s`);
  console.log(`  ingest (rules off)              ${Math.round(best(rates.off)).toLocaleString('en')} events/s`);
  console.log(`  rules on / rules off: ${(rate / best(rates.off)).toFixed(3)} (target ≥ 0.90)`);
  const least = (xs: number[]) => Math.min(...xs);
  console.log(
    `  server CPU per event (all threads): rules on ${least(cpu.on).toFixed(1)} µs, off ${least(cpu.off).toFixed(1)} µs; ` +
      `JSON.parse alone ${(1e6 / parseRate).toFixed(1)} µs`,
  );
  console.log(
    `  baseline JSON.parse of the same bytes, one core: ${Math.round(parseRate).toLocaleString('en')} events/s`,
  );
  console.log(`  ratio ingest / JSON.parse: ${(rate / parseRate).toFixed(3)}`);
  console.log(`  batch body ${(sample.length / 1024).toFixed(0)} KiB (${Math.round(sample.length / BATCH)} B/event)`);
  rmSync(data, { recursive: true, force: true });
}

/** One timed ingest against a fresh collector: 400-event batches from CONCURRENCY senders. */
async function ingestRun(
  data: string,
  args: string[],
  body: (n: number) => string,
): Promise<{ events: number; secs: number; cpuUsPerEvent: number; clientUsPerEvent: number }> {
  const { child, url } = await startServer(data, args);
  try {
    const cpu0 = cpuMs(child.pid!);
    const client0 = process.cpuUsage();
    let next = 0;
    let events = 0;
    const deadline = performance.now() + INGEST_SECONDS * 1000;
    const start = performance.now();
    const worker = async () => {
      while (performance.now() < deadline && next < INGEST_MAX_BATCHES) {
        const n = next++;
        const res = await fetch(`${url}/audit/webhook/event`, {
          method: 'POST',
          body: body(n),
          headers: { 'content-type': 'application/json' },
        });
        // the default rules leave a few events unarchived (not stored): every event must be accepted, none a duplicate
        const r = (await res.json()) as { accepted: number; duplicates: number };
        if (res.status !== 200 || r.accepted !== BATCH || r.duplicates !== 0)
          throw new Error(`batch ${n}: ${res.status} ${JSON.stringify(r)}`);
        events += BATCH;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const secs = (performance.now() - start) / 1000;
    const client = process.cpuUsage(client0);
    return {
      events,
      secs,
      cpuUsPerEvent: ((cpuMs(child.pid!) - cpu0) * 1000) / events,
      clientUsPerEvent: (client.user + client.system) / events,
    };
  } finally {
    await stopServer(child);
  }
}

const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
const RESOURCES = ['pods', 'deployments', 'services', 'configmaps', 'secrets', 'nodes', 'namespaces', 'events'];
// Within the default 7-day retention, so that the server's retention deletes nothing while the bench runs.
const T_END = Date.now();
const SPAN = 6 * 86_400_000;

function syntheticEvent(i: number): AuditEvent {
  const t = new Date(T_END - Math.floor((i / N) * SPAN)).toISOString().replace('Z', '000Z');
  const ns = `ns-${i % 200}`;
  return {
    level: 'Metadata',
    auditID: `bench-${i}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${ns}/${RESOURCES[i % 8]}/obj-${i % 5000}`,
    verb: VERBS[i % 7]!,
    user: { username: `user-${i % 1000}`, groups: ['system:authenticated', `team-${i % 20}`] },
    sourceIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    userAgent: 'kubectl/v1.30.0 (linux/amd64)',
    objectRef: { resource: RESOURCES[i % 8], namespace: ns, name: `obj-${i % 5000}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: i % 50 === 0 ? 403 : 200 },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    workspace: `ws-${i % 20}`,
    source: 'kubernetes',
  };
}

async function benchQuery(): Promise<void> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-query-'));
  try {
    const store = await openStore({ type: 'sqlite', path: path.join(data, 'vigil.db') });
    const t0 = performance.now();
    for (let i = 0; i < N; i += 5000) {
      const chunk: AuditEvent[] = [];
      for (let j = i; j < Math.min(N, i + 5000); j++) chunk.push(syntheticEvent(j));
      await store.append(chunk);
    }
    await store.close();
    console.log(
      `\nquery: ${N.toLocaleString('en')} events loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const { child, url } = await startServer(data);
    try {
      const cases: [string, (k: number) => string][] = [
        [
          'filtered (user + namespace, exact)',
          (k) => `user_filter=user-${k % 1000}&objectref_namespace_filter=ns-${k % 200}`,
        ],
        [
          'filtered (verb + resource + 7d range)',
          (k) =>
            `verb_filter=${VERBS[k % 7]}&objectref_resource_filter=${RESOURCES[k % 8]}&start_time=${(T_END - SPAN) / 1000}&end_time=${T_END / 1000}`,
        ],
        ['fuzzy (user_search)', (k) => `user_search=er-${100 + (k % 900)}`],
        ['fuzzy (objectref_name_search)', (k) => `objectref_name_search=bj-${1000 + k}`],
        ['free text (q)', (k) => `q=obj-${2000 + k}`],
        ['histogram (1h buckets, all events)', () => 'interval=1h'],
        ['histogram (15m, one user)', (k) => `interval=15m&user_filter=user-${k % 1000}`],
      ];
      console.log('| query | p50 ms | p95 ms | total matched (last) |');
      console.log('| --- | --- | --- | --- |');
      for (const [name, params] of cases) {
        const endpoint = name.startsWith('histogram') ? '/api/v1/events/histogram' : '/api/v1/events';
        const times: number[] = [];
        let total = 0;
        for (let k = 0; k < QUERIES + 5; k++) {
          const t = performance.now();
          const res = await fetch(`${url}${endpoint}?${params(k)}`);
          const body = (await res.json()) as { total: number };
          if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
          if (k >= 5) times.push(performance.now() - t); // the first few warm the caches
          total = body.total;
        }
        times.sort((a, b) => a - b);
        console.log(
          `| ${name} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${total} |`,
        );
      }
    } finally {
      await stopServer(child);
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

if (!process.env.BENCH_SKIP_INGEST) await benchIngest();
if (!process.env.BENCH_SKIP_QUERY) await benchQuery();
