// A real producer process for the fault tests: generates N events at a steady pace through a capture webhook
// sink (batch mode, short retries, on-disk spool), then waits until the spool is empty and closes gracefully.
// Prints one JSON line: how many events it produced and its sink's counters.
// Usage: node producer.ts <url|kubeconfig path> <spoolDir> <n> ['{"perTick":50,"first":0,"maxInFlight":4,"mode":"batch"}']
// In blocking mode a write resolves once its events are delivered or spooled; the producer then prints
// {"acked": <next sequence number>}, so that a test may SIGKILL it and restart it from there.
import { setTimeout as sleep } from 'node:timers/promises';
import { createSink } from '../../src/sinks/create.ts';
import { faultEvent } from './events.ts';

const [target, dir, n, json] = process.argv.slice(2);
const opts = JSON.parse(json ?? '{}') as {
  perTick?: number;
  first?: number;
  maxInFlight?: number;
  mode?: 'batch' | 'blocking';
};
const mode = opts.mode ?? 'batch';
const total = Number(n);
const perTick = opts.perTick ?? 50;
const first = opts.first ?? 0;
const sink = await createSink(
  {
    type: 'webhook',
    // A kubeconfig (as kube-apiserver's --audit-webhook-config-file) when not a URL.
    ...(/^https?:/.test(target!) ? { url: target! } : { kubeconfig: target! }),
    mode,
    batch: {
      maxBatchSize: 100,
      maxWaitMs: 20,
      throttle: false,
      bufferSize: 100_000,
      maxInFlight: opts.maxInFlight ?? 4,
    },
    retry: { initialBackoffMs: 20, factor: 2, maxAttempts: 3, maxRetryAfterMs: 200 },
    timeoutMs: 2000,
    spool: { dir: dir!, maxBytes: 100_000_000, replayBackoffMs: 50, replayMaxBackoffMs: 300, fsync: true },
  },
  { logger: { warn() {}, error() {} } },
);
// The sink holds the process open only while events are in memory; this also keeps it alive while the spool's
// replay runs, and reports, as a JSON line, each time more events went to the spool (tests wait for that).
let spooledSeen = 0;
const keepAlive = setInterval(() => {
  const spooled = sink.metrics.snapshot().spooled;
  if (spooled === spooledSeen) return;
  spooledSeen = spooled;
  process.stdout.write(`${JSON.stringify({ spooled })}\n`);
}, 25);
for (let i = 0; i < total; i += perTick) {
  const k = Math.min(perTick, total - i);
  await sink.write(Array.from({ length: k }, (_, j) => faultEvent(first + i + j)));
  if (mode === 'blocking') process.stdout.write(`${JSON.stringify({ acked: first + i + k })}\n`);
  // Pacing, so that the collector is killed while ingest is going on.
  await sleep(20);
}
await sink.flush();
// Every event is delivered or spooled; wait for the replay to empty the spool before closing.
const deadline = Date.now() + 60_000;
while (sink.metrics.snapshot().spoolBytes > 0 && Date.now() < deadline) await sleep(20);
const s = sink.metrics.snapshot();
await sink.close();
clearInterval(keepAlive);
process.stdout.write(`${JSON.stringify({ produced: total, ...s })}\n`);
