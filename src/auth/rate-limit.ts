// Per-caller token buckets: each authenticated caller may make so many ingest and query requests per second
// (`auth.rateLimit`, burst twice the rate); past it the answer is 429 with Retry-After.
import type { RateLimitConfig } from '../config/index.ts';

/** What a request is for, which picks the rate limit. */
export type RequestKind = 'ingest' | 'query';

/** 429: the caller's token bucket is empty. */
export class RateLimitError extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'RateLimitError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export const DEFAULT_RATE_LIMIT: Required<RateLimitConfig> = { ingestPerSecond: 200, queryPerSecond: 50 };

/** A token bucket: `rate` per second, holding at most `burst`. */
export class Bucket {
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }
  /** Takes one; returns 0, or the seconds until one is available. */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.rate;
  }
}
