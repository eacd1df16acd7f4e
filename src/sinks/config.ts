// Checks an untyped sink configuration (from YAML or JSON) against SinkConfig, so that a typo or a bad
// value is refused with the exact key at fault. `SinkConfigError.path` holds the keys, for a YAML layer
// to turn into a line and column (the `yaml` package's `doc.getIn(path, true).range`).
import {
  type AmqpSinkConfig,
  type BatchOptions,
  LOG_FORMATS,
  type LogSinkConfig,
  type RetryOptions,
  SINK_MODES,
  type SinkConfig,
  type SpoolConfig,
  type TruncateOptions,
  WEBHOOK_BODIES,
  type WebhookSinkConfig,
} from './types.ts';

export class SinkConfigError extends Error {
  readonly path: (string | number)[];
  constructor(path: (string | number)[], problem: string) {
    super(`${formatPath(path)}: ${problem}`);
    this.name = 'SinkConfigError';
    this.path = path;
  }
}

function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

type Obj = Record<string, unknown>;
type Path = (string | number)[];

function obj(v: unknown, at: Path): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SinkConfigError(at, 'must be a mapping');
  return v as Obj;
}

function only(o: Obj, keys: readonly string[], at: Path): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new SinkConfigError([...at, k], `unknown key (expected one of ${keys.join(', ')})`);
  }
}

function str(o: Obj, k: string, at: Path, required = false): string | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) throw new SinkConfigError([...at, k], 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw new SinkConfigError([...at, k], 'must be a non-empty string');
  return v;
}

