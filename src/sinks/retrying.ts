// Retries a batch with exponential backoff and jitter, as kube-apiserver's webhook does (10 s, ×1.5,
// jitter 0.2, 5 attempts), but only for errors another attempt can fix (network, 429, 5xx) and honouring
// the server's Retry-After. What still fails is thrown to the caller, which spools it. Below a spool, a flush
// (`urgency`) ends the retries at once: the spool is where a batch waits, not a backoff.
import type { AuditEvent } from '../event/model.ts';
import type { SinkMetrics } from './metrics.ts';
import { DeliveryError, type RetryOptions, type Sink } from './types.ts';
import { backoffDelay, type FlushUrgency, InFlight, sleep } from './util.ts';

export const DEFAULT_RETRY: Required<RetryOptions> = {
  initialBackoffMs: 10_000,
  factor: 1.5,
  jitter: 0.2,
  maxAttempts: 5,
  maxRetryAfterMs: 300_000,
};

export interface RetryingDeps {
  metrics?: SinkMetrics;
  /** Set when a spool catches what fails: while a flush waits, a failure goes to it instead of being retried. */
  urgency?: FlushUrgency;
}

export function retrying(sink: Sink, opts: RetryOptions & RetryingDeps = {}): Sink {
  const o = { ...DEFAULT_RETRY, ...opts };
  if (!(o.maxAttempts >= 1)) throw new Error(`retry.maxAttempts must be ≥ 1, got ${o.maxAttempts}`);
  // Aborted on close so that a sink being shut down does not sit out a long backoff.
  const stop = new AbortController();
  const writes = new InFlight();
  const write = async (events: AuditEvent[]) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await sink.write(events);
        return;
      } catch (err) {
        // Only a delivery can be worth repeating; anything else (an encoder bug) would fail the same way.
        const retryable = err instanceof DeliveryError && err.retryable;
        const hurry = () => stop.signal.aborted || opts.urgency?.active === true;
        if (!retryable || attempt + 1 >= o.maxAttempts || hurry()) throw err;
        const after = err instanceof DeliveryError ? err.retryAfterMs : undefined;
        const delay =
          after !== undefined
            ? Math.min(after, o.maxRetryAfterMs)
            : backoffDelay(o.initialBackoffMs, o.factor, o.jitter, attempt);
        opts.metrics?.retry();
        await sleep(delay, opts.urgency ? AbortSignal.any([stop.signal, opts.urgency.signal]) : stop.signal);
        if (hurry()) throw err;
      }
    }
  };
  return {
    write: (events) => writes.track(write(events)),
    flush: () => sink.flush(),
    /**
     * A write waiting out a backoff fails at once (its caller spools it, or counts it as dropped); an attempt
     * already under way is let finish (a healthy endpoint's answer is not thrown away) before the transport closes.
     */
    async close() {
      stop.abort();
      await writes.settle();
      await sink.close();
    },
  };
}
