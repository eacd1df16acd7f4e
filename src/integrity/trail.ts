// What verify and export read of a store, and where their walk starts. Each store implements TrailReader over its own
// tables (src/store/sqlite/trail.ts, src/store/postgres/trail.ts), from one snapshot; verify.ts and export.ts do the
// rest the same way for every store.
import type { KeyObject } from 'node:crypto';
import { type ChainEntry, OP_GENESIS, ZERO_HASH } from './chain.ts';
import { type Checkpoint, checkpointBefore, checkpointSignatureValid } from './checkpoint.ts';

/** A chain entry as a store reads it back; `day` where the store keeps it (PostgreSQL: of the event, or dropped). */
export interface TrailEntry extends ChainEntry {
  day?: number;
}

/** The latest chain entry of one event, with what the store holds of that event. */
export interface LatestEntry {
  id: number;
  seq: number;
  op: number;
  day?: number;
  bodyHash: Buffer;
  /** The stored JSON, null where the store holds none (or the entry deletes the event). */
  body: string | null;
  /** Whether the rest of the event's record is stored (SQLite's `events` row; where the body is all, as `body`). */
  row: boolean;
}

export interface TrailReader {
  /** The store, as messages name it: its file, or its schema. */
  readonly name: string;
  /** Every checkpoint, in seq order. */
  checkpoints(): Promise<Checkpoint[]>;
  /** The chain's first entry (seq 1), undefined where it is gone. */
  first(): Promise<{ op: number; eventId: number } | undefined>;
  /** The last entry retention cut from the chain's start (a signed checkpoint then stands in for it); 0: none. */
  cutAt(checkpoints: Checkpoint[]): Promise<number>;
  /**
   * For a walk from `receivedUs` on: the first event received then (Number.MAX_SAFE_INTEGER: none) and the chain
   * entry the walk must start before.
   */
  since(receivedUs: number): Promise<{ firstId: number; fromSeq: number }>;
  /**
   * The chain entries after `afterSeq` in order, a page at a time; `unreadable` hears of stored entries it cannot
   * read back (from entry `seq` on: a tampered block), which the walk then finds missing.
   */
  entries(afterSeq: number, unreadable: (seq: number, detail: string) => void): AsyncIterable<TrailEntry[]>;
  /** The latest chain entry of each event from id `minId` on (genesis entries aside), in id order. */
  latest(minId: number): AsyncIterable<LatestEntry[]>;
  /** Stored events from id `minId` on that no chain entry vouches for, at most `limit`, in id order. */
  strays(minId: number, limit: number): Promise<number[]>;
  /** Events stored with ids up to `genesisId`: before the chain began, so not verifiable. */
  unchained(genesisId: number): Promise<number>;
  /** The chain entries after `afterSeq`, each event's latest one with its stored JSON (for export). */
  exported(afterSeq: number): AsyncIterable<(TrailEntry & { body?: string })[]>;
}

export interface TrailOptions {
  publicKey: KeyObject;
  /** Epoch ms: from the last checkpoint before the first event received then. */
  since?: number;
  /**
   * How long chain entries may wait for a signature (the checkpoint interval and a grace, see maxUnsignedAge): an
   * unsigned tail older than that is a failure, as a checkpoint that should cover it was removed. Unset: not checked.
   */
  maxUnsignedMs?: number;
  /** Epoch ms the tail's age is measured at (default now). */
  now?: number;
  /** Checkpoints kept outside the store (integrity.checkpointLog): the chain must pass through each of them. */
  external?: { source: string; checkpoints: Checkpoint[] };
}

/** Where a walk starts: the chain before its first entry walked (the hash and live-event count), and the genesis. */
export interface Anchor {
  seq: number;
  hash: Buffer;
  count: number;
  genesisId: number;
  /** Epoch ms the anchor was signed (a checkpoint's `at`), undefined for the genesis. */
  at?: number;
}

export interface TrailStart {
  checkpoints: Checkpoint[];
  first: { op: number; eventId: number } | undefined;
  genesisId: number;
  anchor: Anchor;
  /** The anchor stands in for a prefix retention cut (some drops' events may have gone with it). */
  pruned: boolean;
  /** First event id concerned (0: all). */
  firstId: number;
}

/**
 * Checkpoints, genesis and where to start: the genesis; where retention cut the chain's prefix, the signed checkpoint
 * it was cut at; with `since`, the last signed checkpoint before the first event from then on, if later.
 */
export async function trailStart(r: TrailReader, o: TrailOptions): Promise<TrailStart> {
  const checkpoints = await r.checkpoints();
  const first = await r.first();
  const genesisId = first?.op === OP_GENESIS ? first.eventId : 0;
  let anchor: Anchor = { seq: 0, hash: ZERO_HASH, count: 0, genesisId: 0 };
  const cutAt = await r.cutAt(checkpoints);
  const cut =
    cutAt > 0 ? checkpoints.find((c) => c.lastSeq === cutAt && checkpointSignatureValid(c, o.publicKey)) : undefined;
  if (cut) anchor = { seq: cut.lastSeq, hash: cut.head, count: cut.count, genesisId, at: cut.at };
  let firstId = 0;
  if (o.since !== undefined) {
    const s = await r.since(Math.ceil(o.since) * 1000);
    firstId = s.firstId;
    const cp = checkpointBefore(checkpoints, s.fromSeq, o.publicKey);
    if (cp && cp.lastSeq > anchor.seq)
      anchor = { seq: cp.lastSeq, hash: cp.head, count: cp.count, genesisId, at: cp.at };
  }
  return { checkpoints, first, genesisId, anchor, pruned: cut !== undefined, firstId };
}
