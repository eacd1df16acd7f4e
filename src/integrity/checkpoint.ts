// Signed checkpoints: at an interval and after each retention step the collector signs the chain head, so that a
// rewritten chain (every hash recomputed) no longer passes through the signed heads. Without the private key nobody
// can make a checkpoint; the public key alone verifies them (offline too, see export.ts).
import { type KeyObject, sign, verify as verifySignature } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { EVENTS_STORED_SQL } from '../store/sqlite/schema.ts';
import type { SigningKey } from './keys.ts';

export interface Checkpoint {
  seq: number;
  /** Epoch ms. */
  at: number;
  /** The chain entry whose hash is `head`. */
  lastSeq: number;
  /** Chained events stored at that point (inserts minus retention deletions of chained events). */
  count: number;
  head: Buffer;
  signature: Buffer;
  keyId: string;
}

/** The signed bytes: every field but the signature, in a fixed text form. */
export function checkpointMessage(c: Omit<Checkpoint, 'signature'>): Buffer {
  return Buffer.from(
    `vigil-checkpoint/1\n${c.seq}\n${c.at}\n${c.lastSeq}\n${c.count}\n${c.head.toString('hex')}\n${c.keyId}\n`,
  );
}

export function checkpointSignatureValid(c: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verifySignature(null, checkpointMessage(c), publicKey, c.signature);
  } catch {
    return false;
  }
}

/** Signs the fields of a checkpoint. */
export function signCheckpoint(unsigned: Omit<Checkpoint, 'signature'>, key: SigningKey): Checkpoint {
  return { ...unsigned, signature: sign(null, checkpointMessage(unsigned), key.privateKey) };
}

/** The last checkpoint before chain entry `seq` whose signature `publicKey` verifies: where a partial walk starts. */
export function checkpointBefore(checkpoints: Checkpoint[], seq: number, publicKey: KeyObject): Checkpoint | undefined {
  for (let i = checkpoints.length - 1; i >= 0; i--) {
    const c = checkpoints[i]!;
    if (c.lastSeq < seq && checkpointSignatureValid(c, publicKey)) return c;
  }
  return undefined;
}

export function rowToCheckpoint(r: Record<string, unknown>): Checkpoint {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    lastSeq: Number(r.last_seq),
    count: Number(r.count),
    head: Buffer.from(r.head as Uint8Array),
    signature: Buffer.from(r.signature as Uint8Array),
    keyId: String(r.key_id),
  };
}

/**
 * Writes a checkpoint over the SQLite store at `dbPath` on a short connection of its own (the CLI; a running
 * collector writes them on its store's write connection, `Store.checkpoint`). With `force` false nothing is written
 * when the chain has not grown since the last checkpoint. Returns the checkpoint written, or undefined.
 */
export function writeCheckpoint(
  dbPath: string,
  key: SigningKey,
  o: { now?: number; force?: boolean } = {},
): Checkpoint | undefined {
  const db = new DatabaseSync(dbPath, { timeout: 5000 });
  try {
    return checkpointOn(db, key, o, dbPath);
  } finally {
    db.close();
  }
}

/** `writeCheckpoint` on an open connection to the store (no transaction open on it). */
export function checkpointOn(
  db: DatabaseSync,
  key: SigningKey,
  o: { now?: number; force?: boolean } = {},
  name = 'the store',
): Checkpoint | undefined {
  db.exec('BEGIN IMMEDIATE');
  try {
    const head = db.prepare('SELECT seq, event_id, hash FROM chain_log ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; hash: Uint8Array }
      | undefined;
    if (!head) throw new Error(`${name}: the store has no hash chain (open it with this Vigil first)`);
    const last = db.prepare('SELECT seq, last_seq FROM checkpoints ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; last_seq: number }
      | undefined;
    if (last && last.last_seq === head.seq && !o.force) {
      db.exec('COMMIT');
      return undefined;
    }
    const c = signCheckpoint(
      {
        seq: (last?.seq ?? 0) + 1,
        at: o.now ?? Date.now(),
        lastSeq: head.seq,
        count: chainedCount(db),
        head: Buffer.from(head.hash),
        keyId: key.keyId,
      },
      key,
    );
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

export interface Checkpointer {
  /** Writes a checkpoint now (after a retention step), errors reported through onError; resolves when written. */
  now(): Promise<void>;
  /** Stops the timer and writes a last checkpoint (resolves once it is written or failed). */
  stop(): Promise<void>;
}

/**
 * Writes a checkpoint every `intervalMs`, also when nothing was stored (as CloudTrail's hourly digests: a steady
 * cadence of numbered checkpoints makes "nothing happened" provable and a removed checkpoint a gap), and whenever
 * `now()` is called (after a retention step, when the chain grew). `write(force)` writes one for the store (force:
 * even if the chain has not grown); its errors go to `onError`.
 */
export function startCheckpoints(
  write: (force: boolean) => Promise<unknown>,
  intervalMs: number,
  onError: (err: unknown) => void,
): Checkpointer {
  const inFlight = new Set<Promise<void>>();
  const run = (force: boolean): Promise<void> => {
    const p: Promise<void> = Promise.resolve()
      .then(() => write(force))
      .then(() => {}, onError)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };
  const timer = setInterval(() => run(true), intervalMs);
  timer.unref();
  return {
    now: () => run(false),
    async stop() {
      clearInterval(timer);
      void run(false); // the last events before shutdown are covered too
      await Promise.all(inFlight);
    },
  };
}
