// The collector's part of tamper evidence: the signing key (created on first start) and the checkpoint timer.
import { signingKeyPath, type VigilConfig } from '../config/index.ts';
import { type Checkpoint, type Checkpointer, type CheckpointTarget, startCheckpoints } from './checkpoint.ts';
import { loadSigningKey, type SigningKey } from './keys.ts';
import { appendCheckpointLog } from './log.ts';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

/**
 * The signing key, loaded before anything else starts so that a bad key fails the start cleanly. A configured key
 * must exist (a typo must not silently start a new key); SQLite's default one is created beside the database.
 * PostgreSQL has no default: every collector of the store must sign with the same key, so it is configured (and
 * without one the chain is kept but no checkpoint signed). Undefined for an in-memory store or without a key.
 */
export function integrityKey(config: VigilConfig): SigningKey | undefined {
  const keyPath = signingKeyPath(config);
  if (keyPath === undefined) return undefined;
  return loadSigningKey(keyPath, config.integrity.createKey);
}

/**
 * How long `vigil verify` lets chain entries wait for a signature before it calls a missing checkpoint a removal:
 * the interval, half again (collectors sharing a store skip a forced checkpoint when another's is younger than half
 * the interval), and a minute's grace for a loaded machine.
 */
export function maxUnsignedAge(intervalMs: number): number {
  return Math.ceil(intervalMs * 1.5) + 60_000;
}

/**
 * Writes a checkpoint through `write` and appends the one written to the checkpoint log, if configured: the log
 * line follows the store's commit, so every checkpoint in the log is one the store had.
 */
export async function checkpointAndLog(
  config: VigilConfig,
  key: SigningKey,
  write: () => Promise<Checkpoint | undefined>,
): Promise<Checkpoint | undefined> {
  const c = await write();
  const log = config.integrity.checkpointLog;
  if (c && log !== undefined) await appendCheckpointLog(log, c, key.publicKey);
  return c;
}

/**
 * Checkpoints the store at start, every interval, after each retention step (`now`) and once more at `stop`. Every
 * collector of a shared store runs the timer: a forced checkpoint is skipped when another collector's covers the
 * head and is younger than half the interval, so the cadence stays about one per interval. The one at start makes
 * a fresh signature the rule whatever the store's past: an unsigned tail older than maxUnsignedAge is then evidence.
 */
export function startIntegrity(
  config: VigilConfig,
  store: CheckpointTarget,
  key: SigningKey | undefined,
  onError: (err: unknown) => void,
): Checkpointer {
  if (!key) return { ready: Promise.resolve(), now: async () => {}, stop: async () => {} };
  const interval = config.integrity.checkpointIntervalMs;
  return startCheckpoints(
    (force) =>
      checkpointAndLog(config, key, () => store.checkpoint(key, { force, freshMs: force ? interval / 2 : undefined })),
    interval,
    onError,
  );
}
