// HTTP ingest through two collectors sharing one PostgreSQL schema, against one collector on embedded SQLite,
// measured in the same run: events per second for BENCH_CLUSTER_EVENTS events (default 40 000) posted as
// 400-event Kubernetes EventLists by 4 concurrent senders per collector. Rules off (every event stored).
// Each collector is its own `vigil serve` process (as deployed), so two of them have two CPUs' worth of Node.
// Needs the local PostgreSQL (VIGIL_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { AuditEvent } from '../src/event/model.ts';
import { cpuMs, podEvent, postgresCpuMs } from './collector.ts';

const VIGIL = fileURLToPath(new URL('../bin/vigil.js', import.meta.url));

interface Collector {
  url: string;
  proc: ChildProcess;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** `vigil serve --config file --listen …`, ready once /readyz answers. */
async function collector(config: string, extra: string[] = []): Promise<Collector> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(
    process.execPath,
    [VIGIL, 'serve', '--config', config, '--listen', `127.0.0.1:${port}`, ...extra],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const deadline = Date.now() + 20_000;
  while ((await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('collector did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const c = { url, proc };
  started.push(c);
  return c;
}

const started: Collector[] = [];

async function stop(c: Collector): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  await once(c.proc, 'exit');
}

const URL_ = process.env.VIGIL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_CLUSTER_EVENTS ?? 40_000);
const BATCH = 400;
const SENDERS = 4;

function body(from: number, run: string): string {
  const items: AuditEvent[] = [];
  for (let i = from; i < from + BATCH; i++) items.push(podEvent(i, run));
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
}

/** Where a phase's CPU went, µs per event: the collectors, PostgreSQL's processes, this sender. */
interface CpuShare {
  collectors: number;
  postgres: number;
  sender: number;
}

/** Posts N events spread over the collectors, SENDERS at a time per collector; events per second and CPU. */
async function ingest(servers: Collector[], run: string): Promise<{ rate: number; cpu: CpuShare }> {
  const bodies = Array.from({ length: N / BATCH }, (_, k) => body(k * BATCH, run));
  let next = 0;
  const collectorsMs = () => servers.reduce((sum, s) => sum + cpuMs(s.proc.pid!), 0);
  const c0 = collectorsMs();
  const pg0 = postgresCpuMs();
  const sender0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    servers.flatMap((s) =>
      Array.from({ length: SENDERS }, async () => {
        for (let k = next++; k < bodies.length; k = next++) {
          const r = await fetch(`${s.url}/audit/webhook/event`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: bodies[k],
          });
          if (r.status !== 200) throw new Error(`ingest answered ${r.status}: ${await r.text()}`);
        }
      }),
    ),
  );
  const rate = N / ((performance.now() - t0) / 1000);
  const sender = process.cpuUsage(sender0);
  const cpu = {
    collectors: ((collectorsMs() - c0) * 1000) / N,
    postgres: ((postgresCpuMs() - pg0) * 1000) / N,
    sender: (sender.user + sender.system) / N,
  };
  return { rate, cpu };
}

const share = (c: CpuShare) =>
  `CPU per event: collectors ${c.collectors.toFixed(1)} µs, PostgreSQL ${c.postgres.toFixed(1)} µs, sender ${c.sender.toFixed(1)} µs`;

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-'));
const schema = `vigil_bench_${randomBytes(4).toString('hex')}`;
try {
  const sqliteYaml = join(dir, 'sqlite.yaml');
  writeFileSync(sqliteYaml, 'rules: { enabled: false }\n');
  const sqlite = await collector(sqliteYaml, ['--data', join(dir, 'data')]);
  const { rate: baseline, cpu: baseCpu } = await ingest([sqlite], 's');
  await stop(sqlite);

  const pgYaml = join(dir, 'pg.yaml');
  writeFileSync(pgYaml, `rules: { enabled: false }\nstorage: { type: postgres, url: "${URL_}", schema: ${schema} }\n`);
  const one = await collector(pgYaml);
  const { rate: single, cpu: singleCpu } = await ingest([one], 'p1');
  const two = await collector(pgYaml);
  const { rate: pair, cpu: pairCpu } = await ingest([one, two], 'p2');
  await Promise.all([stop(one), stop(two)]);

  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')} events/s`;
  console.log(`HTTP ingest, ${N} events in ${BATCH}-event batches, ${SENDERS} senders per collector`);
  console.log(`  one collector, SQLite (baseline):      ${fmt(baseline)}`);
  console.log(`    ${share(baseCpu)}`);
  console.log(`  one collector, PostgreSQL:             ${fmt(single)}  (${(single / baseline).toFixed(2)}× SQLite)`);
  console.log(`    ${share(singleCpu)}`);
  console.log(
    `  two collectors, one PostgreSQL schema: ${fmt(pair)}  (${(pair / baseline).toFixed(2)}× SQLite, ${(pair / single).toFixed(2)}× one PostgreSQL collector)`,
  );
  console.log(`    ${share(pairCpu)}`);
} finally {
  await Promise.all(started.map(stop));
  rmSync(dir, { recursive: true, force: true });
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}
