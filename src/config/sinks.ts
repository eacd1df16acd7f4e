// The sinks' part of the configuration table: one sink of `capture.sinks` (and of `createAuditor({sinks})`),
// kube-apiserver's audit backend options plus Vigil's spool. src/sinks checks its configurations against this spec.
import { type Infer, MAX_TIMER_MS, SpecError, spec as s } from './spec.ts';

export const SINK_MODES = ['batch', 'blocking', 'blocking-strict'] as const;
export const LOG_FORMATS = ['json', 'legacy', 'cadf'] as const;
export const WEBHOOK_BODIES = ['eventlist', 'openfaas'] as const;

const batch = s.object({
  bufferSize: s.int({ min: 1 }),
  maxBatchSize: s.int({ min: 1 }),
  maxWaitMs: s.number({ min: 0, max: MAX_TIMER_MS }),
  throttle: s.alt(
    s.false(),
    s.object({ qps: s.number({ min: Number.MIN_VALUE }), burst: s.int({ min: 1 }) }, { required: ['qps', 'burst'] }),
  ),
  maxInFlight: s.int({ min: 1 }),
});

const retry = s.object({
  initialBackoffMs: s.number({ min: 0, max: MAX_TIMER_MS }),
  factor: s.number({ min: 1 }),
  jitter: s.number({ min: 0, max: 1 }),
  maxAttempts: s.int({ min: 1 }),
  maxRetryAfterMs: s.number({ min: 0, max: MAX_TIMER_MS }),
});

const truncate = s.object(
  { maxEventBytes: s.int({ min: 1 }), maxBatchBytes: s.int({ min: 1 }) },
  {
    // kube-apiserver's defaults: 100 KiB per event, 10 MiB per batch.
    check: (t) =>
      ((t.maxBatchBytes as number | undefined) ?? 10_485_760) < ((t.maxEventBytes as number | undefined) ?? 102_400)
        ? { path: ['maxBatchBytes'], message: 'must be ≥ maxEventBytes' }
        : undefined,
  },
);

const spool = s.object(
  {
    dir: s.path(),
    maxBytes: s.int({ min: 1 }),
    segmentBytes: s.int({ min: 1 }),
    fsync: s.bool(),
    replayBackoffMs: s.number({ min: 0, max: MAX_TIMER_MS }),
    replayMaxBackoffMs: s.number({ min: 0, max: MAX_TIMER_MS }),
    replayBatchSize: s.int({ min: 1 }),
  },
  { required: ['dir', 'maxBytes'] },
);

const httpUrl = s.parsed((v): string => {
  let u: URL;
  try {
    u = new URL(String(v));
  } catch {
    throw new SpecError([], `${JSON.stringify(v)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new SpecError([], `${JSON.stringify(v)} must be http or https`);
  return String(v);
});

export const SINK = s.union('type', 'sink', {
  noop: s.object({ name: s.string() }),
  log: s.object(
    {
      name: s.string(),
      // A file path, or `-` for stdout.
      path: s.path(),
      format: s.enum(LOG_FORMATS),
      maxsize: s.number({ min: 0 }),
      maxbackup: s.int({ min: 0 }),
      maxage: s.number({ min: 0 }),
      compress: s.bool(),
      mode: s.enum(SINK_MODES),
      batch,
      truncate,
      reopenCheckMs: s.number({ min: 0, max: MAX_TIMER_MS }),
    },
    { required: ['path'] },
  ),
  webhook: s.object(
    {
      name: s.string(),
      url: httpUrl,
      kubeconfig: s.path({ exists: true }),
      mode: s.enum(SINK_MODES),
      batch,
      retry,
      timeoutMs: s.number({ min: 1, max: MAX_TIMER_MS }),
      body: s.enum(WEBHOOK_BODIES),
      secret: s.string(),
      standardWebhooks: s.object({ secret: s.string() }, { required: ['secret'] }),
      spool,
      truncate,
    },
    { oneOf: ['url', 'kubeconfig'] },
  ),
  amqp: s.object(
    {
      name: s.string(),
      url: s.string(),
      exchange: s.string(),
      topics: s.list(s.string(), { nonEmpty: true }),
      durable: s.bool(),
      declareQueue: s.bool(),
      mode: s.enum(SINK_MODES),
      batch,
      retry,
      timeoutMs: s.number({ min: 1, max: MAX_TIMER_MS }),
      spool,
      truncate,
    },
    { required: ['url'] },
  ),
});

/** One sink's configuration as the table accepts it. */
export type SinkSpecConfig = Infer<typeof SINK>;
