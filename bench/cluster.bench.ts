// HTTP ingest through two collectors sharing one PostgreSQL schema, against one collector on embedded SQLite,
// measured in the same run: events per second for BENCH_CLUSTER_EVENTS events (default 40 000) posted as
// 400-event Kubernetes EventLists by 4 concurrent senders per collector. Rules off (every event stored).
// Needs the local PostgreSQL (VIGIL_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../src/config/index.ts';
import { type RunningServer, startServer } from '../src/server/serve.ts';

const URL_ = process.env.VIGIL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_CLUSTER_EVENTS ?? 40_000);
const BATCH = 400;
const SENDERS = 4;

function body(from: number, run: string): string {
  const items = [];
  for (let i = from; i < from + BATCH; i++) {
    const ts = new Date(Date.now() - (i % 3_600) * 1000).toISOString();
    items.push({
      level: 'Metadata',
      auditID: `${run}-${i}`,
      stage: 'ResponseComplete',
      requestURI: `/api/v1/namespaces/ns-${i % 200}/pods/p${i}`,
      verb: ['get', 'list', 'create', 'update', 'delete'][i % 5],
      user: { username: `user-${i % 500}`, groups: ['system:authenticated'] },
      sourceIPs: ['10.0.0.1'],
      objectRef: { resource: 'pods', namespace: `ns-${i % 200}`, name: `p${i}`, apiVersion: 'v1' },
      responseStatus: { code: 200 },
      requestReceivedTimestamp: ts,
      stageTimestamp: ts,
    });
  }
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
}

/** Posts N events spread over the collectors, SENDERS at a time per collector; returns events per second. */
async function ingest(servers: RunningServer[], run: string): Promise<number> {
  const bodies = Array.from({ length: N / BATCH }, (_, k) => body(k * BATCH, run));
  let next = 0;
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
  return N / ((performance.now() - t0) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cluster-'));
const schema = `vigil_bench_${randomBytes(4).toString('hex')}`;
try {
  const sqlite = await startServer(
    parseConfig('rules: { enabled: false }\n', 'bench.yaml', { listen: '127.0.0.1:0', data: dir }),
    { logger: false },
  );
  const baseline = await ingest([sqlite], 's');
  await sqlite.close();

  const pgYaml = `rules: { enabled: false }\nstorage: { type: postgres, url: "${URL_}", schema: ${schema} }\n`;
  const one = await startServer(parseConfig(pgYaml, 'bench.yaml', { listen: '127.0.0.1:0' }), { logger: false });
  const single = await ingest([one], 'p1');
  const two = await startServer(parseConfig(pgYaml, 'bench.yaml', { listen: '127.0.0.1:0' }), { logger: false });
  const pair = await ingest([one, two], 'p2');
  await Promise.all([one.close(), two.close()]);

  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')} events/s`;
  console.log(`HTTP ingest, ${N} events in ${BATCH}-event batches, ${SENDERS} senders per collector`);
  console.log(`  one collector, SQLite (baseline):      ${fmt(baseline)}`);
  console.log(`  one collector, PostgreSQL:             ${fmt(single)}  (${(single / baseline).toFixed(2)}× SQLite)`);
  console.log(
    `  two collectors, one PostgreSQL schema: ${fmt(pair)}  (${(pair / baseline).toFixed(2)}× SQLite, ${(pair / single).toFixed(2)}× one PostgreSQL collector)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}
