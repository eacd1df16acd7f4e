// The stores' trails for `vigil verify` and `vigil export`, reached from a store's configuration alone (no running
// collector needed): each store reads its own tables for src/integrity's verify and export (TrailReader), and signs a
// checkpoint first where the export has the key.
import type { Checkpoint, CheckpointOptions } from '../integrity/checkpoint.ts';
import type { SigningKey } from '../integrity/keys.ts';
import type { TrailReader } from '../integrity/trail.ts';
import { openPostgresTrail, writePostgresCheckpoint } from './postgres/index.ts';
import { openSqliteTrail, writeSqliteCheckpoint } from './sqlite/index.ts';

/** The store a trail is read from (a StoreConfig will do). */
export type TrailTarget = { type: 'sqlite'; path: string } | { type: 'postgres'; url: string; schema?: string };

/** Runs `fn` over the trail of the store `t`, read in one read-only snapshot, for `what` (verify, export). */
export async function readTrail<T>(t: TrailTarget, what: string, fn: (r: TrailReader) => Promise<T>): Promise<T> {
  const r = t.type === 'sqlite' ? openSqliteTrail(t.path) : await openPostgresTrail(t, what);
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

/**
 * Writes a checkpoint over the chain of the store `t`, on a connection of its own (a running collector signs through
 * Store.checkpoint). Returns the checkpoint written, or undefined when none was due.
 */
export async function writeCheckpoint(
  t: TrailTarget,
  key: SigningKey,
  o: CheckpointOptions = {},
): Promise<Checkpoint | undefined> {
  return t.type === 'sqlite' ? writeSqliteCheckpoint(t.path, key, o) : writePostgresCheckpoint(t, key, o);
}
