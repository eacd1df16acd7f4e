// Retention: deletes events older than the maximum age in small steps, yielding to the event loop between steps so
// that ingest and queries are never stalled behind one long delete. Collectors sharing a store run it one at a time
// (`runExclusive`): a collector that finds another one's pass running skips its own.
import { runExclusive } from './exclusive.ts';
import type { Store } from './types.ts';

export interface RetentionOptions {
  /** Events received more than this long ago are deleted. */
  maxAgeMs: number;
  /** Events deleted per step (one short transaction each). */
  stepLimit?: number;
  /** Time between runs. */
  intervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Called after each step that deleted events and awaited (tamper evidence signs a checkpoint then). */
  onStep?: (deleted: number) => void | Promise<void>;
  /** Called when a run fails (the next run tries again). */
  onError?: (err: unknown) => void;
  /** Called after each pass this process ran (not the ones skipped because another collector was running one). */
  onPass?: (deleted: number) => void;
}

export interface Retention {
  /** Runs one pass to completion; resolves with the number of events deleted (0 when another collector ran it). */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a running pass to finish its current step. */
  stop(): Promise<void>;
}

export function startRetention(store: Store, opts: RetentionOptions): Retention {
  const { maxAgeMs } = opts;
  const stepLimit = opts.stepLimit ?? 1000;
  const intervalMs = opts.intervalMs ?? 60_000;
  const now = opts.now ?? Date.now;
  if (!(maxAgeMs > 0)) throw new RangeError(`retention maxAgeMs must be positive, not ${maxAgeMs}`);
  if (!Number.isInteger(stepLimit) || stepLimit <= 0)
    throw new RangeError(`retention stepLimit must be a positive integer, not ${stepLimit}`);
  let stopped = false;
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const pass = async (): Promise<number> => {
    const cutoff = now() - maxAgeMs;
    let total = 0;
    while (!stopped) {
      const n = await store.deleteBefore(cutoff, stepLimit);
      total += n;
      if (n > 0) await opts.onStep?.(n);
      if (n < stepLimit) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return total;
  };

  const runOnce = (): Promise<number> => {
    // One pass at a time: a second caller shares the running pass.
    if (!running)
      running = runExclusive(store, 'retention', pass)
        .then(({ ran, value }) => {
          if (ran) opts.onPass?.(value ?? 0);
          return value ?? 0;
        })
        .finally(() => {
          running = undefined;
        });
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((err) =>
          (opts.onError ?? ((e) => process.emitWarning(`retention failed: ${(e as Error)?.message ?? e}`)))(err),
        )
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
}
