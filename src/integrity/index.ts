// Tamper evidence: the hash chain every store write extends, signed checkpoints, verification and offline export.
// Pure: each store keeps the chain and checkpoints in its own tables and reads them back for verify and export
// through TrailReader (./trail.ts); nothing here knows a store's SQL.
export { bodyHash, chainHash, DropDigest, OP_DELETE, OP_DROP, OP_GENESIS, OP_INSERT, OP_REPLACE } from './chain.ts';
export {
  type Checkpoint,
  type Checkpointer,
  type CheckpointTarget,
  checkpointMessage,
  startCheckpoints,
} from './checkpoint.ts';
export { exportTrail, verifyExport } from './export.ts';
export {
  createSigningKey,
  defaultKeyPath,
  keyIdOf,
  loadSigningKey,
  parsePublicKey,
  publicKeyPath,
  type SigningKey,
} from './keys.ts';
export { appendCheckpointLog, parseCheckpointLog } from './log.ts';
export type { TrailReader } from './trail.ts';
export { type Break, type BreakKind, type VerifyReport, verifyTrail } from './verify.ts';
