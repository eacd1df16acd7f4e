// Capture middleware overhead: a hello-world Fastify server, bare and with Vigil's capture plugin (level
// Metadata, RequestReceived omitted, events appended as JSON lines to a file by src/sinks' log sink in
// kube-apiserver's default blocking mode), the peer a Fastify user already runs (Fastify's own request logging: pino
// to a file), plus one with a no-op sink (the middleware alone), each in its own child process,
// loaded in turn by autocannon with the same connections and duration (bare, audited, bare, audited).
// Prints the audited/bare throughput ratio and the added p99 latency. Target: ratio ≥ 0.95, added p99 ≤ 5 %.
//   npm run bench capture            (BENCH_SECONDS=10 per run by default)
// Then the same servers at a fixed rate, a share of the bare server's saturated rate (BENCH_RATE_SHARE, default
// 0.5): latency when neither server is saturated, as a production API server mostly runs.
// BENCH_BASELINE=<another checkout> adds that tree's audited server to the same run (before/after on one
// machine state, which a shared machine does not keep from one run to the next).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { createCapture } from '../src/capture/index.ts';
import { createPolicyEvaluator, loadPolicy } from '../src/policy/index.ts';
import { type BuiltSink, createSink } from '../src/sinks/index.ts';
import { cpuMs } from './collector.ts';

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  non2xx: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
  /** Requests per second across all connections (open loop below saturation). */
  overallRate?: number;
}) => Promise<CannonResult>;

const POLICY = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

// pino: the peer a Fastify user already runs — Fastify's own request logging (pino, "incoming request" and "request
// completed" per request) to a file, Vigil off.
type Mode = 'bare' | 'audited' | 'pino' | 'noop-sink' | 'baseline';
const BASELINE = process.env.BENCH_BASELINE;
const MODES: Mode[] = BASELINE
  ? ['bare', 'audited', 'pino', 'noop-sink', 'baseline']
  : ['bare', 'audited', 'pino', 'noop-sink'];

