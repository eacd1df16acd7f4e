// The no-silent-loss decorator: a write the delegate fails (after its retries) is appended to the spool
// instead of being dropped, and a replay loop sends the spool's contents (oldest first) once the
// destination accepts again, acknowledging spooled bytes only after the delegate resolved (a 2xx or
// broker confirm). While the spool holds anything, new writes join it, so a down destination is probed
// by one replay loop rather than by every batch, and order stays roughly first-in first-out.
// In blocking-strict mode the failure is also thrown, so the caller can fail the request (the event is
// spooled all the same: at-least-once, a duplicate is possible, a loss is not).
import type { AuditEvent } from '../event/model.ts';
import type { SinkMetrics } from './metrics.ts';
import { DEFAULT_RETRY } from './retrying.ts';
import { Spool } from './spool.ts';
import { DeliveryError, type Sink, SinkClosedError, type SinkLogger, type SpoolConfig, stderrLogger } from './types.ts';
import { InFlight, sleep } from './util.ts';

export interface SpooledOptions {
  /** Throw delivery failures to the writer (after spooling). */
  strict?: boolean;
  replayBackoffMs?: number;
  replayMaxBackoffMs?: number;
  /** Events per replayed batch. Default 400. */
  replayBatchSize?: number;
  metrics?: SinkMetrics;
  logger?: SinkLogger;
}

export class SpooledSink implements Sink {
  readonly spool: Spool;
  private readonly delegate: Sink;
  private readonly strict: boolean;
  private readonly backoff: number;
  private readonly maxBackoff: number;
  private readonly batchSize: number;
  private readonly metrics: SinkMetrics | undefined;
  private readonly logger: SinkLogger;
  private readonly inflight = new InFlight();
  private replaying: Promise<void> | undefined;
  /** Aborted to cut a replay backoff short: on close, or when a live write shows the destination is back. */
  private wake = new AbortController();
  private closed = false;

  constructor(delegate: Sink, spool: Spool, opts: SpooledOptions = {}) {
    this.delegate = delegate;
    this.spool = spool;
    this.strict = opts.strict ?? false;
    this.backoff = opts.replayBackoffMs ?? DEFAULT_RETRY.initialBackoffMs;
    this.maxBackoff = opts.replayMaxBackoffMs ?? 300_000;
    this.batchSize = opts.replayBatchSize ?? 400;
    this.metrics = opts.metrics;
    this.logger = opts.logger ?? stderrLogger;
    // What an earlier process left behind goes out first.
    this.kick();
  }

  write(events: AuditEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new SinkClosedError('spooled sink'));
    return this.inflight.track(this.deliver(events));
  }

  private async deliver(events: AuditEvent[]): Promise<void> {
    if (!this.strict && this.spool.hasPending()) {
      await this.spill(events);
      return;
    }
    try {
      await this.delegate.write(events);
      // The destination is up: if a replay is waiting out a backoff, start it now.
      if (this.spool.hasPending()) this.nudge();
    } catch (err) {
      this.logger.warn('audit delivery failed; spooling', { error: String(err), events: events.length });
      await this.spill(events);
      if (this.strict) throw err;
    }
  }

  /** Appends to the spool (dropping and counting beyond its cap) and makes sure a replay is running. */
  async spill(events: AuditEvent[]): Promise<void> {
    await this.spool.append(events);
    this.kick();
  }

  private nudge(): void {
    const w = this.wake;
    this.wake = new AbortController();
    w.abort();
  }

  private kick(): void {
    if (this.replaying || this.closed) return;
    this.replaying = this.replay().finally(() => {
      this.replaying = undefined;
      // An append may have landed after the loop saw an empty spool.
      if (this.spool.hasPending()) this.kick();
    });
  }

  private async replay(): Promise<void> {
    let delay = this.backoff;
    while (!this.closed) {
      let batch: Awaited<ReturnType<Spool['read']>>;
      try {
        batch = await this.spool.read(this.batchSize);
      } catch (err) {
        // A disk error: try again later rather than spin, and never give the data up.
        this.logger.error('audit spool read failed; will retry', { error: String(err), retryInMs: delay });
        this.metrics?.error();
        await sleep(delay, this.wake.signal);
        delay = Math.min(delay * 2, this.maxBackoff);
        continue;
      }
      if (!batch) return;
      try {
        await this.delegate.write(batch.events);
      } catch (err) {
        if (this.closed) return;
        // Not a delivery failure but one some event causes every time (e.g. an encoder throwing):
        // retrying would block the spool behind it for ever. Send one by one, drop (count, log) those.
        const dropped = err instanceof DeliveryError ? -1 : await this.isolate(batch.events);
        if (dropped >= 0) {
          await this.spool.ack(batch.cursor);
          this.metrics?.replayed(batch.events.length - dropped);
          delay = this.backoff;
          continue;
        }
        if (this.closed) return;
        this.logger.warn('audit spool replay failed; will retry', { error: String(err), retryInMs: delay });
        await sleep(delay, this.wake.signal);
        delay = Math.min(delay * 2, this.maxBackoff);
        continue;
      }
      await this.spool.ack(batch.cursor);
      this.metrics?.replayed(batch.events.length);
      delay = this.backoff;
    }
  }

  /** Sends events singly: how many were dropped, or -1 if a delivery failed (try them all again later). */
  private async isolate(events: AuditEvent[]): Promise<number> {
    const bad: AuditEvent[] = [];
    for (const e of events) {
      try {
        await this.delegate.write([e]);
      } catch (err) {
        if (err instanceof DeliveryError || this.closed) return -1;
        bad.push(e);
      }
    }
    this.metrics?.dropped('delivery_failed', bad.length);
    this.logger.error('audit events cannot be encoded or sent; dropped from the spool', {
      auditIDs: bad.map((e) => e.auditID),
    });
    return bad.length;
  }

  /** Waits for writes in progress; spooled events stay on disk (the replay goes on in the background). */
  async flush(): Promise<void> {
    await this.inflight.settle();
    await this.delegate.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake.abort();
    // Closing the delegate first cuts its retries short, so writes in progress fail over to the spool.
    await this.delegate.close();
    await this.inflight.settle();
    await this.replaying;
    await this.spool.close();
  }
}

/** Opens the spool in `cfg.dir` and wraps `sink` with it. */
export async function spooled(sink: Sink, cfg: SpoolConfig, opts: SpooledOptions = {}): Promise<SpooledSink> {
  const spool = await Spool.open(cfg, { metrics: opts.metrics, logger: opts.logger });
  return new SpooledSink(sink, spool, {
    replayBackoffMs: cfg.replayBackoffMs,
    replayMaxBackoffMs: cfg.replayMaxBackoffMs,
    replayBatchSize: cfg.replayBatchSize,
    ...opts,
  });
}
