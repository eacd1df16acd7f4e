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
    const t = setTimeout(done, ms);
    t.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
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
