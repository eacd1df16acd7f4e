// Signed checkpoints: at an interval and after each retention step the collector signs the chain head, so that a
// rewritten chain (every hash recomputed) no longer passes through the signed heads. Without the private key nobody
// can make a checkpoint; the public key alone verifies them (offline too, see export.ts).
import { type KeyObject, sign, verify as verifySignature } from 'node:crypto';
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

export interface CheckpointOptions {
  /** Epoch ms of the checkpoint (default now). */
  now?: number;
  /** Write one even when the chain has not grown since the last checkpoint. */
  force?: boolean;
  /** Skip a forced one all the same when the last checkpoint covers the head and is younger than this (ms). */
  freshMs?: number;
}

/**
 * Whether to write a checkpoint over a chain whose last entry is `headSeq`, `last` being the newest one written:
 * without `force` not when the chain has not grown since; with `freshMs`, a forced one is skipped too when the last
 * checkpoint covers the head and is younger (several collectors of one store share one cadence).
 */
export function checkpointDue(
  headSeq: number,
  last: { lastSeq: number; at: number } | undefined,
  o: CheckpointOptions,
  now: number,
): boolean {
  if (!last || last.lastSeq !== headSeq) return true;
  return o.force === true && !(o.freshMs !== undefined && last.at > now - o.freshMs);
}

/** The checkpoint following `last` (numbered on from it) over the chain's head, signed with `key`. */
export function nextCheckpoint(
  last: { seq: number } | undefined,
  head: { seq: number; hash: Uint8Array; count: number },
  key: SigningKey,
  now: number,
): Checkpoint {
  return signCheckpoint(
    {
      seq: (last?.seq ?? 0) + 1,
      at: now,
      lastSeq: head.seq,
      count: head.count,
      head: Buffer.from(head.hash),
      keyId: key.keyId,
    },
    key,
  );
}

/**
 * What signs checkpoints over a store's chain: the Store contract (src/store/types.ts) extends it, and each store
 * writes them in its own tables, deciding with checkpointDue and signing with nextCheckpoint.
 */
export interface CheckpointTarget {
  /**
   * Signs the hash chain's head and count with `key`; see checkpointDue for when nothing is written. Returns the
   * checkpoint written, or undefined.
   */
  checkpoint(key: SigningKey, o?: { force?: boolean; freshMs?: number }): Promise<Checkpoint | undefined>;
}

export interface Checkpointer {
  /** Resolves once the checkpoint at start is written (or failed, reported through onError). */
  ready: Promise<void>;
  /** Writes a checkpoint now (after a retention step), errors reported through onError; resolves when written. */
  now(): Promise<void>;
  /** Stops the timer and writes a last checkpoint (resolves once it is written or failed). */
  stop(): Promise<void>;
}

/**
 * Writes a checkpoint at start and every `intervalMs`, also when nothing was stored (as CloudTrail's hourly digests: a steady
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
  const ready = run(true); // at start: a signature as fresh as the collector, whatever the store's past
  const timer = setInterval(() => run(true), intervalMs);
  timer.unref();
  return {
    ready,
    now: () => run(false),
    async stop() {
      clearInterval(timer);
      void run(false); // the last events before shutdown are covered too
      await Promise.all(inFlight);
    },
  };
}

/** A checkpoint as a JSON line of an export or of the checkpoint log (hex hashes, base64 signature). */
export function checkpointJson(c: Checkpoint): Record<string, unknown> {
  return {
    type: 'checkpoint',
    seq: c.seq,
    at: c.at,
    lastSeq: c.lastSeq,
    count: c.count,
    head: c.head.toString('hex'),
    signature: c.signature.toString('base64'),
    keyId: c.keyId,
  };
}

/** The checkpoint of a parsed JSON line (checkpointJson's form); throws naming `where` when a field is malformed. */
export function parseCheckpointJson(p: Record<string, unknown>, where: string): Checkpoint {
  const int = (k: string): number => {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${where}: ${k} is not a number`);
    return v;
  };
  if (typeof p.head !== 'string' || !/^[0-9a-f]{64}$/.test(p.head))
    throw new Error(`${where}: head is not 64 hex digits`);
  if (typeof p.signature !== 'string') throw new Error(`${where}: signature is not base64`);
  return {
    seq: int('seq'),
    at: int('at'),
    lastSeq: int('lastSeq'),
    count: int('count'),
    head: Buffer.from(p.head, 'hex'),
    signature: Buffer.from(p.signature, 'base64'),
    keyId: String(p.keyId),
  };
}
