// The PostgreSQL store's signed checkpoints (src/integrity/checkpoint.ts): the chain head and the count of chained
// events, signed and kept in `checkpoints`. Collectors sharing the store write them one at a time (an advisory lock),
// so the numbering has no duplicates.
import type pg from 'pg';
import { type Checkpoint, type CheckpointOptions, checkpointDue, nextCheckpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import { connectTrail, inTransaction, type PostgresTarget } from './trail.ts';

/** Writes a checkpoint over the chain head on a connection of its own; the checkpoint, or undefined. */
export async function writePostgresCheckpoint(
  t: PostgresTarget,
  key: SigningKey,
  o: CheckpointOptions = {},
): Promise<Checkpoint | undefined> {
  const c = await connectTrail(t, 'checkpoint');
  try {
    return await checkpointPostgres(c, t.schema ?? 'vigil', key, o);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Writes a checkpoint on a connection whose search_path is the store's `schema` (no transaction open). */
export async function checkpointPostgres(
  c: pg.ClientBase,
  schema: string,
  key: SigningKey,
  o: CheckpointOptions = {},
): Promise<Checkpoint | undefined> {
  return inTransaction(c, '', async () => {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${schema}:checkpoints`]);
    // The head row changes with the chain in one transaction: its last committed version is a consistent
    // (seq, hash, count) without locking the appends out.
    const head = (
      await c.query<{ seq: string; hash: Buffer; count: string }>('SELECT seq, hash, count FROM chain_head')
    ).rows[0]!;
    const last = (
      await c.query<{ seq: number; last_seq: string; at: string }>(
        'SELECT seq, last_seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1',
      )
    ).rows[0];
    const now = o.now ?? Date.now();
    const seq = Number(head.seq);
    if (!checkpointDue(seq, last && { lastSeq: Number(last.last_seq), at: Number(last.at) }, o, now)) return undefined;
    const cp = nextCheckpoint(last, { seq, hash: head.hash, count: Number(head.count) }, key, now);
    await c.query(
      'INSERT INTO checkpoints (seq, at, last_seq, count, head, signature, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [cp.seq, cp.at, cp.lastSeq, cp.count, cp.head, cp.signature, cp.keyId],
    );
    return cp;
  });
}
