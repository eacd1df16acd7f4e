// The NATS JetStream destination: each event published to a subject a stream captures, with JetStream's publish
// acknowledgement (the maintained @nats-io client). The message id (`Nats-Msg-Id`) is the event's id, so a batch sent
// again after a failure or a restart is stored once by JetStream's own de-duplication (within the stream's
// duplicate window, 2 minutes by default). A stage that replaced a stored event in place is a new message: its id
// carries the log position (`<id>.<position>`).
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type Delivery, type Destination, DestinationError } from './types.ts';

export interface NatsOptions {
  servers: string | string[];
  subject: string;
  token?: string;
  user?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string };
  /** Connect and publish-acknowledgement timeout. */
  timeoutMs?: number;
}

/** The JetStream message id of a delivery. */
export function natsMsgId(d: Delivery): string {
  return d.replaced ? `${d.event.id}.${d.position}` : d.event.id;
}

export class NatsDestination implements Destination {
  readonly #o: NatsOptions;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;

  constructor(o: NatsOptions) {
    this.#o = o;
  }

  async #client(): Promise<JetStreamClient> {
    if (this.#js && this.#nc && !this.#nc.isClosed()) return this.#js;
    const t = this.#o.tls;
    try {
      this.#nc = await connect({
        servers: this.#o.servers,
        token: this.#o.token,
        user: this.#o.user,
        pass: this.#o.password,
        timeout: this.#o.timeoutMs ?? 10_000,
        name: 'vigil-forward',
        // the client reconnects by itself meanwhile; publishes wait in its buffer and their acks time out
        maxReconnectAttempts: -1,
        ...(t ? { tls: { caFile: t.ca, certFile: t.cert, keyFile: t.key } } : {}),
      });
    } catch (err) {
      throw new DestinationError(`nats connect failed: ${(err as Error).message}`, undefined, err);
    }
    this.#js = jetstream(this.#nc, { timeout: this.#o.timeoutMs ?? 10_000 });
    return this.#js;
  }

  async send(batch: Delivery[]): Promise<void> {
    const js = await this.#client();
    const enc = new TextEncoder();
    // published back to back (in order on the connection), then every acknowledgement awaited
    const acks = batch.map((d) =>
      js.publish(this.#o.subject, enc.encode(JSON.stringify(d.body)), { msgID: natsMsgId(d) }),
    );
    const results = await Promise.allSettled(acks);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed)
      throw new DestinationError(
        `nats publish to ${this.#o.subject} failed: ${(failed.reason as Error)?.message ?? failed.reason}`,
        undefined,
        failed.reason,
      );
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#js = undefined;
    await nc?.close().catch(() => {});
  }
}
