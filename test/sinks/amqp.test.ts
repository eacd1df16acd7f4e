// Against the real RabbitMQ on 127.0.0.1:5672: a plain amqplib consumer receives what the sink sends.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { Registry } from '../../src/metrics/registry.ts';
import { createSink } from '../../src/sinks/create.ts';
import type { AmqpSinkConfig, SinkLogger } from '../../src/sinks/types.ts';
import { events, tempDir, waitFor } from './helpers.ts';

const URL_ = 'amqp://guest:guest@127.0.0.1:5672';
const quiet: SinkLogger = { warn() {}, error() {} };

interface Broker {
  conn: ChannelModel;
  ch: Channel;
  exchange: string;
  topic: string;
}

/** A test connection, and unique exchange/topic names, deleted after the test. */
async function broker(t: { after(fn: () => Promise<void>): void }): Promise<Broker> {
  const conn = await amqp.connect(URL_);
  const ch = await conn.createChannel();
  const id = randomUUID().slice(0, 8);
  const b = { conn, ch, exchange: `vigil-test-${id}`, topic: `vigil-test-${id}` };
  t.after(async () => {
    for (const q of [`${b.topic}.info`, `${b.topic}-audit.info`]) await ch.deleteQueue(q).catch(() => {});
    await ch.deleteExchange(b.exchange).catch(() => {});
    await conn.close().catch(() => {});
  });
  return b;
}

function consume(b: Broker, queue: string): { messages: ConsumeMessage[] } {
  const out = { messages: [] as ConsumeMessage[] };
  void b.ch.consume(
    queue,
    (m) => {
      if (m) {
        out.messages.push(m);
        b.ch.ack(m);
      }
    },
    { noAck: false },
  );
  return out;
}

/** The oslo 2.0 envelope, parsed twice as a consumer must. */
function decode(m: ConsumeMessage): { envelope: Record<string, unknown>; message: Record<string, unknown> } {
  const envelope = JSON.parse(m.content.toString('utf8'));
  return { envelope, message: JSON.parse(envelope['oslo.message']) };
}

function sinkOf(config: Omit<AmqpSinkConfig, 'type'>) {
  return createSink({ type: 'amqp', ...config }, { registry: new Registry(), logger: quiet });
}

test('oslo messagingv2 notifications: topic exchange, <topic>.info, default queue, 2.0 envelope, oslo properties', async (t) => {
  const b = await broker(t);
  const sink = await sinkOf({
    url: URL_,
    exchange: b.exchange,
    topics: [b.topic],
    mode: 'blocking-strict',
    retry: { initialBackoffMs: 5, maxAttempts: 2 },
  });
  await sink.write(events(0, 5));
  // The default queue was declared and bound by the sink, so the messages wait there with no consumer.
  const q = await b.ch.checkQueue(`${b.topic}.info`);
  assert.equal(q.messageCount, 5);
  await b.ch.checkExchange(b.exchange);
  const got = consume(b, `${b.topic}.info`);
  await waitFor(() => got.messages.length === 5, 'five notifications');
  for (const m of got.messages) {
    assert.equal(m.fields.exchange, b.exchange);
    assert.equal(m.fields.routingKey, `${b.topic}.info`);
    assert.equal(m.properties.contentType, 'application/json');
    assert.equal(m.properties.contentEncoding, 'utf-8');
    assert.equal(m.properties.deliveryMode, 2);
    const { envelope, message } = decode(m);
    assert.equal(envelope['oslo.version'], '2.0');
    assert.equal(typeof envelope['oslo.message'], 'string');
    assert.equal(message.priority, 'INFO');
    assert.match(String(message.event_type), /^audit\.http\./);
    assert.equal(typeof message.payload, 'object');
  }
  assert.deepEqual(
    got.messages.map((m) => (decode(m).message.payload as { id: string }).id),
    events(0, 5).map((e) => e.auditID),
  );
  assert.equal(sink.metrics.snapshot().delivered, 5);
  await sink.close();
});

