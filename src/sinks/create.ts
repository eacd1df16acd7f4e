// Builds a sink chain from its typed configuration, in kube-apiserver's order where it has one:
//   counting → [keepStages (OpenFaaS, CADF)] → [buffered (batch mode)] → spooled | ignoreErrors → [truncate]
//     → [retrying] → transport
// Truncate sits after batching (kube-apiserver puts it before, where its byte split never sees a batch:
// kubernetes#60432). The spool catches what fails after the retries and what overflows the buffer. flush()
// resolves once every event written is delivered or on disk: with a spool, retries give up to it while a flush
// waits; without one, the flush waits out the retries, and either way the process stays alive meanwhile.
import type { AuditEvent } from '../event/model.ts';
import type { Registry } from '../metrics/registry.ts';
import { AmqpTransport } from './amqp.ts';
import { buffered, DEFAULT_BATCH } from './buffered.ts';
import { defaultEncoders, type Encoders } from './encoders.ts';
import { ignoreErrors } from './ignore-errors.ts';
import { loadKubeconfig, type WebhookTarget } from './kubeconfig.ts';
import { LogSink } from './log.ts';
import { SinkMetrics } from './metrics.ts';
import { retrying } from './retrying.ts';
import { spooled } from './spooled.ts';
import { CADF_STAGES, keepStages, OPENFAAS_STAGES } from './stages.ts';
import { truncate } from './truncate.ts';
import {
  type AmqpSinkConfig,
  type BatchOptions,
  SINK_MODES,
  type Sink,
  type SinkConfig,
  type SinkLogger,
  type SinkMode,
  stderrLogger,
  type WebhookSinkConfig,
} from './types.ts';
import { FlushUrgency, KeepAlive } from './util.ts';
import { WebhookTransport } from './webhook.ts';

export interface SinkDeps {
  encoders?: Encoders;
  logger?: SinkLogger;
  /** Registry for this sink's metrics; default the shared `sinkRegistry`. */
  registry?: Registry;
}

/** A built sink and its metrics. */
export interface BuiltSink extends Sink {
  readonly name: string;
  readonly metrics: SinkMetrics;
}

export const noopSink: Sink = {
  write: async () => {},
  flush: async () => {},
  close: async () => {},
};

function checkMode(mode: string, type: string): SinkMode {
  if (!(SINK_MODES as readonly string[]).includes(mode)) {
    throw new Error(`${type}.mode must be one of ${SINK_MODES.join(', ')}, got "${mode}"`);
  }
  return mode as SinkMode;
}

function counting(name: string, metrics: SinkMetrics, inner: Sink, urgency?: FlushUrgency): BuiltSink {
  // A write or flush in progress holds events only in memory until it resolves: keep the process alive till then.
  const alive = new KeepAlive();
  return {
    name,
    metrics,
    write(events: AuditEvent[]) {
      metrics.events(events.length);
      return alive.track(inner.write(events));
    },
    flush: () => alive.track(urgency ? urgency.during(() => inner.flush()) : inner.flush()),
    async close() {
      try {
        await alive.track(inner.close());
      } finally {
        alive.release();
      }
    },
  };
}

export async function createSink(config: SinkConfig, deps: SinkDeps = {}): Promise<BuiltSink> {
  const encoders = deps.encoders ?? defaultEncoders;
  const logger = deps.logger ?? stderrLogger;
  const name = config.name ?? config.type;
  const metrics = new SinkMetrics(name, deps.registry);
  switch (config.type) {
    case 'noop':
      return counting(name, metrics, noopSink);
    case 'log': {
      const mode = checkMode(config.mode ?? 'blocking', 'log');
      let sink: Sink = new LogSink({ ...config, encoders, metrics, logger });
      if (config.truncate) sink = truncate(sink, { ...config.truncate, metrics, logger });
      if (mode !== 'blocking-strict') sink = ignoreErrors(sink, { metrics, logger });
      if (mode === 'batch') {
        // kube-apiserver's log batch defaults: batch size 1, no throttle.
        const batch: BatchOptions = { maxBatchSize: 1, throttle: false, maxInFlight: 1, ...config.batch };
        sink = buffered(sink, batch, { metrics, logger });
      }
      if (config.format === 'cadf') sink = keepStages(sink, CADF_STAGES);
      return counting(name, metrics, sink);
    }
    case 'webhook':
    case 'amqp': {
      const mode = checkMode(config.mode ?? 'batch', config.type);
      let sink: Sink =
        config.type === 'webhook'
          ? webhookTransport(config, encoders, metrics)
          : amqpTransport(config, encoders, metrics, logger);
      const urgency = config.spool ? new FlushUrgency() : undefined;
      sink = retrying(sink, { ...config.retry, metrics, urgency });
      if (config.truncate) sink = truncate(sink, { ...config.truncate, metrics, logger });
      const strict = mode === 'blocking-strict';
      let overflow: ((events: AuditEvent[]) => Promise<void>) | undefined;
      if (config.spool) {
        const s = await spooled(sink, config.spool, {
          strict,
          metrics,
          logger,
          replayBackoffMs: config.spool.replayBackoffMs ?? config.retry?.initialBackoffMs,
          replayBatchSize: config.spool.replayBatchSize ?? config.batch?.maxBatchSize ?? DEFAULT_BATCH.maxBatchSize,
        });
        overflow = (events) => s.spill(events);
        sink = s;
      } else if (!strict) {
        sink = ignoreErrors(sink, { metrics, logger });
      }
      if (mode === 'batch') sink = buffered(sink, config.batch, { metrics, logger, overflow });
      if (config.type === 'amqp') sink = keepStages(sink, CADF_STAGES);
      else if (config.body === 'openfaas') sink = keepStages(sink, OPENFAAS_STAGES);
      return counting(name, metrics, sink, urgency);
    }
    default: {
      const t: never = config;
      throw new Error(`unknown sink type "${(t as { type: string }).type}"`);
    }
  }
}

function webhookTransport(c: WebhookSinkConfig, encoders: Encoders, metrics: SinkMetrics): Sink {
  if (!!c.url === !!c.kubeconfig) throw new Error('webhook: set exactly one of url and kubeconfig');
  let target: WebhookTarget;
  if (c.url) {
    let u: URL;
    try {
      u = new URL(c.url);
    } catch {
      throw new Error(`webhook.url "${c.url}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new Error(`webhook.url "${c.url}" must be http or https`);
    target = { url: c.url };
  } else {
    target = loadKubeconfig(c.kubeconfig!);
  }
  const body = c.body ?? 'eventlist';
  if (body !== 'eventlist' && body !== 'openfaas')
    throw new Error(`webhook.body must be eventlist or openfaas, got "${body}"`);
  return new WebhookTransport({
    target,
    body,
    secret: c.secret,
    standardWebhooksSecret: c.standardWebhooks?.secret,
    timeoutMs: c.timeoutMs,
    encoders,
    metrics,
  });
}

function amqpTransport(c: AmqpSinkConfig, encoders: Encoders, metrics: SinkMetrics, logger: SinkLogger): Sink {
  if (!c.url) throw new Error('amqp.url is required');
  return new AmqpTransport({
    url: c.url,
    exchange: c.exchange,
    topics: c.topics,
    durable: c.durable,
    declareQueue: c.declareQueue,
    timeoutMs: c.timeoutMs,
    encoders,
    metrics,
    logger,
  });
}
