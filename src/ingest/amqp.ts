// Consumes oslo.messaging notifications (keystonemiddleware's CADF audit events) from RabbitMQ: Vigil's own queue
// bound to the service exchange with `<topic>.info`, so it never competes with other consumers of oslo's default
// queue. A message is acked only after the store has committed its event; a store failure nacks it back onto
// the queue; an undecodable message is rejected (not requeued) with a log line. Connection loss → reconnect with
// exponential backoff.
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from 'amqplib';
import type { AmqpSourceConfig } from '../config/index.ts';
import type { AuditEvent } from '../event/index.ts';
import { type Delivery, FORMATS, NO_HEADERS } from './formats.ts';
import type { Ingestor } from './pipeline.ts';

export interface AmqpLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AmqpSourceOptions {
  /** First reconnect delay; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  prefetch?: number;
}

export function amqpNames(c: AmqpSourceConfig): { topic: string; bindingKey: string; queue: string } {
  const topic = c.topic ?? 'notifications';
  return { topic, bindingKey: `${topic}.info`, queue: c.queue ?? `vigil.${c.exchange}.${topic}` };
}

/** Whether `queue` exists, asked on a channel of its own: the broker closes the channel that asks for a missing one. */
async function queueExists(conn: ChannelModel, queue: string): Promise<boolean> {
  const probe = await conn.createChannel();
  probe.on('error', () => {});
  try {
    await probe.checkQueue(queue);
  } catch {
    return false;
  }
  await probe.close();
  return true;
}

export class AmqpSource {
  private readonly cfg: AmqpSourceConfig;
  /** What the source's events are bound to (`cluster`), as a caller's token binds its deliveries. */
  private readonly delivery: Delivery;
  private readonly ingestor: Ingestor;
  private readonly log: AmqpLogger;
  private readonly opts: Required<AmqpSourceOptions>;
  private conn?: ChannelModel;
  private channel?: Channel;
  private consumerTag?: string;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private attempt = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private connectedWaiters: (() => void)[] = [];

  constructor(cfg: AmqpSourceConfig, ingestor: Ingestor, log: AmqpLogger, opts: AmqpSourceOptions = {}) {
    this.cfg = cfg;
    this.delivery = cfg.cluster ? { header: () => undefined, cluster: cfg.cluster } : NO_HEADERS;
    this.ingestor = ingestor;
    this.log = log;
    this.opts = { backoffMs: 500, maxBackoffMs: 30_000, prefetch: 100, ...opts };
  }

  /** Starts consuming; connection failures are retried in the background. */
  start(): void {
    void this.connect();
  }

  /** Resolves once the consumer is set up (or immediately if it already is). */
  connected(): Promise<void> {
    if (this.channel) return Promise.resolve();
    return new Promise((r) => this.connectedWaiters.push(r));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { bindingKey, queue } = amqpNames(this.cfg);
    const where = { exchange: this.cfg.exchange, queue, bindingKey };
    let conn: ChannelModel | undefined;
    try {
      conn = await connect(this.cfg.url);
      conn.on('error', (err) => this.log.warn({ ...where, err: err.message }, 'amqp connection error'));
      conn.on('close', () => this.lost(conn!));
      const ch = await conn.createChannel();
      ch.on('error', (err) => this.log.warn({ ...where, err: err.message }, 'amqp channel error'));
      if (this.cfg.passive) await ch.checkExchange(this.cfg.exchange);
      // As oslo declares it: topic, non-durable, not auto-deleted; different flags fail with PRECONDITION_FAILED.
      else await ch.assertExchange(this.cfg.exchange, 'topic', { durable: false, autoDelete: false });
      // A queue that exists is used as it is: oslo declares its own (`<topic>.info`) with the service's durability
      // and arguments (amqp_durable_queues, quorum queues), which a declaration with other flags would fail with.
      if (!(await queueExists(conn, queue))) await ch.assertQueue(queue, { durable: false, autoDelete: false });
      await ch.bindQueue(queue, this.cfg.exchange, bindingKey);
      await ch.prefetch(this.opts.prefetch);
      const { consumerTag } = await ch.consume(queue, (m) => m && this.track(this.handle(ch, m)), { noAck: false });
      this.consumerTag = consumerTag;
      if (this.stopped) return void (await conn.close().catch(() => {}));
      this.conn = conn;
      this.channel = ch;
      this.attempt = 0;
      this.log.info(where, 'amqp source consuming');
      for (const w of this.connectedWaiters.splice(0)) w();
    } catch (err) {
      this.log.warn({ ...where, err: (err as Error).message }, 'amqp connect failed');
      await conn?.close().catch(() => {});
      this.schedule();
    }
  }

  private lost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.channel = undefined;
    if (!this.stopped) {
      this.log.warn({ exchange: this.cfg.exchange }, 'amqp connection lost, reconnecting');
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const delay = Math.min(this.opts.backoffMs * 2 ** this.attempt++, this.opts.maxBackoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async handle(ch: Channel, m: ConsumeMessage): Promise<void> {
    // A delivery that reaches us once stopping has begun (prefetched before the cancel) is left unacked: the broker
    // requeues it when the connection closes. Storing it now could race the close and lose its ack, so the next run
    // would store it again (counted as a duplicate, but no longer "exactly once").
    if (this.stopped) return;
    let events: AuditEvent[];
    try {
      events = this.ingestor.decode(FORMATS.amqp, m.content.toString('utf8'));
    } catch (err) {
      this.ingestor.rejected('amqp', 'undecodable');
      this.log.error(
        { exchange: this.cfg.exchange, routingKey: m.fields.routingKey, err: (err as Error).message },
        'amqp message rejected: not a CADF notification',
      );
      ch.reject(m, false);
      return;
    }
    try {
      await this.ingestor.ingest(FORMATS.amqp, events, this.delivery);
      ch.ack(m);
    } catch (err) {
      this.ingestor.rejected('amqp', 'store');
      this.log.error({ exchange: this.cfg.exchange, err: (err as Error).message }, 'amqp store failed; requeued');
      // Requeue after a pause: an immediate redelivery would spin while the store is failing.
      if (!this.stopped) await new Promise((r) => setTimeout(r, this.opts.backoffMs));
      try {
        ch.nack(m, false, true);
      } catch {
        // The channel is gone; the broker redelivers the unacked message anyway.
      }
    }
  }

  /** Stops consuming, waits for messages being stored (so they are acked), then closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const ch = this.channel;
    // Cancel the consumer so that no new deliveries arrive while draining.
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => {});
    // until none is left: a delivery dispatched during the wait is tracked after the first snapshot
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const conn = this.conn;
    this.conn = undefined;
    this.channel = undefined;
    // The channel first: its close frame follows the acks on the channel's own stream, so the broker has them before
    // the connection goes. Closing the connection alone could overtake acks still queued on the channel (amqplib
    // writes channel 0 ahead of them), and the broker would redeliver what was stored.
    await ch?.close().catch(() => {});
    await conn?.close().catch(() => {});
    for (const w of this.connectedWaiters.splice(0)) w();
  }
}
