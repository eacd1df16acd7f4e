// kube-apiserver's buffered backend: events queue in memory and a collector hands them to the delegate in
// batches of up to maxBatchSize, or fewer after maxWaitMs, throttled by a token bucket. Where
// kube-apiserver drops what does not fit in the buffer, this hands the overflow to `overflow` (the
// spool); only without one are events dropped, and then counted and logged. In-flight batches are
// bounded (kube-apiserver's are not: kubernetes#85489), so a slow destination fills the buffer, which
// spills to disk instead of to memory.
import type { AuditEvent } from '../event/model.ts';
import type { SinkMetrics } from './metrics.ts';
import { type BatchOptions, type Sink, SinkClosedError, type SinkLogger, stderrLogger } from './types.ts';
import { InFlight, KeepAlive, sleep } from './util.ts';

export const DEFAULT_BATCH: Required<BatchOptions> = {
  bufferSize: 10_000,
  maxBatchSize: 400,
  maxWaitMs: 30_000,
  throttle: { qps: 10, burst: 15 },
  maxInFlight: 4,
};

export interface BufferedDeps {
  metrics?: SinkMetrics;
  logger?: SinkLogger;
  /** Receives events that do not fit in the buffer; without it they are dropped and counted. */
  overflow?: (events: AuditEvent[]) => Promise<void>;
}

/** kube-apiserver's batch throttle: `burst` batches at once, then `qps` per second. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;
  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }
  /** ms to wait before the next batch may go; takes the token. */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}

export class BufferedSink implements Sink {
  private readonly delegate: Sink;
  private readonly o: Required<BatchOptions>;
  private readonly deps: BufferedDeps;
  private readonly logger: SinkLogger;
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private collecting: Promise<void> | undefined;
  private draining = false;
  private closed = false;
  /** Aborted by close(): batches then go out unpaced (no throttle wait, no in-flight bound). */
  private readonly closing = new AbortController();
  private readonly bucket: TokenBucket | undefined;
  private readonly inflight = new InFlight();
  /** Queued and in-flight events are only in memory: the process must not end before they are handed on. */
  private readonly alive = new KeepAlive();
  private slotFreed: (() => void) | undefined;

  constructor(delegate: Sink, opts: BatchOptions = {}, deps: BufferedDeps = {}) {
    this.delegate = delegate;
    this.o = { ...DEFAULT_BATCH, ...opts };
    for (const k of ['bufferSize', 'maxBatchSize', 'maxInFlight'] as const) {
      if (!(Number.isInteger(this.o[k]) && this.o[k] >= 1)) throw new Error(`batch.${k} must be an integer ≥ 1`);
    }
    if (!(this.o.maxWaitMs >= 0)) throw new Error('batch.maxWaitMs must be ≥ 0');
    const t = this.o.throttle;
    if (t && !(t.qps > 0 && t.burst >= 1)) throw new Error('batch.throttle needs qps > 0 and burst ≥ 1');
    this.bucket = t ? new TokenBucket(t.qps, t.burst) : undefined;
    this.deps = deps;
    this.logger = deps.logger ?? stderrLogger;
  }

  async write(events: AuditEvent[]): Promise<void> {
    if (this.closed) throw new SinkClosedError('buffered sink');
    const room = this.o.bufferSize - this.queue.length;
    let rest: AuditEvent[] | undefined;
    if (events.length <= room) {
      for (const e of events) this.queue.push(e);
    } else {
      for (let i = 0; i < room; i++) this.queue.push(events[i]!);
      rest = events.slice(Math.max(room, 0));
    }
    this.schedule();
    if (rest) await this.spill(rest);
  }

  private async spill(events: AuditEvent[]): Promise<void> {
    if (this.deps.overflow) {
      try {
        await this.deps.overflow(events);
        return;
      } catch (err) {
        // The spool itself failed (disk full, I/O error): the events are lost, and said so below.
        this.logger.error('audit overflow spool failed', { error: String(err) });
      }
    }
    this.deps.metrics?.dropped('buffer_full', events.length);
    this.logger.error('audit buffer full; events dropped', {
      dropped: events.length,
      auditIDs: events.map((e) => e.auditID),
    });
  }

  private schedule(): void {
    if (this.queue.length >= this.o.maxBatchSize || this.o.maxBatchSize === 1) {
      void this.collect();
    } else if (this.queue.length > 0 && !this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.collect(true);
      }, this.o.maxWaitMs);
    }
  }

  /** Sends full batches, and a partial one when the wait expired or on flush. One collector at a time. */
  private collect(partial = false): Promise<void> {
    if (this.collecting) return this.collecting;
    this.collecting = this.alive.track(this.runCollector(partial)).finally(() => {
      this.collecting = undefined;
      if (this.queue.length > 0) this.schedule();
    });
    return this.collecting;
  }

  private async runCollector(partial: boolean): Promise<void> {
    while (
      this.queue.length >= this.o.maxBatchSize ||
      ((partial || this.draining || this.o.maxBatchSize === 1) && this.queue.length > 0)
    ) {
      const batch = this.queue.splice(0, this.o.maxBatchSize);
      if (this.queue.length === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      if (this.bucket) await sleep(this.bucket.take(), this.closing.signal);
      while (this.inflight.size >= this.o.maxInFlight && !this.closing.signal.aborted) {
        await new Promise<void>((r) => {
          this.slotFreed = r;
        });
      }
      this.dispatch(batch);
      partial = false;
    }
  }

  private dispatch(batch: AuditEvent[]): void {
    const p = this.delegate.write(batch).catch((err: unknown) => {
      // Below a buffer the delegate absorbs delivery failures itself (spooled, ignoreErrors), so this is
      // only reached by the unexpected: count and log it rather than lose it silently.
      this.deps.metrics?.dropped('delivery_failed', batch.length);
      this.logger.error('audit batch failed; events dropped', {
        error: String(err),
        auditIDs: batch.map((e) => e.auditID),
      });
    });
    void this.inflight.track(this.alive.track(p)).finally(() => {
      const r = this.slotFreed;
      this.slotFreed = undefined;
      r?.();
    });
  }

  async flush(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 || this.collecting || this.inflight.size > 0) {
        await this.collect();
        await this.inflight.settle();
      }
    } finally {
      this.draining = false;
    }
    await this.delegate.flush();
  }

  /**
   * Hands every queued event to the delegate at once and closes it without waiting for the deliveries in
   * progress: closing cuts their retry backoff short, so what the destination does not take now is spooled (or,
   * without a spool, counted as dropped). Waiting for the retries instead (flush without a spool) could take
   * minutes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draining = true;
    this.closing.abort();
    const waiting = this.slotFreed;
    this.slotFreed = undefined;
    waiting?.();
    while (this.queue.length > 0 || this.collecting) await this.collect();
    await this.delegate.close();
    await this.inflight.settle();
    this.alive.release();
  }
}

export function buffered(sink: Sink, opts: BatchOptions = {}, deps: BufferedDeps = {}): Sink {
  return new BufferedSink(sink, opts, deps);
}
