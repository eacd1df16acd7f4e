// The PostgreSQL store's day partitions and retention: partitions are created ahead of time (rows that arrived in the
// DEFAULT partition move into theirs), and a retention step drops whole days before the cutoff, deletes the boundary
// day row by row, and cuts the chain's prefix and the dictionary values no event holds any more.
import type pg from 'pg';
import { DAY_US, EMPTY_BODY_HASH, OP_DELETE } from '../../integrity/chain.ts';
import { MAX_STORED_MICROS, QueryError } from '../semantics.ts';
import { type ChainOp, chainStepSql, cutChain, type DropRead, dayOf, dropOp, dropStillHolds } from './chain.ts';
import type { Db } from './pool.ts';
import { PRUNE_TERMS_SQL } from './terms.ts';

const MINUTE_US = 60_000_000;

/** Partition of one UTC day: `events_p20260301` holds received ∈ [day start, next day start). */
export function partitionName(dayStartUs: number): string {
  return `events_p${new Date(dayStartUs / 1000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function partitionStart(name: string): number | undefined {
  const m = /^events_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) * 1000 : undefined;
}

/** Partitions for yesterday … today+ahead exist (moving any of their rows out of the DEFAULT partition). */
export async function ensurePartitions(db: Db, ahead: number, now = Date.now()): Promise<void> {
  const today = Math.floor(now / 86_400_000) * 86_400_000 * 1000;
  await createPartitions(db, today - DAY_US, today + ahead * DAY_US);
}

/** Creates the daily partitions covering [fromUs, toUs] that do not exist yet. */
export async function createPartitions(db: Db, fromUs: number, toUs: number): Promise<void> {
  const first = Math.floor(fromUs / DAY_US) * DAY_US;
  const existing = new Set(await partitionStarts(db.pool, db.schema));
  for (let day = first; day <= toUs; day += DAY_US) {
    if (existing.has(day)) continue;
    await db.tx(async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${db.schema}:partitions`]);
      const name = partitionName(day);
      if ((await c.query('SELECT to_regclass($1) AS r', [name])).rows[0].r) return; // another collector made it
      // Build it detached, move the day's rows from DEFAULT into it, then attach: attaching a range that DEFAULT
      // still holds rows of would fail.
      await c.query(
        `CREATE TABLE ${name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION)
         WITH (toast_tuple_target = 256)`,
      );
      await c.query(
        `WITH moved AS (DELETE FROM events_default WHERE received >= $1 AND received < $2 RETURNING *)
         INSERT INTO ${name} SELECT * FROM moved`,
        [day, day + DAY_US],
      );
      await c.query(`ALTER TABLE events ATTACH PARTITION ${name} FOR VALUES FROM (${day}) TO (${day + DAY_US})`);
    });
  }
}

async function partitionStarts(client: pg.ClientBase | pg.Pool, schema: string): Promise<number[]> {
  const r = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relname = 'events' AND n.nspname = $1`,
    [schema],
  );
  return r.rows.map((x) => partitionStart(x.relname)).filter((x) => x !== undefined);
}

/**
 * One retention step. Daily partitions entirely before the cutoff are dropped whole (their events are counted,
 * so the step may return more than `limit`: dropping costs the same for any number of events); then at most
 * `limit` events of the boundary day (or the DEFAULT partition) are deleted row by row, and old delivery ids
 * age out. Then the hash chain's prefix is cut at a signed checkpoint (`cutChain`).
 */
const MAX_CUTOFF_MS = Math.floor(MAX_STORED_MICROS / 1000);

export async function deleteBefore(db: Db, genesis: number, at: number, limit: number): Promise<number> {
  if (!Number.isFinite(at)) throw new QueryError(`cutoff must be epoch milliseconds, not ${at}`);
  if (!Number.isInteger(limit) || limit <= 0) throw new QueryError(`limit must be a positive integer, not ${limit}`);
  // Within the bigint columns' exact range: a cutoff centuries back (a long retention) is "before everything".
  const cutoff = Math.min(Math.max(Math.ceil(at), -MAX_CUTOFF_MS), MAX_CUTOFF_MS);
  const cutoffUs = cutoff * 1000;
  const deleted = await db.tx(async (c, atCommit) => {
    await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${db.schema}:partitions`]);
    let deleted = 0;
    const chain: ChainOp[] = [];
    const old = (await partitionStarts(c, db.schema))
      .filter((start) => start + DAY_US <= cutoffUs)
      .sort((x, y) => x - y);
    // The drop's chain entry vouches for the ids the partition holds: nothing may be written to it between reading
    // them and dropping it. The ids are read and hashed first, under no lock that stops anyone (plain reads), and
    // only confirmed under ACCESS EXCLUSIVE (which DROP takes anyway): appends and queries wait for a count, not
    // the digest. (A lock that blocks the partition's writers while reading, upgraded later, could deadlock with an
    // append of a late event: it holds `events` while it waits to write the partition.)
    const reads = new Map<number, DropRead>();
    for (const start of old) reads.set(start, await dropOp(c, partitionName(start), dayOf(start), genesis));
    if (old.length > 0) await c.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
    for (const start of old) {
      const name = partitionName(start);
      let drop = reads.get(start)!;
      // late events written to it since: read again, now that nothing can change it
      if (!(await dropStillHolds(c, name, drop, genesis))) drop = await dropOp(c, name, dayOf(start), genesis);
      deleted += drop.events;
      chain.push(drop.op);
      await c.query(`DROP TABLE ${name}`);
      await c.query('DELETE FROM event_minutes WHERE minute >= $1 AND minute < $2', [
        start / MINUTE_US,
        (start + DAY_US) / MINUTE_US,
      ]);
    }
    const rows = await c.query<{ id: string; received: string }>(
      `WITH victims AS (SELECT id, received FROM events WHERE received < $1 ORDER BY received LIMIT $2),
       d AS (DELETE FROM events e USING victims v WHERE e.id = v.id AND e.received = v.received
             RETURNING e.id, e.received),
       -- subtracted in shard 0, rows in key order as appends take them (no deadlock); reads sum the shards
       u AS (INSERT INTO event_minutes AS m (minute, shard, n)
             SELECT div(received, ${MINUTE_US}), 0, -count(*) FROM d GROUP BY 1 ORDER BY 1
             ON CONFLICT (minute, shard) DO UPDATE SET n = m.n + EXCLUDED.n)
       SELECT id, received FROM d ORDER BY id`,
      [cutoffUs, limit],
    );
    deleted += rows.rows.length;
    for (const r of rows.rows)
      chain.push({ op: OP_DELETE, id: Number(r.id), day: dayOf(Number(r.received)), bodyHash: EMPTY_BODY_HASH });
    // Delivery ids are only needed while their sender may still retry; they age out with the events.
    await c.query(
      'DELETE FROM batches WHERE key IN (SELECT key FROM batches WHERE stored < $1 ORDER BY stored LIMIT $2)',
      [cutoff, limit],
    );
    const step = chainStepSql(chain, genesis);
    if (step) atCommit(step);
    return deleted;
  });
  // the chain's prefix no stored event needs any more goes too, in a transaction of its own: no lock on `events`
  if (deleted > 0) await db.tx((c) => cutChain(c, `${db.schema}:chain-cut`, genesis, 4 * (deleted + limit)));
  await db.read(PRUNE_TERMS_SQL, [cutoff - 86_400_000, limit]);
  return deleted;
}
