// Worker thread of a file-backed SQLite store: owns the write connection (src/store/sqlite/writer.ts) and answers the
// store's messages. Appends go through the group-commit queue; everything else runs in message order.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import type { SigningKey } from '../../integrity/keys.ts';
import { checkpointOn } from './checkpoints.ts';
import { toWire, type WriterJob } from './jobs.ts';
import { saveCursor } from './log.ts';
import { configure } from './schema.ts';
import { CommitQueue, SqliteWriter } from './writer.ts';

export interface WorkerOptions {
  path: string;
  busyTimeoutMs: number;
  cacheMiB: number;
  /** Packs plain bodies into blocks between appends (./packer.ts); off: only `compact` steps do. */
  packInBackground: boolean;
}

export type WorkerMessage =
  | { op: 'append'; job: WriterJob }
  | { op: 'deleteBefore'; cutoff: number; limit: number }
  | { op: 'compact'; limit: number }
  | { op: 'checkpoint'; key: SigningKey; force: boolean }
  | { op: 'saveCursor'; name: string; position: number; expected?: number | null }
  | { op: 'close' };
export type WorkerRequest = WorkerMessage & { id: number };

const port = parentPort!;
const opts = workerData as WorkerOptions;
const db = new DatabaseSync(opts.path, { timeout: opts.busyTimeoutMs });
configure(db, opts.cacheMiB);
const writer = new SqliteWriter(db);
const queue = new CommitQueue(writer, opts.packInBackground);

port.on('message', (m: WorkerRequest) => {
  if (m.op === 'append') {
    queue.push(m.job, (o, statsRefreshed) =>
      port.postMessage(
        o.ok ? { id: m.id, result: o.result, statsRefreshed } : { id: m.id, error: toWire(o.error), statsRefreshed },
      ),
    );
    return;
  }
  if (m.op === 'deleteBefore' || m.op === 'checkpoint' || m.op === 'compact' || m.op === 'saveCursor') {
    queue.flush();
    try {
      const result =
        m.op === 'deleteBefore'
          ? writer.deleteBefore(m.cutoff, m.limit)
          : m.op === 'compact'
            ? writer.packer.step(m.limit)
            : m.op === 'saveCursor'
              ? saveCursor(db, m.name, m.position, m.expected)
              : checkpointOn(db, m.key, { force: m.force });
      port.postMessage({ id: m.id, result });
      queue.schedulePack();
    } catch (err) {
      port.postMessage({ id: m.id, error: toWire(err) });
    }
    return;
  }
  // close: appends already accepted are committed before the database closes
  queue.flush();
  queue.stop();
  db.close();
  port.postMessage({ id: m.id, result: null });
  port.close();
});
