// oslo.messaging `messagingv2` notifications to RabbitMQ, so that Vigil's events look like an OpenStack
// service's audit notifications to Ceilometer, Panko or anything bound to `notifications.info`.
// Like oslo's rabbit driver: a topic exchange (`openstack` by default, durable = amqp_durable_queues,
// default false), routing key `<topic>.info` per topic, and on each new connection the default queue
// named like the routing key, declared and bound so that notifications accumulate with no consumer.
// Unlike oslo (which logs and forgets a notification when the broker is down), a batch resolves only
// when the broker has confirmed every message on a ConfirmChannel; anything else is a retryable
// DeliveryError, so the retrying/spooled decorators keep it. A lost connection is dropped and the next
// write reconnects.
import { once } from 'node:events';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { AuditEvent } from '../event/model.ts';
import { type Encoders, toJSON } from './encoders.ts';
import type { SinkMetrics } from './metrics.ts';
import { DeliveryError, type Sink, SinkClosedError, type SinkLogger, stderrLogger } from './types.ts';

export interface AmqpTransportOptions {
  url: string;
  exchange?: string;
  topics?: string[];
  durable?: boolean;
  declareQueue?: boolean;
  /** Wait for the broker's confirms of one batch, ms. Default 30000. */
  timeoutMs?: number;
  encoders: Encoders;
  metrics?: SinkMetrics;
  logger?: SinkLogger;
}

/** oslo's message properties (impl_rabbit): JSON, UTF-8, persistent, priority 0, no headers. */
export const OSLO_PROPERTIES = {
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  deliveryMode: 2,
  priority: 0,
} as const;

interface Connected {
  conn: ChannelModel;
  ch: ConfirmChannel;
}

export class AmqpTransport implements Sink {
  readonly exchange: string;
  readonly routingKeys: string[];
  private readonly o: AmqpTransportOptions;
  private readonly logger: SinkLogger;
  private connecting: Promise<Connected> | undefined;
  private closed = false;

  constructor(o: AmqpTransportOptions) {
    this.o = o;
    this.exchange = o.exchange ?? 'openstack';
    const topics = o.topics ?? ['notifications'];
    if (topics.length === 0) throw new Error('amqp.topics must name at least one topic');
    this.routingKeys = topics.map((t) => `${t}.info`);
    this.logger = o.logger ?? stderrLogger;
  }

  private connect(): Promise<Connected> {
    if (!this.connecting) {
      // Events of an old connection must not forget a newer one: each compares against its own promise.
      const p: Promise<Connected> = this.open(() => this.forget(p));
      this.connecting = p;
      p.catch(() => this.forget(p));
    }
    return this.connecting;
  }

  private forget(p: Promise<Connected>): void {
    if (this.connecting === p) this.connecting = undefined;
  }

  private async open(forget: () => void): Promise<Connected> {
    const conn = await amqp.connect(this.o.url);
    conn.on('error', (err: Error) => {
      this.logger.warn('amqp connection lost; will reconnect on the next batch', { error: err.message });
      forget();
    });
    conn.on('close', forget);
    try {
      const ch = await conn.createConfirmChannel();
      ch.on('error', (err: Error) => this.logger.warn('amqp channel error', { error: err.message }));
      ch.on('close', () => {
        // A closed channel (e.g. publishing to a deleted exchange) makes the connection useless to us.
        forget();
        conn.close().catch(() => {});
      });
      const durable = this.o.durable ?? false;
      await ch.assertExchange(this.exchange, 'topic', { durable, autoDelete: false });
      if (this.o.declareQueue ?? true) {
        for (const key of this.routingKeys) {
          await ch.assertQueue(key, { durable, autoDelete: false });
          await ch.bindQueue(key, this.exchange, key);
        }
      }
      return { conn, ch };
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
  }

  async write(events: AuditEvent[]): Promise<void> {
    if (this.closed) throw new SinkClosedError('amqp sink');
    const started = performance.now();
    let c: Connected | undefined;
    const p = this.connect();
    try {
      c = await p;
      const confirms: Promise<void>[] = [];
      for (const e of events) {
        const body = Buffer.from(toJSON(this.o.encoders.encodeOsloWire(this.o.encoders.encodeOsloNotification(e))));
        for (const key of this.routingKeys) {
          let ok = true;
          const confirmed = new Promise<void>((resolve, reject) => {
            ok = c!.ch.publish(this.exchange, key, body, OSLO_PROPERTIES, (err) =>
              err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
            );
          });
          // Observed by Promise.all below, unless a drain timeout ends the batch first.
          confirmed.catch(() => {});
          confirms.push(confirmed);
          // The socket buffer is full: wait before publishing more, rather than queueing without bound.
          if (!ok) await withTimeout(once(c.ch, 'drain'), this.o.timeoutMs ?? 30_000);
        }
      }
      await withTimeout(Promise.all(confirms), this.o.timeoutMs ?? 30_000);
      this.o.metrics?.delivered(events.length);
    } catch (err) {
      this.o.metrics?.error();
      // Unconfirmed messages: drop this connection so the retry starts clean.
      if (c) {
        this.forget(p);
        c.conn.close().catch(() => {});
      }
      throw new DeliveryError(`amqp publish failed: ${(err as Error).message ?? err}`, { retryable: true, cause: err });
    } finally {
      this.o.metrics?.batchSeconds((performance.now() - started) / 1000);
    }
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    const p = this.connecting;
    this.connecting = undefined;
    if (p) {
      const c = await p.catch(() => undefined);
      await c?.conn.close().catch(() => {});
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`no broker confirm within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
