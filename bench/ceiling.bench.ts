// What HTTP ingest costs this machine per event, part by part, and the most events per second that allows: the
// ceiling against which the issues' ingest targets (50 000 events/s on this 2-core machine, SQLite and PostgreSQL)
// are read. Measured in one run:
//  (1) the collector under the ingest bench's load (`vigil serve`, default rules, 4 senders of 400-event Falco
//      EventLists): CPU per event of each of its threads, from /proc, and of the sender;
//  (2) one core, in this process: the SQLite writer alone, with its full schema and without the ten secondary
//      (value, received) indexes of `events` (what is left: row, body, idempotency key, hash chain, list values);
//  (3) PostgreSQL's own processes per appended event (the same events through the store), full schema and without
//      secondary indexes (filter btrees, GINs, the search dictionary's), when the local server answers
//      (VIGIL_BENCH_PG_URL).
// Ceiling = cores × 1 s / CPU per event: what the parts allow with every core busy and nothing waiting.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../src/store/index.ts';
import {
  BATCH,
  decodedBatches,
  falcoBatches,
  postgresCpuMs,
  sqliteWriterAlone,
  startServer,
  stopServer,
  threadCpu,
} from './collector.ts';

const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 8);
const CORES = os.availableParallelism();
const TARGET = 50_000;
const PG_URL = process.env.VIGIL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const body = falcoBatches({ fresh: true });
const us = (x: number) => `${x.toFixed(1)} µs`;
const ceiling = (usPerEvent: number) => Math.round((CORES * 1e6) / usPerEvent);
const fmt = (n: number) => n.toLocaleString('en-US');

async function collectorUnderLoad(): Promise<number> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-ceiling-'));
  const { child, url } = await startServer(data);
  try {
    // a second of warm-up, then the measured load
    for (const seconds of [1, SECONDS]) {
      let next = 0;
      let events = 0;
      const before = threadCpu(child.pid!);
      const sender0 = process.cpuUsage();
      const t0 = performance.now();
      const deadline = t0 + seconds * 1000;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (performance.now() < deadline) {
            const res = await fetch(`${url}/audit/webhook/event`, {
              method: 'POST',
              body: body(next++),
              headers: { 'content-type': 'application/json' },
            });
            if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
            await res.arrayBuffer();
            events += BATCH;
          }
        }),
      );
      if (seconds !== SECONDS) continue;
      const wall = (performance.now() - t0) / 1000;
      const after = threadCpu(child.pid!);
      const s = process.cpuUsage(sender0);
      const parts: [string, number][] = Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]);
      parts.push(['sender (this process)', (s.user + s.system) / 1000]);
      const total = parts.reduce((sum, [, ms]) => sum + ms, 0);
      console.log(`(1) HTTP ingest into SQLite, default rules: ${fmt(Math.round(events / wall))} events/s`);
      for (const [k, ms] of parts) console.log(`    ${k.padEnd(24)} ${us((ms * 1000) / events)} per event`);
      const perEvent = (total * 1000) / events;
      console.log(
        `    all                      ${us(perEvent)} per event: ${((total / 1000 / wall / CORES) * 100).toFixed(0)} % of ${CORES} cores; ceiling ${fmt(ceiling(perEvent))} events/s`,
      );
      return perEvent;
    }
    return Number.NaN;
  } finally {
    await stopServer(child);
    rmSync(data, { recursive: true, force: true });
  }
}

/** PostgreSQL's processes per event appended through the store, 4 appends in flight. */
async function postgres(secondary: boolean): Promise<number> {
  const schema = `vigil_bench_ceiling_${process.pid}_${secondary ? 'full' : 'bare'}`;
  const store = await openPostgresStore({ url: PG_URL, schema });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    if (!secondary) {
      const { rows } = await admin.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events'
           AND indexname NOT IN ('events_received', 'events_id', 'events_key')`,
        [schema],
      );
      for (const r of rows) await admin.query(`DROP INDEX "${schema}"."${r.indexname}"`);
      // and the search dictionary's trigram index (its primary key stays: appends add values ON CONFLICT)
      await admin.query(`DROP INDEX "${schema}".terms_search`);
    }
    const all = decodedBatches(body, 150, secondary ? 30_000 : 40_000);
    await store.append(all[0]!);
    const p0 = postgresCpuMs();
    let next = 1;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let k = next++; k < all.length; k = next++) await store.append(all[k]!);
      }),
    );
    return ((postgresCpuMs() - p0) * 1000) / ((all.length - 1) * BATCH);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

console.log(`${CORES} cores; target ${fmt(TARGET)} events/s = ${us((CORES * 1e6) / TARGET)} of CPU per event at most`);
const perEvent = await collectorUnderLoad();
const full = await sqliteWriterAlone(body, true, 10_000);
const bare = await sqliteWriterAlone(body, false, 20_000);
console.log(`(2) SQLite writer alone, one core: ${us(full)} per event; without the secondary indexes ${us(bare)}`);
console.log(
  `    the collector at ${us(perEvent)} with the writer's secondary indexes free: ${us(perEvent - full + bare)} per event, ceiling ${fmt(ceiling(perEvent - full + bare))} events/s`,
);
let pgReachable = true;
try {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  await c.connect();
  await c.end();
} catch {
  pgReachable = false;
  console.log(`(3) PostgreSQL at ${PG_URL} not reachable: skipped`);
}
if (pgReachable) {
  const pgFull = await postgres(true);
  const pgBare = await postgres(false);
  console.log(
    `(3) PostgreSQL's processes per appended event: ${us(pgFull)}; without secondary indexes ${us(pgBare)} (the collectors' own CPU comes on top)`,
  );
}
