// Where the SQLite store's writes go: the write connection on a worker thread (./worker.ts) for a database file, or
// the caller's own connection for `:memory:` (which a second thread cannot open). Both commit through the same
// group-commit queue (./writer.ts).
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import { StoreUnavailableError } from '../types.ts';
import { checkpointOn } from './checkpoints.ts';
import { fromWire, type WireError, type WriterJob, type WriterOutcome, type WriterResult } from './jobs.ts';
import { saveCursor } from './log.ts';
import type { WorkerMessage, WorkerOptions } from './worker.ts';
import { CommitQueue, SqliteWriter } from './writer.ts';

/** Where the writes go: a worker thread owning the write connection, or (`:memory:`) this connection inline. */
export interface WriterPort {
  append(job: WriterJob): Promise<{ outcome: WriterOutcome; statsRefreshed: boolean }>;
  deleteBefore(cutoff: number, limit: number): Promise<number>;
  /** One packing step (./packer.ts): plain bodies packed into blocks, at most `limit`. */
  compact(limit: number): Promise<number>;
  checkpoint(key: SigningKey, force: boolean): Promise<Checkpoint | undefined>;
  heap(): Promise<{ used: number; total: number } | undefined>;
  /** A forwarding cursor (./log.ts). */
  saveCursor(name: string, position: number, expected?: number | null): Promise<boolean>;
  close(): Promise<void>;
}

export function inlineWriter(db: DatabaseSync, packInBackground: boolean): WriterPort {
  const writer = new SqliteWriter(db);
  const queue = new CommitQueue(writer, packInBackground);
  return {
    append: (job) =>
      new Promise((resolve) => queue.push(job, (outcome, statsRefreshed) => resolve({ outcome, statsRefreshed }))),
    deleteBefore: async (cutoff, limit) => {
      queue.flush();
      return writer.deleteBefore(cutoff, limit);
    },
    compact: async (limit) => {
      queue.flush();
      return writer.packer.step(limit);
    },
    checkpoint: async (key, force) => {
      queue.flush();
      return checkpointOn(db, key, { force });
    },
    heap: async () => undefined, // the caller's own thread
    saveCursor: async (name, position, expected) => {
      queue.flush();
      return saveCursor(db, name, position, expected);
    },
    close: async () => {
      queue.flush();
      queue.stop();
    },
  };
}

type Reply = { id: number; result?: unknown; error?: WireError; statsRefreshed?: boolean };

/** The write connection on a worker thread; the thread keeps the process alive only while requests are pending. */
export function workerWriter(opts: WorkerOptions): WriterPort {
  // The installed package runs this module compiled to .js: the worker beside it has the same extension.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const worker = new Worker(new URL(`./worker${ext}`, import.meta.url), { workerData: opts });
  worker.unref();
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  let next = 0;
  let failed: Error | undefined;
  const fail = (err: Error) => {
    failed ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (pending.size === 0) worker.unref();
    p.resolve(r);
  });
  worker.on('error', (err) => fail(new StoreUnavailableError(`store writer failed: ${err.message}`, 'io', 5, err)));
  worker.on('exit', () => fail(new Error('the store is closed')));
  const request = (msg: WorkerMessage): Promise<Reply> => {
    if (failed) return Promise.reject(failed);
    const id = ++next;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id });
    });
  };
  return {
    append: async (job) => {
      const r = await request({ op: 'append', job });
      return {
        outcome: r.error ? { ok: false, error: fromWire(r.error) } : { ok: true, result: r.result as WriterResult },
        statsRefreshed: r.statsRefreshed === true,
      };
    },
    deleteBefore: async (cutoff, limit) => {
      const r = await request({ op: 'deleteBefore', cutoff, limit });
      if (r.error) throw fromWire(r.error);
      return r.result as number;
    },
    compact: async (limit) => {
      const r = await request({ op: 'compact', limit });
      if (r.error) throw fromWire(r.error);
      return r.result as number;
    },
    checkpoint: async (key, force) => {
      const r = await request({ op: 'checkpoint', key, force });
      if (r.error) throw fromWire(r.error);
      const c = r.result as Checkpoint | undefined;
      // Buffers cross the thread as plain Uint8Arrays
      return c && { ...c, head: Buffer.from(c.head), signature: Buffer.from(c.signature) };
    },
    saveCursor: async (name, position, expected) => {
      const r = await request({ op: 'saveCursor', name, position, expected });
      if (r.error) throw fromWire(r.error);
      return r.result as boolean;
    },
    heap: async () => {
      if (failed) return undefined;
      worker.ref(); // as for a request: the answer must keep the process alive
      try {
        const h = await worker.getHeapStatistics();
        return { used: h.used_heap_size, total: h.total_heap_size };
      } finally {
        if (pending.size === 0) worker.unref();
      }
    },
    close: async () => {
      if (failed) return;
      await request({ op: 'close' }); // answered once the queued appends are committed and the connection is closed
      await worker.terminate();
    },
  };
}
