// The sink contract and the typed configuration of every sink. A sink ships canonical AuditEvents
// somewhere (a log file, a webhook, RabbitMQ); decorators (buffered, truncate, retrying, spooled) wrap a
// sink in another sink, as kube-apiserver wraps its audit backends.
import type { AuditEvent } from '../event/model.ts';

export interface Sink {
  /** Resolves when the events are accepted: buffered (batch mode), or delivered/spooled (blocking modes). */
  write(events: AuditEvent[]): Promise<void>;
  /** Resolves when everything accepted so far has been delivered, spooled or counted as dropped. */
  flush(): Promise<void>;
  /** Flushes, then releases files, sockets and timers. Writes after close reject. */
  close(): Promise<void>;
}

/** Where sinks report what they cannot return to a caller (drops, retries, reopened files). */
export interface SinkLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** One JSON object per line on stderr: a sink must never lose a drop report to a missing logger. */
export const stderrLogger: SinkLogger = {
  warn(msg, fields) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...fields })}\n`);
  },
  error(msg, fields) {
    process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...fields })}\n`);
  },
};

/** kube-apiserver's audit modes (`--audit-*-mode`). */
export const SINK_MODES = ['batch', 'blocking', 'blocking-strict'] as const;
export type SinkMode = (typeof SINK_MODES)[number];

/** Batch mode (kube-apiserver `--audit-webhook-batch-*`). */
export interface BatchOptions {
  /** Events held in memory; beyond it events spill to the spool (or are dropped and counted without one). Default 10000. */
  bufferSize?: number;
  /** Events per batch. Default 400 (webhook), 1 (log). */
  maxBatchSize?: number;
  /** Longest an event waits for its batch to fill, ms. Default 30000. */
  maxWaitMs?: number;
  /** Token bucket on batches; `false` disables. Default `{ qps: 10, burst: 15 }` (webhook), off (log). */
  throttle?: { qps: number; burst: number } | false;
  /** Batches in flight at once (kube-apiserver has no bound, kubernetes#85489). Default 4. */
  maxInFlight?: number;
}

/** Retries per batch (kube-apiserver: 10 s initial, ×1.5, jitter 0.2, 5 attempts). */
export interface RetryOptions {
  /** Default 10000 ms. */
  initialBackoffMs?: number;
  /** Default 1.5. */
  factor?: number;
  /** Fraction of the delay added at random, 0..1. Default 0.2. */
  jitter?: number;
  /** Attempts including the first. Default 5. */
  maxAttempts?: number;
  /** Cap on a server's `Retry-After`. Default 300000 ms. */
  maxRetryAfterMs?: number;
}

/** kube-apiserver's truncate backend (`--audit-*-truncate-*`). */
export interface TruncateOptions {
  /** Default 102400 bytes. */
  maxEventBytes?: number;
  /** Default 10485760 bytes; must be ≥ maxEventBytes. */
  maxBatchBytes?: number;
}

/** The on-disk spool that replaces kube-apiserver's drops. */
export interface SpoolConfig {
  /** Directory of segment files; created if missing (0700). One sink per directory. */
  dir: string;
  /** Cap on unacknowledged bytes on disk; beyond it events are dropped and counted. */
  maxBytes: number;
  /** A segment is sealed (and becomes replayable) past this size. Default 4 MiB. */
  segmentBytes?: number;
  /** fsync every append. Default true. */
  fsync?: boolean;
  /** First wait after a failed replay, ms. Default: the retry initial backoff. */
  replayBackoffMs?: number;
  /** Longest wait between replay attempts, ms. Default 300000. */
  replayMaxBackoffMs?: number;
  /** Events per replayed batch. Default: the batch max size (or 400). */
  replayBatchSize?: number;
}

export const LOG_FORMATS = ['json', 'legacy', 'cadf'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogSinkConfig {
  type: 'log';
  /** Metric label; default `log`. */
  name?: string;
  /** File path, or `-` for stdout. */
  path: string;
  /** Default `json`. */
  format?: LogFormat;
  /** MB before rotation; 0 = never rotate. Default 100. */
  maxsize?: number;
  /** Rotated files kept; 0 = keep all. Default 100. */
  maxbackup?: number;
  /** Days rotated files are kept (by the timestamp in the name); 0 = no limit. Default 366. */
  maxage?: number;
  /** gzip rotated files. Default false. */
  compress?: boolean;
  /** Default `blocking` (kube-apiserver's log default). */
  mode?: SinkMode;
  batch?: BatchOptions;
  /** Omit to disable truncation (kube-apiserver's default). */
  truncate?: TruncateOptions;
  /** How often the file is checked for deletion/move, ms; 0 = before every write. Default 1000. */
  reopenCheckMs?: number;
}

export const WEBHOOK_BODIES = ['eventlist', 'openfaas'] as const;
export type WebhookBody = (typeof WEBHOOK_BODIES)[number];

export interface WebhookSinkConfig {
  type: 'webhook';
  /** Metric label; default `webhook`. */
  name?: string;
  /** Target URL; exactly one of `url` and `kubeconfig`. */
  url?: string;
  /** Path of a kubeconfig-format file (kube-apiserver `--audit-webhook-config-file`). */
  kubeconfig?: string;
  /** Default `batch`. */
  mode?: SinkMode;
  batch?: BatchOptions;
  retry?: RetryOptions;
  /** Per attempt, ms. Default 30000. */
  timeoutMs?: number;
  /** Default `eventlist`. */
  body?: WebhookBody;
  /** OpenFaaS/GitHub HMAC secret: sends `X-Openfaas-Signature-256: sha256=<hex>`. */
  secret?: string;
  /** Standard Webhooks signing with a `whsec_<base64>` secret. */
  standardWebhooks?: { secret: string };
  /** Without a spool, batches that fail after the retry budget are dropped and counted (kube-apiserver). */
  spool?: SpoolConfig;
  truncate?: TruncateOptions;
}

export interface AmqpSinkConfig {
  type: 'amqp';
  /** Metric label; default `amqp`. */
  name?: string;
  /** `amqp://user:pass@host:5672/vhost`. */
  url: string;
  /** oslo `control_exchange`; default `openstack`. Declared as a topic exchange. */
  exchange?: string;
  /** oslo notification topics; default `['notifications']`. One copy per topic, routing key `<topic>.info`. */
  topics?: string[];
  /** Exchange/queue durability (oslo `amqp_durable_queues`); default false. */
  durable?: boolean;
  /** Declare and bind the queue named like the routing key, as oslo's rabbit driver does. Default true. */
  declareQueue?: boolean;
  /** Default `batch`. */
  mode?: SinkMode;
  batch?: BatchOptions;
  retry?: RetryOptions;
  /** Wait for publisher confirms of one batch, ms. Default 30000. */
  timeoutMs?: number;
  spool?: SpoolConfig;
  truncate?: TruncateOptions;
}

export interface NoopSinkConfig {
  type: 'noop';
  name?: string;
}

export type SinkConfig = LogSinkConfig | WebhookSinkConfig | AmqpSinkConfig | NoopSinkConfig;

/** A delivery failure; `retryable` says whether another attempt may succeed (network, 429, 5xx). */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DeliveryError';
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** A write after close (kube-apiserver: "audit backend shut down"). */
export class SinkClosedError extends Error {
  constructor(what = 'sink') {
    super(`${what} is closed`);
    this.name = 'SinkClosedError';
  }
}
