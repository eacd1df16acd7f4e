// Small timing helpers shared by the decorators.

/** Resolves after `ms`, or early (without error) when `signal` aborts. The timer never holds the process open. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // Node fires a longer timer after 1 ms: a sleep beyond 24.8 days ends then instead (callers loop and check)
    const t = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    t.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Keeps the process alive while any operation it tracks is pending: events that are only in memory (queued, or a
 * batch waiting out a retry backoff) must be delivered or spooled before the process may end, whatever timers the
 * wait uses. What is already on disk (the spool's replay) is not tracked: a process may exit with it there.
 */
export class KeepAlive {
  private pending = 0;
  /** One long timer per holder, referenced only while something is pending. */
  private timer: NodeJS.Timeout | undefined;
  track<T>(p: Promise<T>): Promise<T> {
    if (this.pending++ === 0) {
      this.timer ??= setInterval(() => {}, 2 ** 31 - 1);
      this.timer.ref();
    }
    const done = () => {
      if (--this.pending === 0) this.timer?.unref();
    };
    p.then(done, done);
    return p;
  }
  /** Stops holding, whatever is pending. */
  release(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Whether a flush is waiting, shared by the top of a chain (which flushes) and the retries below a spool: while
 * one is, a failed write is not retried after a backoff but handed to the spool at once, so that flush resolves as
 * soon as everything is delivered or on disk rather than after the retry budget. `signal` aborts when a flush
 * begins, waking the writes already waiting out a backoff.
 */
export class FlushUrgency {
  private waiting = 0;
  private started = new AbortController();
  get active(): boolean {
    return this.waiting > 0;
  }
  get signal(): AbortSignal {
    return this.started.signal;
  }
  async during(flush: () => Promise<void>): Promise<void> {
    this.waiting++;
    this.started.abort();
    try {
      await flush();
    } finally {
      if (--this.waiting === 0) this.started = new AbortController();
    }
  }
}

/** kube-apiserver's wait.Backoff step: `base * factor^n`, plus up to `jitter * delay` at random. */
export function backoffDelay(base: number, factor: number, jitter: number, n: number): number {
  const d = base * factor ** n;
  return jitter > 0 ? d + Math.random() * jitter * d : d;
}

/** `Retry-After` as delta-seconds or an HTTP-date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** A counter of pending operations that can be awaited to reach zero. */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();
  track<T>(p: Promise<T>): Promise<T> {
    const tracked = p.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    // The caller handles rejection of `p`; the tracked copy must not surface as unhandled.
    tracked.catch(() => {});
    return tracked;
  }
  get size(): number {
    return this.pending.size;
  }
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
