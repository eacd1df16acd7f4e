// kube-apiserver's truncate backend: an event over maxEventBytes loses its request/response objects and
// gains the annotation audit.k8s.io/truncated: "true"; if it is still too large it is dropped and counted
// (as kube-apiserver does: the remaining fields are the audit record itself, and cutting them further
// would make a record that lies by omission). Batches are split so that the sum of their events' sizes
// stays within maxBatchBytes (a single event always makes a batch).
// Unlike kube-apiserver, Vigil places this *after* batching, so the byte split sees real batches
// (kubernetes#60432).
import type { AuditEvent } from '../event/model.ts';
import type { SinkMetrics } from './metrics.ts';
import { type Sink, type SinkLogger, stderrLogger, type TruncateOptions } from './types.ts';

export const DEFAULT_TRUNCATE: Required<TruncateOptions> = { maxEventBytes: 102_400, maxBatchBytes: 10_485_760 };
export const TRUNCATED_ANNOTATION = 'audit.k8s.io/truncated';

export interface TruncateDeps {
  metrics?: SinkMetrics;
  logger?: SinkLogger;
  /** Encoded size of one event in bytes; default the byte length of its JSON. */
  size?: (e: AuditEvent) => number;
}

const jsonBytes = (e: AuditEvent) => Buffer.byteLength(JSON.stringify(e));

/** The event as it may be sent (possibly truncated), and its size; null when it must be dropped. */
export function truncateEvent(
  e: AuditEvent,
  maxEventBytes: number,
  size: (e: AuditEvent) => number = jsonBytes,
): { event: AuditEvent; bytes: number; truncated: boolean } | null {
  const bytes = size(e);
  if (bytes <= maxEventBytes) return { event: e, bytes, truncated: false };
  if (e.level === 'Metadata' || e.level === 'None') return null;
  const { requestObject: _q, responseObject: _r, ...rest } = e;
  const cut: AuditEvent = { ...rest, annotations: { ...e.annotations, [TRUNCATED_ANNOTATION]: 'true' } };
  const cutBytes = size(cut);
  return cutBytes <= maxEventBytes ? { event: cut, bytes: cutBytes, truncated: true } : null;
}

export function truncate(sink: Sink, opts: TruncateOptions & TruncateDeps = {}): Sink {
  const maxEventBytes = opts.maxEventBytes ?? DEFAULT_TRUNCATE.maxEventBytes;
  const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_TRUNCATE.maxBatchBytes;
  if (!(maxEventBytes > 0)) throw new Error(`truncate.maxEventBytes must be > 0, got ${maxEventBytes}`);
  if (!(maxBatchBytes >= maxEventBytes)) {
    throw new Error(`truncate.maxBatchBytes (${maxBatchBytes}) must be ≥ maxEventBytes (${maxEventBytes})`);
  }
  const size = opts.size ?? jsonBytes;
  const logger = opts.logger ?? stderrLogger;
  return {
    async write(events) {
      let batch: AuditEvent[] = [];
      let batchBytes = 0;
      let truncated = 0;
      const batches: AuditEvent[][] = [];
      for (const e of events) {
        const t = truncateEvent(e, maxEventBytes, size);
        if (!t) {
          opts.metrics?.dropped('too_large', 1);
          logger.error('audit event is too large even after truncating; dropped', {
            auditID: e.auditID,
            maxEventBytes,
          });
          continue;
        }
        if (t.truncated) truncated++;
        // A batch always holds at least one event; the array's brackets and commas are not counted,
        // as in kube-apiserver.
        if (batch.length > 0 && batchBytes + t.bytes > maxBatchBytes) {
          batches.push(batch);
          batch = [];
          batchBytes = 0;
        }
        batch.push(t.event);
        batchBytes += t.bytes;
      }
      if (batch.length > 0) batches.push(batch);
      if (truncated) opts.metrics?.truncated(truncated);
      for (const b of batches) await sink.write(b);
    },
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
}
