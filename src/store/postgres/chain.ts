// The PostgreSQL store's side of the hash chain (src/integrity/chain.ts): the chain step that ends every transaction
// changing events (its entries stored as one `chain_blocks` row, see migration 3), the digest of a day partition
// before retention drops it, and the cut of the chain's prefix after retention.
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

/** A drop entry as read, with what tells whether the partition changed since (`dropStillHolds`). */
export interface DropRead {
  op: ChainOp;
  /** Events the partition holds in all (unchained ones of an upgraded schema included). */
  events: number;
  /** Sum of the chained events' ids. */
  idSum: bigint;
}

/**
 * The drop entry of the day partition `table`: the digest of its chained events' ids, and how many events it holds
 * in all. Read page by page (each page its own snapshot): unless the caller holds the partition locked against
 * writes, `dropStillHolds` must confirm it under that lock.
 */
export async function dropOp(c: pg.ClientBase, table: string, day: number, genesis: number): Promise<DropRead> {
  const digest = new DropDigest(day);
  let idSum = 0n;
  let after = genesis;
  for (;;) {
    const r = await c.query<{ n: string; last: string | null; sum: string | null; ids: Buffer | null }>(
      `SELECT count(*) AS n, max(id) AS last, sum(id) AS sum, string_agg(int8send(id), ''::bytea ORDER BY id) AS ids
       FROM (SELECT id FROM ${table} WHERE id > $1 ORDER BY id LIMIT ${DIGEST_PAGE}) s`,
      [after],
    );
    const row = r.rows[0]!;
    const n = Number(row.n);
    if (n > 0) {
      digest.addPacked(row.ids!, n);
      idSum += BigInt(row.sum!);
    }
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
    idSum,
  };
}

/**
 * Whether `table` still holds what `read` digested (the caller now holds it locked against writes): the same
 * number of events, of chained ones and their ids' sum. Between the read and the lock only appends of late events
 * (new rows: a higher count) and collapses (same ids) can reach an old day's partition — retention, the only
 * delete, runs one at a time — so this one aggregate, about a third of the digest's cost, tells.
 */
export async function dropStillHolds(
  c: pg.ClientBase,
  table: string,
  read: DropRead,
  genesis: number,
): Promise<boolean> {
  const r = (
    await c.query<{ n: string; chained: string; sum: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE id > $1) AS chained,
         coalesce(sum(id) FILTER (WHERE id > $1), 0) AS sum FROM ${table}`,
      [genesis],
    )
  ).rows[0]!;
  return Number(r.n) === read.events && Number(r.chained) === read.op.id && BigInt(r.sum) === read.idSum;
}

/**
 * Retention of the chain, as the SQLite store's (`#pruneChain` in src/store/sqlite/writer.ts): once every event an
 * entry concerns is gone, the entry only links the chain, and a signed checkpoint can stand in for the prefix up to
 * it. Run in its own transaction after a retention step; returns the entry the chain was cut after, if it was.
 *
 * The cut is the newest checkpoint before the first block holding the insert of a stored event. Several writers
 * chain their inserts in commit order, not id order, so that block is found by scanning from the chain's start for
 * an insert of an id at least the oldest stored one (a deleted event of a higher id only keeps a little more).
 * Checkpoints sign the head a commit left, always the end of a block, so whole blocks go. The genesis block (seq 1)
 * stays: it names the last unchained id, which verify needs for the events and deletes of an upgraded schema. At
 * most about `budget` entries are examined (or up to the first checkpoint beyond them), so a long chain is cut over
 * several steps. Appends only add after the head and retention only removes events, so what is read here can only
 * grow safer before the delete; collectors cutting at once skip each other (an advisory lock).
 */
export async function cutChain(
  c: pg.ClientBase,
  lock: string,
  genesis: number,
  budget: number,
): Promise<number | undefined> {
  if (!(await c.query('SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok', [lock])).rows[0].ok)
    return undefined;
  const at = (
    await c.query<{ first: string | null; head: string; oldest: string | null }>(
      `SELECT (SELECT min(seq) FROM chain_blocks WHERE seq > 1) AS first, (SELECT seq FROM chain_head) AS head,
         (SELECT min(id) FROM events WHERE id > $1) AS oldest`,
      [genesis],
    )
  ).rows[0]!;
  if (at.first === null) return undefined;
  const first = Number(at.first);
  // the head block stays (as SQLite keeps its head entry): verify finds the cut as the gap before the first block
  const target = (
    await c.query<{ s: string | null }>(
      `SELECT coalesce(
         (SELECT max(last_seq) FROM checkpoints WHERE last_seq >= $1 AND last_seq < $2 AND last_seq < $3),
         (SELECT min(last_seq) FROM checkpoints WHERE last_seq >= $1 AND last_seq < $3)) AS s`,
      [first, first + budget, Number(at.head)],
    )
  ).rows[0]!.s;
  if (target === null) return undefined;
  let cut = Number(target);
  if (at.oldest !== null) {
    const needed = (
      await c.query<{ seq: string }>(
        `SELECT b.seq FROM chain_blocks b
         WHERE b.seq >= $1 AND b.seq <= $2 AND $3 <= ANY(b.event_ids)
           AND EXISTS (SELECT 1 FROM unnest(b.ops, b.event_ids) AS u(op, id) WHERE u.op = ${OP_INSERT} AND u.id >= $3)
         ORDER BY b.seq LIMIT 1`,
        [first, cut, at.oldest],
      )
    ).rows[0];
    if (needed) {
      const s = (
        await c.query<{ s: string | null }>(
          'SELECT max(last_seq) AS s FROM checkpoints WHERE last_seq >= $1 AND last_seq < $2',
          [first, needed.seq],
        )
      ).rows[0]!.s;
      if (s === null) return undefined;
      cut = Number(s);
    }
  }
  await c.query('DELETE FROM chain_blocks WHERE seq > 1 AND seq <= $1 AND seq + cardinality(ops) - 1 <= $1', [cut]);
  return cut;
}
