// The PostgreSQL hash chain's serialization cost. Appends chain their events at the very end, in the COMMIT's message
// (`chain_step` locks the chain head until the commit), so what several writers newly do one at a time is that
// step. Measured in one run: (1) two stores (two collectors) appending 400-event batches, 4 in flight each — the
// whole append (the baseline) and its final message (chain step + COMMIT); (2) the chain step alone for 400
// entries, run one at a time and rolled back — its server time bounds how many batches per second can be chained;
// (3) verify (`verifyTrail`) over the store, and a retention step dropping the day's partition — the whole step, and how
// long an append sent as soon as the step holds `events` in ACCESS EXCLUSIVE mode waits (the partition's ids are
// digested before that lock and only counted under it) — then verify again.
// `npm run bench cluster` compares ingest against the code before the chain (see bench/RESULTS.md).
// Needs the local PostgreSQL (VIGIL_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { OP_INSERT } from '../src/integrity/chain.ts';
import { keyIdOf, verifyTrail } from '../src/integrity/index.ts';
import { openPostgresStore, readTrail } from '../src/store/index.ts';
import { chainStepSql } from '../src/store/postgres/chain.ts';
import { writePostgresCheckpoint } from '../src/store/postgres/index.ts';
import { podEvent as event } from './collector.ts';

const URL_ = process.env.VIGIL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_EVENTS ?? 40_000);
const BATCH = 400;
const IN_FLIGHT = 4;
const STEPS = 100;

// Timing of the final message by wrapping node-postgres's Client#query (every pooled connection is a Client).
const finals: number[] = [];
const original = pg.Client.prototype.query;
// biome-ignore lint/suspicious/noExplicitAny: wraps an overloaded method
(pg.Client.prototype as any).query = function (this: pg.Client, ...args: any[]) {
  const t0 = performance.now();
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const r = (original as any).apply(this, args);
  if (typeof args[0] === 'string' && args[0].startsWith('SELECT chain_step('))
    r.then(() => finals.push(performance.now() - t0));
  return r;
};

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * (xs.length - 1))]!;

const schema = `vigil_bench_${randomBytes(4).toString('hex')}`;
const stores = [
  await openPostgresStore({ url: URL_, schema, poolSize: IN_FLIGHT + 1 }),
  await openPostgresStore({ url: URL_, schema, poolSize: IN_FLIGHT + 1 }),
];
try {
  const run = randomBytes(3).toString('hex');
  const batches = Array.from({ length: N / BATCH }, (_, k) =>
    Array.from({ length: BATCH }, (_, j) => event(k * BATCH + j, run)),
  );
  await Promise.all(stores.map((s, i) => s.append([event(N + i, run)]))); // warm-up
  finals.length = 0;
  const appendMs: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    stores.flatMap((s) =>
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let k = next++; k < batches.length; k = next++) {
          const a = performance.now();
          await s.append(batches[k]!);
          appendMs.push(performance.now() - a);
        }
      }),
    ),
  );
  const wall = performance.now() - t0;

  // The step alone: 400 entries onto the same head, one at a time, rolled back.
  const c = new pg.Client({ connectionString: URL_, options: `-c search_path=${schema}` });
  await c.connect();
  const ops = Array.from({ length: BATCH }, (_, i) => ({
    op: OP_INSERT,
    id: 10_000_000 + i,
    day: 20_000,
    bodyHash: randomBytes(32),
  }));
  const sql = chainStepSql(ops, 0)!;
  const stepMs: number[] = [];
  for (let i = 0; i < STEPS + 5; i++) {
    await c.query('BEGIN');
    const a = performance.now();
    await c.query(sql);
    if (i >= 5) stepMs.push(performance.now() - a);
    await c.query('ROLLBACK');
  }
  await c.end();

  // Verify, a partition drop, verify again.
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = createPublicKey(privateKey);
  const key = { privateKey, publicKey, keyId: keyIdOf(publicKey) };
  const target = { url: URL_, schema };
  await writePostgresCheckpoint(target, key);
  let v0 = performance.now();
  let report = await readTrail({ type: 'postgres', ...target }, 'verify', (t) => verifyTrail(t, { publicKey }));
  const verifyMs = performance.now() - v0;
  if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.first)}`);
  const verifiedEntries = report.entries;
  const tomorrow = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000;
  v0 = performance.now();
  const step = stores[0]!.deleteBefore(tomorrow, 1);
  const watch = new pg.Client({ connectionString: URL_ });
  await watch.connect();
  for (;;) {
    const r = await watch.query(
      `SELECT 1 FROM pg_locks l JOIN pg_class k ON k.oid = l.relation JOIN pg_namespace n ON n.oid = k.relnamespace
       WHERE n.nspname = $1 AND k.relname = 'events' AND l.mode = 'AccessExclusiveLock' AND l.granted`,
      [schema],
    );
    if (r.rows.length > 0) break;
  }
  await watch.end();
  const w0 = performance.now();
  await stores[1]!.append([event(N + 2, run)]);
  const waitMs = performance.now() - w0;
  const dropped = await step;
  const dropMs = performance.now() - v0;
  await writePostgresCheckpoint(target, key);
  report = await readTrail({ type: 'postgres', ...target }, 'verify', (t) => verifyTrail(t, { publicKey }));
  if (!report.ok) throw new Error(`verify after the drop failed: ${JSON.stringify(report.first)}`);

  const row = (name: string, xs: number[]) =>
    console.log(`| ${name} | ${mean(xs).toFixed(1)} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 95).toFixed(1)} |`);
  console.log(
    `${N} events in ${BATCH}-event batches, 2 stores × ${IN_FLIGHT} appends in flight: ${Math.round(N / (wall / 1000)).toLocaleString('en-US')} events/s`,
  );
  console.log('| ms | mean | p50 | p95 |');
  console.log('| --- | --- | --- | --- |');
  row('whole append (baseline)', appendMs);
  row('its final message: chain step + COMMIT (lock wait included)', finals);
  row(`chain step alone, ${BATCH} entries, one at a time (serialized part)`, stepMs);
  const p50 = pct(stepMs, 50);
  console.log(
    `chain step / append: ${(mean(stepMs) / mean(appendMs)).toFixed(3)}; one chain head chains at most ~${Math.round((1000 / p50) * BATCH).toLocaleString('en-US')} events/s in ${BATCH}-event batches (from the p50)`,
  );
  console.log(
    `verify: ${verifiedEntries} entries, ${Math.round(N / (verifyMs / 1000)).toLocaleString('en-US')} events/s, ${(verifyMs / wall).toFixed(2)}× the ingest time`,
  );
  console.log(
    `retention step dropping the day's partition (${dropped} events; digest, then count + DROP under ACCESS EXCLUSIVE, then the chain cut): ${dropMs.toFixed(0)} ms; an append sent once it held the lock: ${waitMs.toFixed(0)} ms; verify after it: ok`,
  );
} finally {
  await Promise.all(stores.map((s) => s.close()));
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}
