// The hash chain over a store's operations. Every insert, in-place replacement (collapsed CADF stages) and retention
// deletion is one entry of the store's `chain_log`, so that verify can tell legitimate changes from tampering:
//   hash = sha256(prevHash ‖ "vigil-chain/1" ‖ op ‖ seq ‖ eventId ‖ bodyHash), bodyHash = sha256(stored JSON bytes)
// Hashing the body once and chaining the 32-byte digest keeps the chain step small, and lets an export carry
// entries whose bodies were later replaced or deleted.
import { createHash, hash } from 'node:crypto';

/** The first entry of a chain: chaining starts here (a store upgraded from an unchained schema records the id). */
export const OP_GENESIS = 0;
export const OP_INSERT = 1;
/** A stored event replaced in place by a later stage of the same call (collapseStages). */
export const OP_REPLACE = 2;
/** A retention deletion. */
export const OP_DELETE = 3;
/**
 * A retention step that dropped a whole day partition (PostgreSQL): one entry for all of the day's events, so that
 * dropping stays cheap. Its event id field holds the number of chained events dropped and its body hash is
 * `DropDigest` over their ids; its `day` names the day (verify recomputes the set from the chain).
 */
export const OP_DROP = 4;
export const OP_NAMES = ['genesis', 'insert', 'replace', 'delete', 'drop'] as const;

export const ZERO_HASH = Buffer.alloc(32);
export const EMPTY_BODY_HASH = Buffer.alloc(32);
const TAG = Buffer.from('vigil-chain/1');
const DROP_TAG = Buffer.from('vigil-drop/1');

// One-shot hashes (no Hash object per call): the store computes both for every event it appends.
export function bodyHash(body: string): Buffer {
  return hash('sha256', body, 'buffer');
}

/** Microseconds per day: chain entries of the PostgreSQL store name the UTC day (epoch µs / DAY_US) of their event. */
export const DAY_US = 86_400_000_000;

/**
 * The body hash of a drop entry: sha256 over a tag, the day (int32 BE) and the ids of the chained events the day's
 * partition held (int64 BE each, ascending). Fed incrementally, so neither the store nor verify holds the ids.
 */
export class DropDigest {
  readonly #h = createHash('sha256');
  count = 0;
  #last = 0;
  constructor(day: number) {
    const d = Buffer.allocUnsafe(4);
    d.writeInt32BE(day);
    this.#h.update(DROP_TAG).update(d);
  }
  /** Adds the next id; ids must come in ascending order. */
  add(id: number): void {
    if (id <= this.#last) throw new Error(`drop digest: ids must ascend (${id} after ${this.#last})`);
    this.#last = id;
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(id));
    this.#h.update(b);
    this.count++;
  }
  /** Adds `n` ids packed as int64 BE, ascending, all above the ids added before (as PostgreSQL's int8send gives). */
  addPacked(ids: Buffer, n: number): void {
    if (ids.length !== n * 8) throw new Error(`drop digest: ${ids.length} bytes for ${n} ids`);
    if (n === 0) return;
    const first = Number(ids.readBigUInt64BE(0));
    if (first <= this.#last) throw new Error(`drop digest: ids must ascend (${first} after ${this.#last})`);
    this.#last = Number(ids.readBigUInt64BE((n - 1) * 8));
    this.#h.update(ids);
    this.count += n;
  }
  digest(): Buffer {
    return this.#h.digest();
  }
}
/** Writes a safe integer as int64 BE (two 32-bit halves: no BigInt per call). */
function writeU64(b: Buffer, n: number, at: number): void {
  b.writeUInt32BE(Math.floor(n / 2 ** 32), at);
  b.writeUInt32BE(n >>> 0, at + 4);
}

/** One entry of a store's chain, as stored. */
export interface ChainEntry {
  seq: number;
  op: number;
  eventId: number;
  bodyHash: Buffer;
  hash: Buffer;
}

export function chainHash(prev: Uint8Array, op: number, seq: number, eventId: number, body: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(32 + TAG.length + 17 + 32);
  input.set(prev, 0);
  let at = 32 + TAG.copy(input, 32);
  input[at++] = op;
  writeU64(input, seq, at);
  writeU64(input, eventId, at + 8);
  input.set(body, at + 16);
  return hash('sha256', input, 'buffer');
}