test('several topics: one copy per topic, each under <topic>.info', async (t) => {
  const b = await broker(t);
  const sink = await sinkOf({
    url: URL_,
    exchange: b.exchange,
    topics: [b.topic, `${b.topic}-audit`],
    mode: 'blocking-strict',
  });
  await sink.write(events(0, 3));
  assert.equal((await b.ch.checkQueue(`${b.topic}.info`)).messageCount, 3);
  assert.equal((await b.ch.checkQueue(`${b.topic}-audit.info`)).messageCount, 3);
  await sink.close();
});

test('the exchange deleted under the sink: the failed batch is retried on a new connection', async (t) => {
  const b = await broker(t);
  const sink = await sinkOf({
    url: URL_,
    exchange: b.exchange,
    topics: [b.topic],
    mode: 'blocking-strict',
    retry: { initialBackoffMs: 5, maxAttempts: 3 },
  });
  await sink.write(events(0, 1));
  await b.ch.deleteExchange(b.exchange);
  // Publishing to a missing exchange closes the channel (404): no confirm, so the batch fails and is
  // retried; the retry reconnects, which declares the exchange again.
  await sink.write(events(1, 2));
  assert.ok(sink.metrics.snapshot().retries >= 1);
  const got = consume(b, `${b.topic}.info`);
  await waitFor(() => got.messages.length >= 3, 'all three notifications');
  assert.deepEqual(
    [...new Set(got.messages.map((m) => (decode(m).message.payload as { id: string }).id))].sort(),
    events(0, 3).map((e) => e.auditID),
  );
  await sink.close();
});

/** A TCP proxy to RabbitMQ that can be taken down (connections cut) and brought back on the same port. */
async function proxy(t: { after(fn: () => Promise<void>): void }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const up = async () => {
    server = net.createServer((c) => {
      const u = net.connect(5672, '127.0.0.1');
      for (const s of [c, u]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      c.pipe(u).pipe(c);
      c.on('close', () => u.destroy());
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  };
  const down = async () => {
    const s = server;
    server = undefined;
    for (const x of sockets) x.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await up();
  t.after(down);
  return { up, down, url: () => `amqp://guest:guest@127.0.0.1:${port}` };
}

test('broker unreachable: unconfirmed batches are spooled, and delivered after it is back', async (t) => {
  const b = await broker(t);
  const p = await proxy(t);
  const sink = await sinkOf({
    url: p.url(),
    exchange: b.exchange,
    topics: [b.topic],
    batch: { maxBatchSize: 10, maxWaitMs: 5, throttle: false },
    retry: { initialBackoffMs: 2, maxAttempts: 2 },
    spool: { dir: tempDir(t), maxBytes: 10_000_000, replayBackoffMs: 5, replayMaxBackoffMs: 40 },
  });
  await sink.write(events(0, 10));
  await sink.flush();
  await waitFor(async () => (await b.ch.checkQueue(`${b.topic}.info`)).messageCount === 10, 'the first batch');
  await p.down();
  await sink.write(events(10, 40));
  await sink.flush();
  assert.equal(sink.metrics.snapshot().spooled, 40, 'everything sent while down is on disk');
  await p.up();
  await waitFor(
    async () => (await b.ch.checkQueue(`${b.topic}.info`)).messageCount >= 50,
    'the spooled notifications after reconnecting',
    15_000,
  );
  await waitFor(() => sink.metrics.snapshot().replayed === 40, 'the spool acknowledged');
  const got = consume(b, `${b.topic}.info`);
  await waitFor(() => got.messages.length >= 50, 'consuming');
  const ids = new Set(got.messages.map((m) => (decode(m).message.payload as { id: string }).id));
  assert.deepEqual(
    events(0, 50)
      .map((e) => e.auditID)
      .filter((id) => !ids.has(id)),
    [],
  );
  await sink.close();
});
