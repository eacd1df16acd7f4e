// Soak: one collector (`vigil serve`, default config: SQLite, the default rules, checkpoints) on a fresh data
// directory holds a steady ingest while its memory is sampled, to show that it stays flat: SOAK_WARMUP_SECONDS
// (default 600) of warm-up, in which the bounded parts reach their working size (SQLite's page caches; the V8 heaps
// of both threads, the writer's last grows ~12 MiB about 8 minutes in at 800 events/s), then SOAK_MINUTES (default
// 10) of steady state, which must be flat. Not a `.bench.ts` (so neither
// `npm run bench` nor CI runs it): `npm run bench:soak`.
//
// Load: 400-event EventLists of Falco's real events with fresh audit IDs and "now" timestamps, paced to a fixed
// SOAK_RATE (events/s, default 800), at most 4 batches in flight (late batches go out at once: the achieved rate
// says whether the collector kept up). Every SOAK_SAMPLE_SECONDS (5): the server's VmRSS/RssAnon/RssFile from
// /proc/<pid>/status and its V8 heap from /metrics. Baseline in the same run: the idle collector before the load.
// Reports per-minute events/s and answer latency p50/p99, memory at the start of steady state and at the end, the
// least-squares slope over the steady state, whether that is flat, and events sent against events stored (counted
// through the API): nothing may be lost.
//   SOAK_MINUTES=2 npm run bench:soak
//   SOAK_CONFIG=vigil.yaml npm run bench:soak     (e.g. another storage.cacheMiB)
// Native memory may climb in steps toward SQLite's page-cache bound while V8's heap stays flat (bench/RESULTS.md,
// "Soak", says why). To see why memory grows: NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 (then
// `kill -USR2 <server pid>`) or --heap-prof reach the server too (it inherits the environment).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BATCH, falcoBatches, percentile, startServer, stopServer } from './collector.ts';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 800);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_SECONDS ?? 5);
const IDLE_S = Number(process.env.SOAK_IDLE_SECONDS ?? 20);
// A vigil.yaml for the collector instead of the default config (its storage path is overridden by the data dir).
const CONFIG = process.env.SOAK_CONFIG;
const WARMUP_S = Number(process.env.SOAK_WARMUP_SECONDS ?? 600);
const IN_FLIGHT = 4;
// Flat: no trend over the steady state, and the end where the steady state sits.
const MAX_SLOPE_MIB_PER_MIN = 1;
const MAX_END_DRIFT = 0.1;

const MiB = 1024 * 1024;

interface Sample {
  /** Seconds since the load started (-1 while idle before it, beyond the load's length after it). */
  t: number;
  rss: number;
  anon: number;
  file: number;
  hwm: number;
  heapUsed: number;
  heapTotal: number;
  /** The SQLite writer thread's V8 heap (total), not in heapTotal. */
  writerHeap: number;
  external: number;
  /** 1-minute load average of the machine. */
  load1: number;
}

/** kB figures of /proc/<pid>/status, in bytes. */
function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** `name value` lines of a Prometheus text page, label sets summed per name (and each as `name{labels}` too). */
async function scrape(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[3]);
    if (m[2]) out[m[1]! + m[2]] = Number(m[3]);
  }
  return out;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

