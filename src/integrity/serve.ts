// The collector's part of tamper evidence: the signing key (created on first start) and the checkpoint timer.
import { signingKeyPath, type VigilConfig } from '../config/index.ts';
import { type Checkpointer, type CheckpointTarget, startCheckpoints } from './checkpoint.ts';
import { loadSigningKey, type SigningKey } from './keys.ts';

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
 * Checkpoints the store every interval, after each retention step (`now`) and once more at `stop`. Every collector of
 * a shared store runs the timer: a forced checkpoint is skipped when another collector's covers the head and is
 * younger than half the interval, so the cadence stays about one per interval.
 */
export function startIntegrity(
  config: VigilConfig,
  store: CheckpointTarget,
  key: SigningKey | undefined,
  onError: (err: unknown) => void,
): Checkpointer {
  if (!key) return { now: async () => {}, stop: async () => {} };
  const interval = config.integrity.checkpointIntervalMs;
  return startCheckpoints(
    (force) => store.checkpoint(key, { force, freshMs: force ? interval / 2 : undefined }),
    interval,
    onError,
  );
}
