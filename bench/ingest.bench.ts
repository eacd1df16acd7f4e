// The collector end to end. (1) Sustained ingest over HTTP of 400-event Kubernetes EventList batches (the
// kube-apiserver webhook's default batch size) into SQLite, the server in a child process, with the default rules on
// and off; in the same rounds, the floor — JSON.parse of the same bytes and the SQLite writer's bare insert (no
// secondary index) of their events, on one core — and the collector's CPU per event (all threads, from /proc) against
// it. (2) Query latency p50/p95 over BENCH_EVENTS stored events (default 200 000) for filtered, fuzzy and histogram
// queries, over HTTP.
// BENCH_BASELINE=<another checkout> adds that tree's collector (rules on) to each round: a before/after on one machine
// state, which a shared machine does not keep from one run to the next.
//   BENCH_EVENTS=1000000 npm run bench ingest
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../src/event/model.ts';
import { openStore } from '../src/store/index.ts';
import {
  BATCH,
  cpuMs,
  falcoBatches,
  percentile,
  sqliteWriterAlone,
  startServer,
  stopServer,
  threadCpu,
} from './collector.ts';

const INGEST_SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 10);
const INGEST_MAX_BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 2500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 60);
/** Rounds of (collector with rules on, with rules off, floor). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BASELINE = process.env.BENCH_BASELINE;

async function benchIngest(): Promise<void> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-ingest-'));
  // Received "now", as a live kube-apiserver's batches are. With Falco's own 2018 timestamps every batch repeated the
  // same 51 times, so each index entry went into the middle of a run of equal keys instead of at its end: the writer
  // spent ≈ 40 µs per event instead of ≈ 25 (bench/RESULTS.md, "Fresh timestamps").
  const body = falcoBatches({ fresh: true });
  const sample = body(0);

  // The rules' cost: the same load against a collector with the default rules on and one with them off, each on a
  // fresh store; and the floor, in the same rounds: what any collector of these batches must spend per event — the
  // JSON.parse of their bytes and the SQLite writer's bare insert (no secondary index) of their events, on one core
  // in this process.
  const rulesOff = path.join(data, 'rules-off.yaml');
  writeFileSync(rulesOff, 'rules: { enabled: false }\n');
  type Mode = 'on' | 'off' | 'baseline';
  const modes: Mode[] = BASELINE ? ['on', 'off', 'baseline'] : ['on', 'off'];
  const rates: Record<Mode, number[]> = { on: [], off: [], baseline: [] };
  const cpu: Record<Mode, number[]> = { on: [], off: [], baseline: [] };
  const threads: Record<string, number>[] = [];
  const parse: number[] = [];
  const bare: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // the baseline first in odd rounds: neither tree always follows the other
    for (const mode of round % 2 && BASELINE ? (['baseline', 'on', 'off'] as const) : modes) {
      const dir = mkdtempSync(path.join(data, `store-${mode}-`));
      const r = await ingestRun(
        dir,
        mode === 'off' ? ['--config', rulesOff] : [],
        body,
        mode === 'baseline' ? BASELINE : undefined,
      );
      rates[mode].push(r.events / r.secs);
      cpu[mode].push(r.cpuUsPerEvent);
      if (mode === 'on') threads.push(r.threads);
      console.log(
        `ingest, ${mode === 'baseline' ? 'baseline tree, rules on' : `rules ${mode}`}: ${r.events} events in ${r.secs.toFixed(1)} s over HTTP, ${CONCURRENCY} concurrent 400-event batches, server CPU ${r.cpuUsPerEvent.toFixed(1)} µs/event (${Object.entries(
          r.threads,
        )
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ')}), sender ${r.clientUsPerEvent.toFixed(1)} µs/event`,
      );
    }
    parse.push(parseUsPerEvent(body, 1000 * (round + 1)));
    bare.push(await sqliteWriterAlone(body, false, 100_000 * (round + 1)));
    const floor = parse[round]! + bare[round]!;
    ratios.push(cpu.on[round]! / floor);
    console.log(
      `floor: JSON.parse ${parse[round]!.toFixed(1)} µs/event + bare SQLite insert ${bare[round]!.toFixed(1)} µs/event = ${floor.toFixed(1)} µs; collector (rules on) / floor ${ratios[round]!.toFixed(2)}`,
    );
  }
  const best = (xs: number[]) => Math.max(...xs);
  const least = (xs: number[]) => Math.min(...xs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rate = best(rates.on);
  console.log(`  ingest (rules on, the default)  ${Math.round(rate).toLocaleString('en')} events/s`);
  console.log(`  ingest (rules off)              ${Math.round(best(rates.off)).toLocaleString('en')} events/s`);
  console.log(`  rules on / rules off: ${(rate / best(rates.off)).toFixed(3)} (target ≥ 0.90)`);
  const i = cpu.on.indexOf(least(cpu.on));
  console.log(
    `  collector CPU per event (all threads): rules on ${least(cpu.on).toFixed(1)} µs (${Object.entries(threads[i]!)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}), off ${least(cpu.off).toFixed(1)} µs`,
  );
  console.log(
    `  floor per event: JSON.parse of the same bytes ${least(parse).toFixed(1)} µs + the writer's bare insert ${least(bare).toFixed(1)} µs = ${(least(parse) + least(bare)).toFixed(1)} µs`,
  );
  console.log(
    `  collector / floor (rules on, per round): ${ratios.map((r) => r.toFixed(2)).join(', ')}; least ${least(ratios).toFixed(2)}, median ${median(ratios).toFixed(2)} (goal ≤ 2)`,
  );
  if (BASELINE) {
    const pairs = cpu.on.map((x, k) => x / cpu.baseline[k]!);
    console.log(
      `  baseline tree (${BASELINE}), rules on: ${least(cpu.baseline).toFixed(1)} µs/event; this tree / baseline per round ${pairs.map((r) => r.toFixed(3)).join(', ')}; collector / floor ${(least(cpu.baseline) / (least(parse) + least(bare))).toFixed(2)}`,
    );
  }
  console.log(`  ratio ingest events/s / JSON.parse events/s: ${(rate / (1e6 / least(parse))).toFixed(3)}`);
  console.log(`  batch body ${(sample.length / 1024).toFixed(0)} KiB (${Math.round(sample.length / BATCH)} B/event)`);
  rmSync(data, { recursive: true, force: true });
}

/** CPU µs per event of JSON.parse of batches' bytes (Buffer → text → values, as the collector receives them). */
function parseUsPerEvent(body: (n: number) => string, from: number): number {
  const bufs = Array.from({ length: 20 }, (_, k) => Buffer.from(body(from + k)));
  for (const b of bufs) JSON.parse(b.toString('utf8')); // warm-up
  let parsed = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 1500) JSON.parse(bufs[parsed++ % bufs.length]!.toString('utf8'));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (parsed * BATCH);
}

/** One timed ingest against a fresh collector: 400-event batches from CONCURRENCY senders. */
async function ingestRun(
  data: string,
  args: string[],
  body: (n: number) => string,
  root?: string,
): Promise<{
  events: number;
  secs: number;
  cpuUsPerEvent: number;
  clientUsPerEvent: number;
  threads: Record<string, number>;
}> {
  const { child, url } = await startServer(data, args, root);
  try {
    const cpu0 = cpuMs(child.pid!);
    const threads0 = threadCpu(child.pid!);
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
    const threads1 = threadCpu(child.pid!);
    const threads: Record<string, number> = {};
    for (const k of Object.keys(threads1)) threads[k] = ((threads1[k]! - (threads0[k] ?? 0)) * 1000) / events;
    return {
      threads,
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
