// The SQLite store's signed checkpoints (src/integrity/checkpoint.ts): the chain head and the count of chained
// events, signed and kept in `checkpoints`. A running collector writes them on its store's write connection
// (SqliteStore.checkpoint); `vigil export` on a short connection of its own (writeSqliteCheckpoint).
import { DatabaseSync } from 'node:sqlite';
import { type Checkpoint, type CheckpointOptions, checkpointDue, nextCheckpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import { EVENTS_STORED_SQL } from './schema.ts';

/** Writes a checkpoint over the store at `dbPath` on a connection of its own; the checkpoint, or undefined. */
export function writeSqliteCheckpoint(
  dbPath: string,
  key: SigningKey,
  o: CheckpointOptions = {},
): Checkpoint | undefined {
  const db = new DatabaseSync(dbPath, { timeout: 5000 });
  try {
    return checkpointOn(db, key, o, dbPath);
  } finally {
    db.close();
  }
}

/** Writes a checkpoint on an open connection to the store (no transaction open on it). */
export function checkpointOn(
  db: DatabaseSync,
  key: SigningKey,
  o: CheckpointOptions = {},
  name = 'the store',
): Checkpoint | undefined {
  db.exec('BEGIN IMMEDIATE');
  try {
    const head = db.prepare('SELECT seq, hash FROM chain_log ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; hash: Uint8Array }
      | undefined;
    if (!head) throw new Error(`${name}: the store has no hash chain (open it with this Vigil first)`);
    const last = db.prepare('SELECT seq, last_seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; last_seq: number; at: number }
      | undefined;
    const now = o.now ?? Date.now();
    if (!checkpointDue(head.seq, last && { lastSeq: last.last_seq, at: last.at }, o, now)) {
      db.exec('COMMIT');
      return undefined;
    }
    const c = nextCheckpoint(last, { seq: head.seq, hash: head.hash, count: chainedCount(db) }, key, now);
    db.prepare(
      'INSERT INTO checkpoints (seq, at, last_seq, count, head, signature, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(c.seq, c.at, c.lastSeq, c.count, c.head, c.signature, c.keyId);
    db.exec('COMMIT');
    return c;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/**
 * The chained events stored: all events (the per-minute counts the writer keeps in each transaction, so no scan of
 * the store: counting event_bodies read every page of it through the page cache) less those stored before the
 * chain began (a store upgraded to the chain; a range count on ids that retention only shrinks).
 */
function chainedCount(db: DatabaseSync): number {
  const all = (db.prepare(EVENTS_STORED_SQL).get() as { n: number }).n;
  const genesis = db.prepare('SELECT event_id FROM chain_log WHERE seq = 1 AND op = 0').get() as
    | { event_id: number }
    | undefined;
  if (!genesis?.event_id) return all;
  return all - (db.prepare('SELECT count(*) AS n FROM events WHERE id <= ?').get(genesis.event_id) as { n: number }).n;
}
