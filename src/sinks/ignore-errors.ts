// kube-apiserver's `blocking` mode wrapper: a failed write does not fail the caller. Unlike
// kube-apiserver it does not hide the loss: every event is counted and its auditID logged. Used where
// no spool is configured (the log sink, or a webhook/amqp sink without `spool`).
import type { SinkMetrics } from './metrics.ts';
import { type Sink, SinkClosedError, type SinkLogger, stderrLogger } from './types.ts';

export function ignoreErrors(sink: Sink, deps: { metrics?: SinkMetrics; logger?: SinkLogger } = {}): Sink {
  const logger = deps.logger ?? stderrLogger;
  return {
    // A plain rejection handler rather than an async function: one promise and one hop fewer per event.
    write(events) {
      let p: Promise<void>;
      try {
        p = sink.write(events);
      } catch (err) {
        p = Promise.reject(err);
      }
      return p.then(undefined, (err: unknown) => {
        // Writing to a closed sink is the caller's bug, not a delivery failure.
        if (err instanceof SinkClosedError) throw err;
        deps.metrics?.dropped('delivery_failed', events.length);
        logger.error('audit events could not be delivered; dropped', {
          error: String(err),
          auditIDs: events.map((e) => e.auditID),
        });
      });
    },
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
}