async function serve(mode: Mode, logFile: string): Promise<void> {
  const app = mode === 'pino' ? Fastify({ logger: { level: 'info', file: `${logFile}.pino` } }) : Fastify();
  let sink: BuiltSink | undefined;
  if (mode !== 'bare' && mode !== 'pino') {
    // src/sinks' log sink writing Kubernetes JSON lines in kube-apiserver's default log mode (blocking): lines
    // written while a file write is in flight go out together in the next one (group commit), and nothing is
    // dropped — a buffered sink starved of CPU by a saturated server would overflow instead.
    sink = mode === 'audited' ? await createSink({ type: 'log', path: logFile }) : undefined;
    const capture = createCapture({
      policy: createPolicyEvaluator(loadPolicy(POLICY)),
      // noop-sink: the middleware's own cost, without serialising or writing the events.
      sink: sink ?? { write: () => Promise.resolve() },
    });
    await app.register(capture.fastify());
  }
  app.get('/hello', async () => ({ hello: 'world' }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${address}\n`);
  process.once('SIGTERM', () => {
    app
      .close()
      .then(() => sink?.close())
      .then(() => process.exit(0));
  });
}

function startServer(mode: Mode, logFile: string): Promise<{ child: ChildProcess; url: string }> {
  // The baseline is the other checkout's own audited server, writing its own log.
  const args =
    mode === 'baseline'
      ? [join(BASELINE!, 'bench', 'capture.bench.ts'), 'server', 'audited', `${logFile}.baseline`]
      : [fileURLToPath(import.meta.url), 'server', mode, logFile];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ child, url: `${line}/hello` });
    });
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
  // Pipelining lets one autocannon process saturate the server on a 2-core machine, so that the server's own
  // cost per request decides throughput (without it the load generator is the bottleneck and every ratio is 1).
  const connections = 50;
  const pipelining = 10;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-capture-bench-'));
  const logFile = join(dir, 'audit.jsonl');
  const servers = {} as Record<Mode, { child: ChildProcess; url: string }>;
  for (const m of MODES) servers[m] = await startServer(m, logFile);
  const runs = Object.fromEntries(MODES.map((m) => [m, []])) as unknown as Record<Mode, CannonResult[]>;
  const paced = Object.fromEntries(MODES.map((m) => [m, []])) as unknown as Record<Mode, CannonResult[]>;
  const share = Number(process.env.BENCH_RATE_SHARE ?? 0.5);
  let rate = 0;
  // CPU time per request of each server process: robust to other load on the machine, unlike req/s.
  const cpu = {} as Record<Mode, { ms: number; requests: number }>;
  for (const m of MODES) cpu[m] = { ms: 0, requests: 0 };
  try {
    // Warm every server up (JIT, connection setup) before measuring.
    for (const m of MODES) await autocannon({ url: servers[m].url, connections, pipelining, duration: 2 });
    for (let round = 0; round < rounds; round++) {
      for (const m of MODES) {
        const pid = servers[m].child.pid!;
        const before = cpuMs(pid);
        const r = await autocannon({ url: servers[m].url, connections, pipelining, duration: seconds });
        cpu[m].ms += cpuMs(pid) - before;
        cpu[m].requests += r.requests.total;
        if (r.errors || r.non2xx) throw new Error(`${m}: ${r.errors} errors, ${r.non2xx} non-2xx`);
        runs[m].push(r);
        console.log(
          `${m.padEnd(9)} round ${round + 1}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
        );
      }
    }
    const bare = runs.bare.map((r) => r.requests.average);
    rate = Math.round((share * bare.reduce((a, b) => a + b, 0)) / bare.length);
    for (let round = 0; round < rounds; round++) {
      for (const m of MODES) {
        const r = await autocannon({ url: servers[m].url, connections, overallRate: rate, duration: seconds });
        if (r.errors || r.non2xx) throw new Error(`${m}: ${r.errors} errors, ${r.non2xx} non-2xx`);
        paced[m].push(r);
        console.log(
          `${m.padEnd(9)} at ${rate} req/s, round ${round + 1}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
        );
      }
    }
  } finally {
    for (const m of MODES) {
      servers[m].child.removeAllListeners('exit');
      servers[m].child.kill('SIGTERM');
    }
    await Promise.all(MODES.map((m) => new Promise((r) => servers[m].child.once('exit', r))));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rps = (m: Mode) => mean(runs[m].map((r) => r.requests.average));
  const p99 = (m: Mode) => mean(runs[m].map((r) => r.latency.p99));
  const us = (m: Mode) => (cpu[m].ms * 1000) / cpu[m].requests;
  // the log and its rotated backups (the sink rotates at 100 MB)
  const size = readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  console.log(
    `\nconnections ${connections}, pipelining ${pipelining}, ${seconds} s per run, ${rounds} rounds; audit log ${(size / 1e6).toFixed(1)} MB`,
  );
  for (const m of MODES) {
    console.log(
      `${m.padEnd(9)}: ${Math.round(rps(m))} req/s, p99 ${p99(m).toFixed(1)} ms, server CPU ${us(m).toFixed(1)} µs/request`,
    );
  }
  const vs = (m: Mode) =>
    `throughput ratio ${(rps(m) / rps('bare')).toFixed(3)}, added CPU ${(us(m) - us('bare')).toFixed(1)} µs/request`;
  console.log(`\nthe peer: Vigil audited ${vs('audited')}; Fastify's request logging (pino to a file) ${vs('pino')}`);
  console.log(
    `Vigil ahead of the peer: ${us('audited') < us('pino') ? 'yes' : 'NO'} (CPU per request ${us('audited').toFixed(1)} against ${us('pino').toFixed(1)} µs)`,
  );
  for (const m of MODES.filter((m) => m !== 'bare')) {
    const ratio = rps(m) / rps('bare');
    const added = (p99(m) - p99('bare')) / p99('bare');
    console.log(
      `${m} vs bare: throughput ratio ${ratio.toFixed(3)} (target ≥ 0.95 ${ratio >= 0.95 ? 'met' : 'MISSED'}), ` +
        `added p99 ${(added * 100).toFixed(1)} % (target ≤ 5 % ${added <= 0.05 ? 'met' : 'MISSED'}), ` +
        `added CPU ${(us(m) - us('bare')).toFixed(1)} µs/request (CPU ratio bare/${m} ${(us('bare') / us(m)).toFixed(3)})`,
    );
  }
  const pacedP99 = (m: Mode) => mean(paced[m].map((r) => r.latency.p99));
  const pacedAvg = (m: Mode) => mean(paced[m].map((r) => r.latency.average));
  console.log(`\nat a fixed ${rate} req/s (${share} of bare's saturated rate), ${connections} connections:`);
  for (const m of MODES) {
    console.log(
      `${m.padEnd(9)}: ${Math.round(mean(paced[m].map((r) => r.requests.average)))} req/s, latency mean ${pacedAvg(m).toFixed(2)} ms, p99 ${pacedP99(m).toFixed(1)} ms`,
    );
  }
  for (const m of MODES.filter((m) => m !== 'bare')) {
    const added = (pacedP99(m) - pacedP99('bare')) / pacedP99('bare');
    console.log(
      `${m} vs bare at a fixed rate: added p99 ${(added * 100).toFixed(1)} %, added mean latency ${((pacedAvg(m) - pacedAvg('bare')) * 1000).toFixed(0)} µs`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'server') await serve(process.argv[3] as Mode, process.argv[4]);
else await main();
