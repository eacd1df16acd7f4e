// Capture middleware overhead: a hello-world Fastify server, bare and with Vigil's capture plugin (level
// Metadata, RequestReceived omitted, events appended as JSON lines to a file), each in its own child process,
// loaded in turn by autocannon with the same connections and duration (bare, audited, bare, audited).
// Prints the audited/bare throughput ratio and the added p99 latency. Target: ratio ≥ 0.95, added p99 ≤ 5 %.
//   npm run bench capture            (BENCH_SECONDS=10 per run by default)
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { createAuditor, type Sink } from '../src/capture/index.ts';
import type { AuditEvent } from '../src/event/model.ts';
import { createPolicyEvaluator, loadPolicy } from '../src/policy/index.ts';

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
}) => Promise<CannonResult>;

/** A minimal asynchronous JSON-lines file appender (one file write per event-loop turn), standing in for src/sinks' log sink. */
class FileAppender implements Sink {
  readonly #out;
  #lines = '';
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#out.write(this.#lines);
    this.#lines = '';
  };
  constructor(file: string) {
    this.#out = createWriteStream(file, { flags: 'a' });
  }
  write(events: AuditEvent[]): Promise<void> {
    for (const e of events) this.#lines += `${JSON.stringify(e)}\n`;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return Promise.resolve();
  }
  close(): Promise<void> {
    if (this.#scheduled) this.#flush();
    return new Promise((resolve) => this.#out.end(resolve));
  }
}

const POLICY = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

async function serve(mode: 'bare' | 'audited', logFile: string): Promise<void> {
  const app = Fastify();
  let sink: FileAppender | undefined;
  if (mode === 'audited') {
    sink = new FileAppender(logFile);
    const capture = createAuditor({ policy: createPolicyEvaluator(loadPolicy(POLICY)), sink });
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

function startServer(mode: string, logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'server', mode, logFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
  // Pipelining lets one autocannon process saturate the server on a 2-core machine, so that the server's own
  // cost per request decides throughput (without it the load generator is the bottleneck and every ratio is 1).
  const connections = 50;
  const pipelining = 10;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-capture-bench-'));
  const logFile = join(dir, 'audit.jsonl');
  const bare = await startServer('bare', logFile);
  const audited = await startServer('audited', logFile);
  const runs: Record<'bare' | 'audited', CannonResult[]> = { bare: [], audited: [] };
  try {
    // Warm both up (JIT, connection setup) before measuring.
    await autocannon({ url: bare.url, connections, pipelining, duration: 2 });
    await autocannon({ url: audited.url, connections, pipelining, duration: 2 });
    for (let round = 0; round < 2; round++) {
      for (const [name, server] of [
        ['bare', bare],
        ['audited', audited],
      ] as const) {
        const r = await autocannon({ url: server.url, connections, pipelining, duration: seconds });
        if (r.errors || r.non2xx) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
        runs[name].push(r);
        console.log(
          `${name.padEnd(8)} round ${round + 1}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
        );
      }
    }
  } finally {
    for (const s of [bare, audited]) {
      s.child.removeAllListeners('exit');
      s.child.kill('SIGTERM');
    }
    await Promise.all([bare, audited].map((s) => new Promise((r) => s.child.once('exit', r))));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rps = (n: 'bare' | 'audited') => mean(runs[n].map((r) => r.requests.average));
  const p99 = (n: 'bare' | 'audited') => mean(runs[n].map((r) => r.latency.p99));
  const lines = statSync(logFile).size;
  const ratio = rps('audited') / rps('bare');
  const added = (p99('audited') - p99('bare')) / p99('bare');
  console.log(`\nconnections ${connections}, pipelining ${pipelining}, ${seconds} s per run, 2 rounds; audit log ${(lines / 1e6).toFixed(1)} MB`);
  console.log(`throughput: bare ${Math.round(rps('bare'))} req/s, audited ${Math.round(rps('audited'))} req/s`);
  console.log(`ratio audited/bare: ${ratio.toFixed(3)} (target ≥ 0.95) ${ratio >= 0.95 ? 'met' : 'MISSED'}`);
  console.log(
    `p99: bare ${p99('bare').toFixed(2)} ms, audited ${p99('audited').toFixed(2)} ms, added ${(added * 100).toFixed(1)} % (target ≤ 5 %) ${added <= 0.05 ? 'met' : 'MISSED'}`,
  );
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'server') await serve(process.argv[3] as 'bare' | 'audited', process.argv[4]);
else await main();
