// The PostgreSQL store's side of the hash chain (src/integrity/chain.ts): the chain step that ends every transaction
// changing events (its entries stored as one `chain_blocks` row, see migration 3), and the digest of a day
// partition before retention drops it.
//
// Several collectors write concurrently, so the chain's order is decided by the row lock on `chain_head`, taken by
// the chain step at the very end of the transaction (after the events are written, in the COMMIT's message) and
// released by the commit: writers overlap in everything but the step itself and their commits. (PostgreSQL already
// orders the commits of transactions that NOTIFY, as appends do, under one lock, so the step adds little to what
// was serialized.) Locks are always taken in one order — `events` (by the writes), then `chain_head` — so the step
// cannot deadlock.
import type pg from 'pg';
import { DAY_US, DropDigest, OP_DELETE, OP_DROP, OP_INSERT } from '../../integrity/chain.ts';

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
  const r = await c.query<{ event_id: string }>(
    'SELECT event_ids[1] AS event_id FROM chain_blocks WHERE seq = 1 AND ops[1] = 0',
  );
  return Number(r.rows[0]?.event_id ?? 0);
}

/**
 * The chain step of `ops` as SQL to run in one message with the transaction's COMMIT (undefined when there is
 * nothing to chain): the server then locks the head, chains the entries (the `chain_step` function, migration 3)
 * and commits without a round trip to this process in between, so a busy event loop never holds the lock longer.
 * Body hashes, ids and counts are computed here, before; only what depends on the head is done under the lock.
 * Values are inlined as literals of numbers and hex digits only (a multi-statement message takes no parameters).
 */
export function chainStepSql(ops: ChainOp[], genesis: number): string | undefined {
  if (ops.length === 0) return undefined;
  let delta = 0;
  for (const o of ops)
    if (o.op === OP_INSERT) delta++;
    else if (o.op === OP_DELETE && o.id > genesis) delta--;
    else if (o.op === OP_DROP) delta -= o.id;
  const ints = (xs: number[]) => {
    for (const x of xs) if (!Number.isSafeInteger(x)) throw new Error(`chain step: ${x} is not an integer`);
    return `'{${xs.join(',')}}'`;
  };
  return (
    `SELECT chain_step(${ints(ops.map((o) => o.op))}::smallint[], ${ints(ops.map((o) => o.id))}::bigint[], ` +
    `${ints(ops.map((o) => o.day))}::int[], decode('${Buffer.concat(ops.map((o) => o.bodyHash)).toString('hex')}', 'hex'), ${delta})`
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
