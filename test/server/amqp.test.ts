// The AMQP source against the real RabbitMQ on 127.0.0.1:5672: oslo.messaging 2.0 envelopes, ack after commit,
// reject of undecodable messages. Each test uses its own exchange and queue and deletes them afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Channel, type ChannelModel, connect } from 'amqplib';
import { AmqpSource } from '../../src/ingest/amqp.ts';
import { Ingestor } from '../../src/ingest/pipeline.ts';
import { openStore } from '../../src/store/index.ts';
import { fixtureJson, startTestServer, type TestServer, until } from './helpers.ts';

const URL = 'amqp://guest:guest@127.0.0.1:5672';

describe('AMQP source (RabbitMQ)', () => {
  const exchange = `vigil-test-${randomUUID()}`;
  const queue = `vigil-test-q-${randomUUID()}`;
  let conn: ChannelModel;
  let ch: Channel;
  let s: TestServer;

  before(async () => {
    conn = await connect(URL);
    ch = await conn.createChannel();
    s = await startTestServer(`
ingest:
  amqp:
    - { url: '${URL}', exchange: ${exchange}, topic: notifications, queue: ${queue}, cluster: cloud-eu }
`);
    await s.amqp[0]!.connected();
  });
  after(async () => {
    await s.stop();
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
  });

  /** Publishes as oslo.messaging's rabbit driver does: persistent JSON, routing key `<topic>.info`. */
  const publish = (body: unknown) =>
    ch.publish(exchange, 'notifications.info', Buffer.from(JSON.stringify(body)), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
    });
  const wire = (notification: Record<string, unknown>) => ({
    'oslo.version': '2.0',
    'oslo.message': JSON.stringify({
      ...notification,
      _unique_id: randomUUID().replace(/-/g, ''),
      _context_is_admin: true,
    }),
  });
  const total = async (q: string) => (await s.get(`/api/v1/events?size=1&${q}`)).body.total as number;

  test('CADF in the 2.0 envelope: request then response → one stored event with outcome success, acked', async () => {
    const request = fixtureJson('cadf-request-notification.json') as Record<string, unknown>;
    const response = fixtureJson('cadf-response-notification.json') as Record<string, unknown>;
    publish(wire(request));
    publish(wire(response));
    const id = '8cf14af5-246e-5739-a11e-513ca13b7d36';
    await until(async () => {
      const r = await s.get(`/api/v1/events?audit_id_filter=${id}`);
      return r.body.total === 1 && r.body.items[0].stage === 'ResponseComplete';
    }, 'the response to be stored');
    const e = (await s.get(`/api/v1/events?audit_id_filter=${id}`)).body.items[0];
    assert.equal(e.origin.cadf.outcome, 'success');
    assert.equal(e.source, 'cadf');
    assert.equal(e.cluster, 'cloud-eu', "the source's cluster");
    // Acked after commit: nothing is left on the queue, ready or unacknowledged.
    await until(async () => (await ch.checkQueue(queue)).messageCount === 0, 'the queue to drain');
    const m = await s.get('/metrics');
    assert.match(m.body, /vigil_ingest_stored_total\{path="amqp"\} [12]/);
  });

  test('a plain (v1, no envelope) notification is consumed too', async () => {
    const response = fixtureJson('cadf-response-notification.json') as Record<string, Record<string, unknown>>;
    publish({ ...response, payload: { ...response.payload, id: 'plain-1' } });
    await until(async () => (await total('audit_id_filter=plain-1')) === 1, 'the plain notification');
  });

  test('an undecodable message is rejected without requeue and stores nothing; consuming goes on', async () => {
    ch.publish(exchange, 'notifications.info', Buffer.from('this is not JSON'));
    publish(wire({ event_type: 'compute.instance.create.end', payload: { instance_id: 'x' } }));
    await until(
      async () =>
        /vigil_ingest_rejected_total\{path="amqp",reason="undecodable"\} 2/.test((await s.get('/metrics')).body),
      'two rejections',
    );
    const response = fixtureJson('cadf-response-notification.json') as Record<string, Record<string, unknown>>;
    publish(wire({ ...response, payload: { ...response.payload, id: 'after-bad' } }));
    await until(async () => (await total('audit_id_filter=after-bad')) === 1, 'the next good message');
    await until(async () => (await ch.checkQueue(queue)).messageCount === 0, 'the queue to drain');
  });
});

