// The PostgreSQL store's side of the hash chain (src/integrity/chain.ts): the chain step that ends every transaction
// changing events, and the digest of a day partition before retention drops it.
//
// Several collectors write concurrently, so the chain's order is decided by the row lock on `chain_head`, taken by
// the chain step at the very end of the transaction (after the events are written, just before COMMIT) and released
// by the commit: writers overlap in everything but the step itself and their commits. (PostgreSQL already orders the
// commits of transactions that NOTIFY, as appends do, under one lock, so the step adds little to what was serialized.)
// Locks are always taken in one order — `events` (by the writes), then `chain_head` — so the step cannot deadlock.
import type pg from 'pg';
import { chainHash, DAY_US, DropDigest, OP_DELETE, OP_DROP, OP_INSERT } from '../../integrity/chain.ts';

export interface ChainOp {
  op: number;
  /** The event's id; for a drop, the number of chained events dropped. */
  id: number;
  /** UTC day of the event's received time (of the partition, for a drop). */
  day: number;
  bodyHash: Buffer;
}

export function dayOf(receivedUs: number): number {
  return Math.floor(receivedUs / DAY_US);
}

/** The chain's first entry: events with ids up to its event id were stored before the chain existed. */
export async function genesisId(c: pg.ClientBase | pg.Pool): Promise<number> {
  const r = await c.query<{ event_id: string }>('SELECT event_id FROM chain_log WHERE seq = 1 AND op = 0');
  return Number(r.rows[0]?.event_id ?? 0);
}

/** Appends `ops` to the chain inside the caller's transaction; the head stays locked until it commits. */
export async function chainStep(c: pg.ClientBase, ops: ChainOp[], genesis: number): Promise<void> {
  if (ops.length === 0) return;
  const h = (
    await c.query<{ seq: string; hash: Buffer; count: string }>('SELECT seq, hash, count FROM chain_head FOR UPDATE')
  ).rows[0];
  if (!h) throw new Error('the store has no chain head (schema not migrated to version 3)');
  let seq = Number(h.seq);
  let prev: Buffer = h.hash;
  let count = Number(h.count);
  const seqs: number[] = [];
  const opNos: number[] = [];
  const ids: number[] = [];
  const days: number[] = [];
  const bodies: Buffer[] = [];
  const hashes: Buffer[] = [];
  for (const o of ops) {
    seq++;
    prev = chainHash(prev, o.op, seq, o.id, o.bodyHash);
    if (o.op === OP_INSERT) count++;
    else if (o.op === OP_DELETE && o.id > genesis) count--;
    else if (o.op === OP_DROP) count -= o.id;
    seqs.push(seq);
    opNos.push(o.op);
    ids.push(o.id);
    days.push(o.day);
    bodies.push(o.bodyHash);
    hashes.push(prev);
  }
  await c.query(
    `WITH ins AS (
       INSERT INTO chain_log (seq, op, event_id, day, body_hash, hash)
       SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::int[], $5::bytea[], $6::bytea[]))
     UPDATE chain_head SET seq = $7, hash = $8, count = $9`,
    [seqs, opNos, ids, days, bodies, hashes, seq, prev, count],
  );
}

/** Ids read per round trip while digesting a partition (as one packed bytea: no per-row parsing). */
const DIGEST_PAGE = 100_000;

/**
 * The drop entry of the day partition `table` (the caller holds it locked against writes): the digest of its
 * chained events' ids, and how many events it holds in all (unchained ones of an upgraded schema included).
 */
export async function dropOp(
  c: pg.ClientBase,
  table: string,
  day: number,
  genesis: number,
): Promise<{ op: ChainOp; events: number }> {
  const digest = new DropDigest(day);
  let after = genesis;
  for (;;) {
    const r = await c.query<{ n: string; last: string | null; ids: Buffer | null }>(
      `SELECT count(*) AS n, max(id) AS last, string_agg(int8send(id), ''::bytea ORDER BY id) AS ids
       FROM (SELECT id FROM ${table} WHERE id > $1 ORDER BY id LIMIT ${DIGEST_PAGE}) s`,
      [after],
    );
    const row = r.rows[0]!;
    const n = Number(row.n);
    if (n > 0) digest.addPacked(row.ids!, n);
    if (n < DIGEST_PAGE) break;
    after = Number(row.last);
  }
  const unchained =
    genesis > 0
      ? Number(
          (await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE id <= $1`, [genesis])).rows[0]!.n,
        )
      : 0;
  return {
    op: { op: OP_DROP, id: digest.count, day, bodyHash: digest.digest() },
    events: digest.count + unchained,
  };
}
