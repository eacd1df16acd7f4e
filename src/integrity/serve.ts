// The collector's part of tamper evidence: the signing key (created on first start) and the checkpoint timer.
import { sqlitePath, type VigilConfig } from '../config/index.ts';
import { type Checkpointer, type CheckpointTarget, startCheckpoints } from './checkpoint.ts';
import { defaultKeyPath, loadSigningKey, type SigningKey } from './keys.ts';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

type IntegritySection = { signingKey?: string; checkpointInterval?: number } | undefined;

/**
 * The signing key file of a config: `integrity.signingKey`, else for SQLite `vigil-signing.key` beside the database;
 * undefined for PostgreSQL without one (its collectors, perhaps on several hosts, must share a configured key).
 */
export function signingKeyPath(config: VigilConfig): string | undefined {
  const integrity = config.sections.integrity as { signingKey?: string } | undefined;
  if (integrity?.signingKey !== undefined) return integrity.signingKey;
  return config.storage.type === 'sqlite' ? defaultKeyPath(sqlitePath(config.storage, 'tamper evidence')) : undefined;
}

/**
 * The signing key, loaded before anything else starts so that a bad key fails the start cleanly. A configured key
 * must exist (a typo must not silently start a new key); SQLite's default one is created beside the database.
 * PostgreSQL has no default: every collector of the store must sign with the same key, so it is configured (and
 * without one the chain is kept but no checkpoint signed). Undefined for an in-memory store or without a key.
 */
export function integrityKey(config: VigilConfig): SigningKey | undefined {
  if (config.storage.type === 'sqlite' && config.storage.path === ':memory:') return undefined;
  const keyPath = signingKeyPath(config);
  if (keyPath === undefined) return undefined;
  const integrity = config.sections.integrity as IntegritySection;
  return loadSigningKey(keyPath, integrity?.signingKey === undefined);
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
  const integrity = config.sections.integrity as IntegritySection;
  const interval = integrity?.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  return startCheckpoints(
    (force) => store.checkpoint(key, { force, freshMs: force ? interval / 2 : undefined }),
    interval,
    onError,
  );
}
