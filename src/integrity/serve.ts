// The collector's part of tamper evidence: the signing key (created on first start) and the checkpoint timer.
import type { VigilConfig } from '../config/index.ts';
import { type Checkpointer, startCheckpoints } from './checkpoint.ts';
import { signingKeyPath } from './cli.ts';
import { loadSigningKey, type SigningKey } from './keys.ts';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

type IntegritySection = { signingKey?: string; checkpointInterval?: number } | undefined;

/**
 * The signing key, loaded before anything else starts so that a bad key fails the start cleanly. A configured key
 * must exist (a typo must not silently start a new key); the default one is created. Undefined for an in-memory store.
 */
export function integrityKey(config: VigilConfig): SigningKey | undefined {
  // The hash chain is kept by the SQLite store only (not yet by PostgreSQL).
  if (config.storage.type !== 'sqlite' || config.storage.path === ':memory:') return undefined;
  const integrity = config.sections.integrity as IntegritySection;
  return loadSigningKey(signingKeyPath(config), integrity?.signingKey === undefined);
}

/** Checkpoints the store every interval, after each retention step (`now`) and once more at `stop`. */
export function startIntegrity(
  config: VigilConfig,
  key: SigningKey | undefined,
  onError: (err: unknown) => void,
): Checkpointer {
  if (!key || config.storage.type !== 'sqlite') return { now() {}, stop() {} };
  const integrity = config.sections.integrity as IntegritySection;
  const cp = startCheckpoints(
    config.storage.path,
    key,
    integrity?.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
    onError,
  );
  return { now: () => cp.now(), stop: () => cp.stop() };
}
