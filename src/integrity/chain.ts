// The hash chain over a store's operations. Every insert, in-place replacement (collapsed CADF stages) and retention
// deletion is one entry of the store's `chain_log`, so that verify can tell legitimate changes from tampering:
//   hash = sha256(prevHash ‖ "vigil-chain/1" ‖ op ‖ seq ‖ eventId ‖ bodyHash), bodyHash = sha256(stored JSON bytes)
// Hashing the body once and chaining the 32-byte digest keeps the chain step small, and lets an export carry
// entries whose bodies were later replaced or deleted.
import { createHash } from 'node:crypto';

/** The first entry of a chain: chaining starts here (a store upgraded from an unchained schema records the id). */
export const OP_GENESIS = 0;
export const OP_INSERT = 1;
/** A stored event replaced in place by a later stage of the same call (collapseStages). */
export const OP_REPLACE = 2;
/** A retention deletion. */
export const OP_DELETE = 3;
export const OP_NAMES = ['genesis', 'insert', 'replace', 'delete'] as const;

export const ZERO_HASH = Buffer.alloc(32);
export const EMPTY_BODY_HASH = Buffer.alloc(32);
const TAG = Buffer.from('vigil-chain/1');

export function bodyHash(body: string): Buffer {
  return createHash('sha256').update(body).digest();
}

export function chainHash(prev: Uint8Array, op: number, seq: number, eventId: number, body: Uint8Array): Buffer {
  const fixed = Buffer.allocUnsafe(17);
  fixed.writeUInt8(op, 0);
  fixed.writeBigUInt64BE(BigInt(seq), 1);
  fixed.writeBigUInt64BE(BigInt(eventId), 9);
  return createHash('sha256').update(prev).update(TAG).update(fixed).update(body).digest();
}
