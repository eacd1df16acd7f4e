// Periodic jobs (retention, partition upkeep) run once across the collectors that share a store.
import type { Store } from './types.ts';

/**
 * Runs `fn` unless another process sharing `store` is running a job of the same name. A store without
 * `runExclusive` belongs to one process (embedded SQLite), so the job simply runs.
 */
export async function runExclusive<T>(
  store: Store,
  name: string,
  fn: () => Promise<T>,
): Promise<{ ran: boolean; value?: T }> {
  if (store.runExclusive) return store.runExclusive(name, fn);
  return { ran: true, value: await fn() };
}
