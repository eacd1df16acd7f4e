// Tamper evidence: the hash chain every store write extends, signed checkpoints, verification and offline export.
export { bodyHash, chainHash, DropDigest, OP_DELETE, OP_DROP, OP_GENESIS, OP_INSERT, OP_REPLACE } from './chain.ts';
export {
  type Checkpoint,
  type Checkpointer,
  checkpointMessage,
  startCheckpoints,
  writeCheckpoint,
} from './checkpoint.ts';
export { exportSqlite, verifyExport } from './export.ts';
export {
  createSigningKey,
  defaultKeyPath,
  keyIdOf,
  loadSigningKey,
  parsePublicKey,
  publicKeyPath,
  type SigningKey,
} from './keys.ts';
export { exportPostgres, type PostgresTarget, verifyPostgres, writeCheckpointPostgres } from './postgres.ts';
export { type Break, type BreakKind, type VerifyReport, verifySqlite } from './verify.ts';