const mib = (b: number) => (b / MiB).toFixed(1);
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<number> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vigil-soak-'));
  const { child, url } = await startServer(data, CONFIG ? ['--config', CONFIG] : []);
  const pid = child.pid!;
  const samples: Sample[] = [];
  let loadStart: number | undefined;
  const takeSample = async () => {
    const t = loadStart === undefined ? -1 : (performance.now() - loadStart) / 1000;
    const st = procStatus(pid);
    const m = await scrape(url);
    samples.push({
      t,
      rss: st.VmRSS!,
      anon: st.RssAnon!,
      file: st.RssFile!,
      hwm: st.VmHWM!,
      heapUsed: m.nodejs_heap_size_used_bytes ?? Number.NaN,
      heapTotal: m.nodejs_heap_size_total_bytes ?? Number.NaN,
      writerHeap: m['vigil_store_writer_heap_bytes{kind="total"}'] ?? 0,
      external: m.nodejs_external_memory_bytes ?? Number.NaN,
      load1: os.loadavg()[0]!,
    });
  };
  let sampling = Promise.resolve();
  const sampler = setInterval(() => {
    sampling = sampling.then(takeSample).catch((err) => console.error('sample failed:', err));
  }, SAMPLE_S * 1000);
  const loadAverages: string[] = [`start ${load()}`];
  try {
    console.log(
      `soak: ${WARMUP_S} s of warm-up then ${MINUTES} min of steady state at ${RATE} events/s (${BATCH}-event batches, ` +
        `≤ ${IN_FLIGHT} in flight), samples every ${SAMPLE_S} s, idle ${IDLE_S} s before; server pid ${pid}, data ${data}${CONFIG ? `, config ${CONFIG}` : ''}`,
    );
    await sleep(IDLE_S * 1000);
    sampling = sampling.then(takeSample); // at least one idle sample, however short the idle time
    await sampling;

    // The load: batch n is due at n × BATCH / RATE seconds.
    const body = falcoBatches({ fresh: true });
    const answers: { t: number; ms: number; inserted: number }[] = [];
    const intervalMs = (BATCH / RATE) * 1000;
    const start = performance.now();
    loadStart = start;
    const loadEnd = start + WARMUP_S * 1000 + MINUTES * 60_000;
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    const send = async (n: number) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/audit/webhook/event`, {
        method: 'POST',
        body: body(n),
        headers: { 'content-type': 'application/json' },
      });
      const r = (await res.json()) as { accepted: number; inserted: number; duplicates: number };
      if (res.status !== 200 || r.accepted !== BATCH || r.duplicates !== 0)
        throw new Error(`batch ${n}: ${res.status} ${JSON.stringify(r)}`);
      const t1 = performance.now();
      answers.push({ t: (t1 - start) / 1000, ms: t1 - t0, inserted: r.inserted });
    };
    let failure: unknown;
    for (let n = 0; ; n++) {
      const due = start + n * intervalMs;
      if (due >= loadEnd || failure) break;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      const p: Promise<void> = send(n)
        .catch((err) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      sent += BATCH;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    const loadSecs = (performance.now() - start) / 1000;
    loadAverages.push(`end ${load()}`);
    // The last samples under load, then a few idle again.
    await sampling;
    await sleep(Math.max(IDLE_S, 2 * SAMPLE_S) * 1000);
    clearInterval(sampler);
    await sampling;

    // Nothing lost: every event sent is stored or was left unarchived by a rule (counted), none twice.
    const total = ((await (await fetch(`${url}/api/v1/events?size=1`)).json()) as { total: number }).total;
    const m = await scrape(url);
    const received = m.vigil_ingest_events_total ?? 0;
    const ignored = m.vigil_rules_ignored_total ?? 0;
    const insertedSum = answers.reduce((a, r) => a + r.inserted, 0);
    const lost = sent - total - ignored;

    // Per minute: the answers that came back in it; the last in-flight answers (after the last full minute) count
    // in the last minute.
    console.log(
      '\n| minute | events/s | answer p50 ms | answer p99 ms | RSS MiB (last sample) | heap used MiB | load average |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    const minutes = Math.max(1, Math.round(loadSecs / 60));
    const minuteOf = (t: number) => Math.min(Math.floor(t / 60), minutes - 1);
    for (let min = 0; min < minutes; min++) {
      const inMin = answers.filter((a) => minuteOf(a.t) === min);
      const secs = min === minutes - 1 ? loadSecs - min * 60 : 60;
      const ms = inMin.map((a) => a.ms).sort((a, b) => a - b);
      const s = samples.filter((x) => x.t >= 0 && x.t <= loadSecs && minuteOf(x.t) === min).at(-1);
      console.log(
        `| ${min + 1} | ${Math.round((inMin.length * BATCH) / secs)} | ${ms.length ? percentile(ms, 50).toFixed(0) : '-'} | ` +
          `${ms.length ? percentile(ms, 99).toFixed(0) : '-'} | ${s ? mib(s.rss) : '-'} | ${s ? mib(s.heapUsed) : '-'} | ` +
          `${s ? s.load1.toFixed(1) : '-'} |`,
      );
    }

    const idle = samples.filter((s) => s.t < 0);
    const during = samples.filter((s) => s.t >= 0 && s.t <= loadSecs);
    const steady = during.filter((s) => s.t >= WARMUP_S);
    const steadyStart = steady.filter((s) => s.t < WARMUP_S + 60);
    const after = samples.filter((s) => s.t > loadSecs);
    const end = during.at(-1)!;
    const fig = (pick: (s: Sample) => number) => ({
      idle: median(idle.map(pick)),
      start: median(steadyStart.map(pick)),
      median: median(steady.map(pick)),
      end: pick(end),
      after: after.length ? pick(after.at(-1)!) : Number.NaN,
      slope: slope(
        steady.map((s) => s.t / 60),
        steady.map((s) => pick(s) / MiB),
      ),
    });
    const rows: [string, ReturnType<typeof fig>][] = [
      ['RSS', fig((s) => s.rss)],
      ['RSS anonymous', fig((s) => s.anon)],
      ['RSS file-backed', fig((s) => s.file)],
      ['V8 heap used', fig((s) => s.heapUsed)],
      ['V8 heap total', fig((s) => s.heapTotal)],
      ['writer thread V8 heap total', fig((s) => s.writerHeap)],
      ['external (buffers)', fig((s) => s.external)],
      // What is neither V8's heaps nor mapped files: SQLite's page caches, malloc'd buffers, allocator slack.
      ['native (RSS anonymous − both V8 heaps)', fig((s) => s.anon - s.heapTotal - s.writerHeap)],
    ];
    console.log(
      '\n| memory MiB | idle before | steady start (1st min) | steady median | end | idle after | slope, steady state, MiB/min |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const [name, f] of rows) {
      console.log(
        `| ${name} | ${mib(f.idle)} | ${mib(f.start)} | ${mib(f.median)} | ${mib(f.end)} | ${mib(f.after)} | ${f.slope.toFixed(2)} |`,
      );
    }
    const rss = rows[0]![1];
    const drift = Math.abs(rss.end - rss.median) / rss.median;
    const flat = rss.slope < MAX_SLOPE_MIB_PER_MIN && drift <= MAX_END_DRIFT;
    console.log(
      `\nRSS steady median / idle ${(rss.median / rss.idle).toFixed(2)}, end / idle ${(rss.end / rss.idle).toFixed(2)}, ` +
        `end / steady start ${(rss.end / rss.start).toFixed(3)}, peak (VmHWM) ${mib(end.hwm)} MiB`,
    );
    console.log(
      `flat: ${flat ? 'yes' : 'NO'} (RSS slope ${rss.slope.toFixed(2)} MiB/min over the steady state, criterion < ${MAX_SLOPE_MIB_PER_MIN}; ` +
        `end ${(drift * 100).toFixed(1)} % from the steady median, criterion ≤ ${MAX_END_DRIFT * 100} %)`,
    );
    console.log(
      `events: sent ${sent}, received ${received}, stored ${total} (API total; answers' inserted ${insertedSum}), ` +
        `left unarchived by the rules ${ignored}, lost ${lost}; achieved ${Math.round(sent / loadSecs)} events/s ` +
        `over ${loadSecs.toFixed(0)} s (target ${RATE}); store ${mib(m.vigil_store_bytes ?? 0)} MiB`,
    );
    console.log(`load average (1/5/15 min): ${loadAverages.join('; ')}`);
    return lost === 0 && received === sent && insertedSum === total && flat ? 0 : 1;
  } finally {
    clearInterval(sampler);
    await stopServer(child);
    rmSync(data, { recursive: true, force: true });
  }
}

process.exitCode = await main();