test('AMQP: a store failure nacks the message back onto the queue (nothing is lost)', async () => {
  const exchange = `vigil-test-${randomUUID()}`;
  const queue = `vigil-test-q-${randomUUID()}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-amqp-'));
  const conn = await connect(URL);
  const ch = await conn.createChannel();
  const store = await openStore({ type: 'sqlite', path: path.join(dir, 'v.db') });
  await store.close(); // every append now fails
  const logs: string[] = [];
  const log = { info() {}, warn() {}, error: (_: object, msg: string) => logs.push(msg) };
  const source = new AmqpSource({ url: URL, exchange, queue }, new Ingestor(store, {}), log, { backoffMs: 50 });
  try {
    source.start();
    await source.connected();
    const response = fixtureJson('cadf-response-notification.json') as Record<string, unknown>;
    ch.publish(exchange, 'notifications.info', Buffer.from(JSON.stringify(response)));
    await until(() => logs.filter((m) => /store failed; requeued/.test(m)).length >= 2, 'a requeue and a redelivery');
    await source.stop();
    // Back on the queue, ready for the next consumer.
    await until(async () => (await ch.checkQueue(queue)).messageCount === 1, 'the message to be back on the queue');
  } finally {
    await source.stop();
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AMQP: retries a refused connection with backoff, and reconnects after losing the connection', async () => {
  const exchange = `vigil-test-${randomUUID()}`;
  const queue = `vigil-test-q-${randomUUID()}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-amqp-'));
  const store = await openStore({ type: 'sqlite', path: path.join(dir, 'v.db') });
  const warnings: string[] = [];
  const log = { info() {}, warn: (_: object, msg: string) => warnings.push(msg), error() {} };
  const refused = new AmqpSource(
    { url: 'amqp://guest:guest@127.0.0.1:1', exchange, queue },
    new Ingestor(store, {}),
    log,
    {
      backoffMs: 10,
    },
  );
  refused.start();
  await until(() => warnings.filter((m) => m === 'amqp connect failed').length >= 3, 'three connection attempts');
  await refused.stop();

  const source = new AmqpSource({ url: URL, exchange, queue }, new Ingestor(store, {}), log, { backoffMs: 10 });
  const conn = await connect(URL);
  const ch = await conn.createChannel();
  try {
    source.start();
    await source.connected();
    // Lose the connection under the source's feet.
    await (source as unknown as { conn: ChannelModel }).conn.close();
    await until(() => warnings.includes('amqp connection lost, reconnecting'), 'the loss to be noticed');
    await source.connected();
    const response = fixtureJson('cadf-response-notification.json') as Record<string, Record<string, unknown>>;
    ch.publish(
      exchange,
      'notifications.info',
      Buffer.from(JSON.stringify({ ...response, payload: { ...response.payload, id: 'reconnected-1' } })),
    );
    await until(
      async () => (await store.query({ exact: { auditID: ['reconnected-1'] } }, { sort: 'desc', size: 1 })).total === 1,
      'the message after reconnecting',
    );
  } finally {
    await source.stop();
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AMQP: passive mode checks an existing exchange instead of declaring it, and fails on a missing one', async () => {
  const exchange = `vigil-test-${randomUUID()}`;
  const queue = `vigil-test-q-${randomUUID()}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-amqp-'));
  const store = await openStore({ type: 'sqlite', path: path.join(dir, 'v.db') });
  const warnings: string[] = [];
  const log = { info() {}, warn: (o: object, msg: string) => warnings.push(`${msg} ${JSON.stringify(o)}`), error() {} };
  const conn = await connect(URL);
  const ch = await conn.createChannel();
  const missing = new AmqpSource({ url: URL, exchange, queue, passive: true }, new Ingestor(store, {}), log, {
    backoffMs: 10,
  });
  const source = new AmqpSource({ url: URL, exchange, queue, passive: true }, new Ingestor(store, {}), log);
  try {
    missing.start();
    await until(
      () => warnings.some((w) => /amqp connect failed .*NOT_FOUND/.test(w)),
      'the missing exchange to be reported',
    );
    await missing.stop();
    // The service (oslo) declares its exchange: topic, non-durable.
    await ch.assertExchange(exchange, 'topic', { durable: false });
    source.start();
    await source.connected();
    const response = fixtureJson('cadf-response-notification.json') as Record<string, Record<string, unknown>>;
    const body = { ...response, payload: { ...response.payload, id: 'passive-1' } };
    ch.publish(exchange, 'notifications.info', Buffer.from(JSON.stringify(body)));
    await until(
      async () => (await store.query({ exact: { auditID: ['passive-1'] } }, { sort: 'desc', size: 1 })).total === 1,
      'the message through the passively checked exchange',
    );
  } finally {
    await missing.stop();
    await source.stop();
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AMQP: the configured limits apply: a field over ingest.limits.maxFieldLength is rejected, nothing stored', async () => {
  const exchange = `vigil-test-${randomUUID()}`;
  const queue = `vigil-test-q-${randomUUID()}`;
  const conn = await connect(URL);
  const ch = await conn.createChannel();
  const s = await startTestServer(`
ingest:
  limits: { maxFieldLength: 256 }
  amqp:
    - { url: '${URL}', exchange: ${exchange}, topic: notifications, queue: ${queue} }
`);
  try {
    await s.amqp[0]!.connected();
    const response = JSON.parse(
      readFileSync(path.join(import.meta.dirname, '../fixtures/cadf-response-notification.json'), 'utf8'),
    ) as { payload: Record<string, unknown> & { initiator: Record<string, unknown> } };
    const long = {
      ...response.payload,
      id: 'long-1',
      initiator: { ...response.payload.initiator, name: 'n'.repeat(300) },
    };
    const short = { ...response.payload, id: 'short-1' };
    for (const payload of [long, short])
      ch.publish(exchange, 'notifications.info', Buffer.from(JSON.stringify({ ...response, payload })));
    await until(
      async () => (await s.get('/api/v1/events?size=1&audit_id_filter=short-1')).body.total === 1,
      'the message within the limits',
    );
    assert.match((await s.get('/metrics')).body, /vigil_ingest_rejected_total\{path="amqp",reason="undecodable"\} 1/);
    assert.equal((await s.get('/api/v1/events?size=1&audit_id_filter=long-1')).body.total, 0);
    await until(async () => (await ch.checkQueue(queue)).messageCount === 0, 'the queue to drain');
  } finally {
    await s.stop();
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
  }
});