function num(o: Obj, k: string, at: Path, min: number, integer = false): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new SinkConfigError([...at, k], `must be ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return v;
}

function bool(o: Obj, k: string, at: Path): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new SinkConfigError([...at, k], 'must be true or false');
  return v;
}

function oneOf<T extends string>(o: Obj, k: string, at: Path, values: readonly T[]): T | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new SinkConfigError([...at, k], `must be one of ${values.join(', ')}`);
  }
  return v as T;
}

function defined<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function batch(v: unknown, at: Path): BatchOptions | undefined {
  if (v === undefined) return undefined;
  const o = obj(v, at);
  only(o, ['bufferSize', 'maxBatchSize', 'maxWaitMs', 'throttle', 'maxInFlight'], at);
  let throttle: BatchOptions['throttle'];
  if (o.throttle === false) throttle = false;
  else if (o.throttle !== undefined) {
    const tat = [...at, 'throttle'];
    const t = obj(o.throttle, tat);
    only(t, ['qps', 'burst'], tat);
    const qps = num(t, 'qps', tat, Number.MIN_VALUE);
    const burst = num(t, 'burst', tat, 1, true);
    if (qps === undefined || burst === undefined) throw new SinkConfigError(tat, 'needs qps and burst (or false)');
    throttle = { qps, burst };
  }
  return defined({
    bufferSize: num(o, 'bufferSize', at, 1, true),
    maxBatchSize: num(o, 'maxBatchSize', at, 1, true),
    maxWaitMs: num(o, 'maxWaitMs', at, 0),
    throttle,
    maxInFlight: num(o, 'maxInFlight', at, 1, true),
  });
}

function retry(v: unknown, at: Path): RetryOptions | undefined {
  if (v === undefined) return undefined;
  const o = obj(v, at);
  only(o, ['initialBackoffMs', 'factor', 'jitter', 'maxAttempts', 'maxRetryAfterMs'], at);
  const jitter = num(o, 'jitter', at, 0);
  if (jitter !== undefined && jitter > 1) throw new SinkConfigError([...at, 'jitter'], 'must be between 0 and 1');
  return defined({
    initialBackoffMs: num(o, 'initialBackoffMs', at, 0),
    factor: num(o, 'factor', at, 1),
    jitter,
    maxAttempts: num(o, 'maxAttempts', at, 1, true),
    maxRetryAfterMs: num(o, 'maxRetryAfterMs', at, 0),
  });
}

function truncate(v: unknown, at: Path): TruncateOptions | undefined {
  if (v === undefined) return undefined;
  const o = obj(v, at);
  only(o, ['maxEventBytes', 'maxBatchBytes'], at);
  const t = defined({
    maxEventBytes: num(o, 'maxEventBytes', at, 1, true),
    maxBatchBytes: num(o, 'maxBatchBytes', at, 1, true),
  });
  if ((t.maxBatchBytes ?? 10_485_760) < (t.maxEventBytes ?? 102_400)) {
    throw new SinkConfigError([...at, 'maxBatchBytes'], 'must be ≥ maxEventBytes');
  }
  return t;
}

function spool(v: unknown, at: Path): SpoolConfig | undefined {
  if (v === undefined) return undefined;
  const o = obj(v, at);
  only(o, ['dir', 'maxBytes', 'segmentBytes', 'fsync', 'replayBackoffMs', 'replayMaxBackoffMs', 'replayBatchSize'], at);
  const maxBytes = num(o, 'maxBytes', at, 1, true);
  if (maxBytes === undefined) throw new SinkConfigError([...at, 'maxBytes'], 'is required');
  return defined({
    dir: str(o, 'dir', at, true)!,
    maxBytes,
    segmentBytes: num(o, 'segmentBytes', at, 1, true),
    fsync: bool(o, 'fsync', at),
    replayBackoffMs: num(o, 'replayBackoffMs', at, 0),
    replayMaxBackoffMs: num(o, 'replayMaxBackoffMs', at, 0),
    replayBatchSize: num(o, 'replayBatchSize', at, 1, true),
  });
}

/** Validates one sink's configuration; `at` is where it sits in the enclosing document. */
export function parseSinkConfig(value: unknown, at: Path = ['sink']): SinkConfig {
  const o = obj(value, at);
  const type = oneOf(o, 'type', at, ['log', 'webhook', 'amqp', 'noop'] as const);
  if (!type) throw new SinkConfigError([...at, 'type'], 'is required (log, webhook, amqp or noop)');
  const name = str(o, 'name', at);
  const mode = oneOf(o, 'mode', at, SINK_MODES);
  switch (type) {
    case 'noop':
      only(o, ['type', 'name'], at);
      return defined({ type, name });
    case 'log': {
      only(
        o,
        [
          'type',
          'name',
          'path',
          'format',
          'maxsize',
          'maxbackup',
          'maxage',
          'compress',
          'mode',
          'batch',
          'truncate',
          'reopenCheckMs',
        ],
        at,
      );
      const c: LogSinkConfig = {
        type,
        name,
        path: str(o, 'path', at, true)!,
        format: oneOf(o, 'format', at, LOG_FORMATS),
        maxsize: num(o, 'maxsize', at, 0),
        maxbackup: num(o, 'maxbackup', at, 0, true),
        maxage: num(o, 'maxage', at, 0),
        compress: bool(o, 'compress', at),
        mode,
        batch: batch(o.batch, [...at, 'batch']),
        truncate: truncate(o.truncate, [...at, 'truncate']),
        reopenCheckMs: num(o, 'reopenCheckMs', at, 0),
      };
      return defined(c as unknown as Obj) as unknown as LogSinkConfig;
    }
    case 'webhook': {
      only(
        o,
        [
          'type',
          'name',
          'url',
          'kubeconfig',
          'mode',
          'batch',
          'retry',
          'timeoutMs',
          'body',
          'secret',
          'standardWebhooks',
          'spool',
          'truncate',
        ],
        at,
      );
      const url = str(o, 'url', at);
      const kubeconfig = str(o, 'kubeconfig', at);
      if (!!url === !!kubeconfig) throw new SinkConfigError(at, 'set exactly one of url and kubeconfig');
      let standardWebhooks: WebhookSinkConfig['standardWebhooks'];
      if (o.standardWebhooks !== undefined) {
        const sat = [...at, 'standardWebhooks'];
        const sw = obj(o.standardWebhooks, sat);
        only(sw, ['secret'], sat);
        standardWebhooks = { secret: str(sw, 'secret', sat, true)! };
      }
      const c: WebhookSinkConfig = {
        type,
        name,
        url,
        kubeconfig,
        mode,
        batch: batch(o.batch, [...at, 'batch']),
        retry: retry(o.retry, [...at, 'retry']),
        timeoutMs: num(o, 'timeoutMs', at, 1),
        body: oneOf(o, 'body', at, WEBHOOK_BODIES),
        secret: str(o, 'secret', at),
        standardWebhooks,
        spool: spool(o.spool, [...at, 'spool']),
        truncate: truncate(o.truncate, [...at, 'truncate']),
      };
      return defined(c as unknown as Obj) as unknown as WebhookSinkConfig;
    }
    case 'amqp': {
      only(
        o,
        [
          'type',
          'name',
          'url',
          'exchange',
          'topics',
          'durable',
          'declareQueue',
          'mode',
          'batch',
          'retry',
          'timeoutMs',
          'spool',
          'truncate',
        ],
        at,
      );
      let topics: string[] | undefined;
      if (o.topics !== undefined) {
        if (!Array.isArray(o.topics) || o.topics.length === 0) {
          throw new SinkConfigError([...at, 'topics'], 'must be a non-empty list of topic names');
        }
        topics = o.topics.map((t, i) => {
          if (typeof t !== 'string' || t === '')
            throw new SinkConfigError([...at, 'topics', i], 'must be a non-empty string');
          return t;
        });
      }
      const c: AmqpSinkConfig = {
        type,
        name,
        url: str(o, 'url', at, true)!,
        exchange: str(o, 'exchange', at),
        topics,
        durable: bool(o, 'durable', at),
        declareQueue: bool(o, 'declareQueue', at),
        mode,
        batch: batch(o.batch, [...at, 'batch']),
        retry: retry(o.retry, [...at, 'retry']),
        timeoutMs: num(o, 'timeoutMs', at, 1),
        spool: spool(o.spool, [...at, 'spool']),
        truncate: truncate(o.truncate, [...at, 'truncate']),
      };
      return defined(c as unknown as Obj) as unknown as AmqpSinkConfig;
    }
  }
}
