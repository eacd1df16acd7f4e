// OpenStack's real audit producer feeding Vigil: keystonemiddleware's AuditMiddleware (Debian's package, run by
// /usr/bin/python3) in front of an Octavia-shaped API, publishing through oslo.messaging to the machine's RabbitMQ
// and, with the `log` driver, into oslo.log's file. The collector consumes the queue oslo declares itself; `vigil
// import` reads the log file. Each describe has its own exchange and topic, removed afterwards.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'amqplib';
import { cadfActionToVerb, decodeCadf, encodeOsloNotification, encodeOsloWire } from '../../src/event/index.ts';
import type { StoredEvent } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';
import { waitFor } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { AGENT, type Ids, type Made, makeCalls, STEPS, USERS, unauthenticatedCall } from './calls.ts';
import {
  AMQP_URL,
  brokerNames,
  type Collector,
  type Json,
  missingPython,
  type OctaviaApi,
  poll,
  STORE_ALL,
  startCollector,
  startOctaviaApi,
} from './helpers.ts';

const skip = missingPython();
if (skip) process.stdout.write(`# skipping the OpenStack real-producer tests: ${skip}\n`);

/** Messages ready on a queue (it must exist). */
async function ready(queue: string): Promise<number> {
  const conn = await connect(AMQP_URL);
  try {
    return (await (await conn.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

/** A copy of every message oslo publishes from now on, taken by a queue of the test's own (deleted on close). */
async function tap(exchange: string, topic: string): Promise<{ messages: Buffer[]; close(): Promise<void> }> {
  const conn = await connect(AMQP_URL);
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, exchange, `${topic}.info`);
  const messages: Buffer[] = [];
  await ch.consume(queue, (m) => m && messages.push(m.content), { noAck: true });
  return { messages, close: () => conn.close() };
}

/** Every stored event, oldest call first. */
async function allEvents(c: Collector): Promise<StoredEvent[]> {
  return (await c.get('/api/v1/events?size=1000&sort=asc')).items;
}

async function total(c: Collector, query: string): Promise<number> {
  return (await c.get(`/api/v1/events?size=1&${query}`)).total;
}

/** Waits until `n` events are stored, each complete (the response notification has replaced the request's). */
async function untilStored(c: Collector, n: number, timeoutMs = 30_000): Promise<StoredEvent[]> {
  let last: StoredEvent[] = [];
  try {
    return await poll(
      `${n} complete events`,
      async () => {
        last = await allEvents(c);
        return last.length === n && last.every((e) => e.stage !== 'RequestReceived') ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    const seen = last.map((e) => `${e.stage} ${e.requestURI}`).join('\n');
    throw new Error(`${(err as Error).message}; stored:\n${seen}`);
  }
}

/** One stored event against the call it records, as the middleware reported it. */
function assertRecords(e: StoredEvent, m: Made, i: number): void {
  const u = USERS[m.step.who];
  const at = `call ${i} (${m.step.method} ${m.path})`;
  const cadf = e.origin?.cadf as Json;
  assert.equal(e.source, 'cadf', at);
  assert.equal(e.requestURI, m.path, at);
  assert.deepEqual(e.user, { username: u.user_name, uid: u.user_id, extra: { project_id: [u.project_id] } }, at);
  assert.equal(e.verb, cadfActionToVerb(m.step.action), at);
  assert.equal(cadf.action, m.step.action, at);
  if (m.step.raises) {
    // No response reached the middleware: outcome unknown, no reason, no status (the 500 came from the server).
    assert.equal(e.stage, 'Panic', at);
    assert.equal(cadf.outcome, 'unknown', at);
    assert.equal(cadf.reason, undefined, at);
    assert.equal(e.responseStatus, undefined, at);
  } else {
    assert.equal(e.stage, 'ResponseComplete', at);
    assert.equal(cadf.outcome, m.status < 400 ? 'success' : 'failure', at);
    assert.deepEqual(cadf.reason, { reasonType: 'HTTP', reasonCode: String(m.status) }, at);
    assert.equal(e.responseStatus?.code, m.status, at);
  }
  assert.equal(cadf.target.typeURI, m.step.typeURI, at);
  // auth_token's catalog for a v3 token has no endpoint ids: the target is the service by name.
  assert.equal(cadf.target.id, 'octavia', at);
  assert.equal(cadf.target.name, 'octavia', at);
  assert.equal(cadf.initiator.typeURI, 'service/security/account/user', at);
  assert.equal(cadf.initiator.credential.identity_status, 'Confirmed', at);
  assert.deepEqual(cadf.observer, { id: 'target' }, at);
  assert.deepEqual(e.sourceIPs, ['127.0.0.1'], at);
  assert.equal(e.userAgent, AGENT, at);
  const oslo: Json = e.origin?.oslo;
  assert.equal(oslo.event_type, 'audit.http.response', at);
  // The token is never stored in clear (pycadf masks it on the wire; the log driver writes ***).
  assert.ok(!JSON.stringify(e).includes(u.token), `${at}: the token is stored in clear`);
  assert.ok(e.stageTimestamp >= e.requestReceivedTimestamp, at);
}

/** How many calls a predicate on the steps selects: the expected answer of a query. */
const count = (made: Made[], pred: (m: Made) => boolean) => made.filter(pred).length;

describe('keystonemiddleware → oslo.messaging → RabbitMQ → collector; its log file → vigil import', { skip }, () => {
  const names = brokerNames();
  let dir: string;
  let api: OctaviaApi | undefined;
  let collector: Collector | undefined;
  let wire: Awaited<ReturnType<typeof tap>> | undefined;
  const made: Made[] = [];

  before(async () => {
    dir = tempDir('vigil-openstack-');
    // Both drivers at once, as an operator may configure: the same calls reach RabbitMQ and the log file.
    api = await startOctaviaApi({
      dir,
      exchange: names.exchange,
      topic: names.topic,
      drivers: ['messagingv2', 'log'],
      identities: Object.values(USERS),
    });
  });
  after(async () => {
    await wire?.close();
    await collector?.close();
    await api?.process.stop();
    await names.remove();
  });

  test('every call stored once as one paired event, from the queue oslo declared, with what the middleware reported', async () => {
    const ids: Partial<Ids> = {};
    // Before any consumer: oslo declares its exchange and its queue `<topic>.info` and keeps both notifications.
    made.push(...(await makeCalls(api!.url, STEPS.slice(0, 1), ids)));
    await waitFor('the first call on oslo’s own queue', async () => (await ready(names.queue)) === 2);
    wire = await tap(names.exchange, names.topic);
    // The collector declares nothing of its own: `queue` names oslo's, `passive` checks the exchange.
    collector = await startCollector(path.join(dir, 'collector'), names);
    assert.equal(await unauthenticatedCall(api!.url), 401);
    made.push(...(await makeCalls(api!.url, STEPS.slice(1), ids)));

    const events = await untilStored(collector, STEPS.length);
    // Calls are sequential and eventTime is the request's time: stored order is call order.
    for (const [i, e] of events.entries()) assertRecords(e, made[i]!, i);
    assert.equal(new Set(events.map((e) => e.auditID)).size, STEPS.length, 'one event per call');
    await waitFor('oslo’s queue to drain', async () => (await ready(names.queue)) === 0);
    // Two notifications per call, both consumed: the response replaced the request in place.
    const m = collector.app.metrics;
    assert.equal(m.ingested.get({ path: 'amqp' }), 2 * STEPS.length);
    assert.equal(m.stored.get({ path: 'amqp' }), 2 * STEPS.length);
    assert.equal(m.deduplicated.get({ path: 'amqp' }), 0);

    for (const who of ['alice', 'bob'] as const) {
      const want = count(made, (c) => c.step.who === who);
      assert.equal(await total(collector, `user_filter=${who}`), want, `user ${who}`);
      assert.equal(await total(collector, `user_search=${who.slice(1, 4)}`), want, `user search ${who}`);
    }
    for (const action of ['read', 'read/list', 'create', 'update', 'update/failover', 'delete']) {
      const verb = cadfActionToVerb(action);
      const want = count(made, (c) => c.step.action === action);
      assert.ok(want > 0);
      assert.equal(await total(collector, `verb_filter=${encodeURIComponent(verb)}`), want, `action ${action}`);
    }
    assert.equal(await total(collector, 'response_code_filter=404'), 2);
    assert.equal(await total(collector, 'response_code_filter=409'), 1);
    assert.equal(await total(collector, 'user_filter=alice&verb_filter=delete'), 3);
    assert.equal(await total(collector, 'q=octavia'), STEPS.length, 'free text finds the target service');
  });

  test('decodeCadf and back gives every notification keystonemiddleware wrote, as written', () => {
    assert.equal(made.length, STEPS.length, 'needs the calls of the previous test');
    const lines = readFileSync(api!.logFile, 'utf8').split('\n');
    const written = lines.filter((l) => l.includes(' oslo.messaging.notification.audit.http.'));
    assert.equal(written.length, 2 * STEPS.length);
    for (const line of written) {
      const n = JSON.parse(line.slice(line.indexOf('{', line.indexOf('] '))));
      assert.deepStrictEqual(encodeOsloNotification(decodeCadf(n)), n);
    }
  });

  test('decodeCadf and back gives every message oslo published, as published (2.0 envelope, context, _unique_id)', async () => {
    assert.equal(made.length, STEPS.length, 'needs the calls of the previous test');
    // The tap was bound after the first call.
    const published = await poll('the tap’s copies', () =>
      wire!.messages.length === 2 * (STEPS.length - 1) ? wire!.messages : undefined,
    );
    for (const body of published) {
      const envelope = JSON.parse(body.toString('utf8'));
      assert.equal(envelope['oslo.version'], '2.0');
      const message = JSON.parse(envelope['oslo.message']);
      assert.ok(Object.keys(message).some((k) => k.startsWith('_context_')));
      const again = encodeOsloWire(encodeOsloNotification(decodeCadf(envelope)));
      assert.deepStrictEqual(JSON.parse(again['oslo.message'] as string), message);
    }
  });

  test('vigil import of the `log` driver’s file stores the same events as the AMQP path', async () => {
    assert.equal(made.length, STEPS.length, 'needs the calls of the previous test');
    const importDir = tempDir('vigil-openstack-import-');
    const config = path.join(importDir, 'vigil.yaml');
    writeFileSync(config, STORE_ALL);
    const r = await vigil(['import', '--config', config, '--data', importDir, api!.logFile]);
    assert.equal(r.code, 0, `vigil import failed: ${r.err}`);
    const imported = await startCollector(importDir, names);
    try {
      const fromLog = await allEvents(imported);
      const fromAmqp = await allEvents(collector!);
      assert.deepEqual(fromLog.map(comparable), fromAmqp.map(comparable));
    } finally {
      await imported.close();
    }
  });
});

/**
 * What both paths must agree on: everything but the store's id and what only one medium carries — the AMQP
 * envelope's `_unique_id` and `_context_*`, and the token, which pycadf masks on the wire and the log driver
 * replaces by `***`.
 */
function comparable(e: StoredEvent): unknown {
  const { id: _id, origin, ...rest } = structuredClone(e);
  const cadf = origin?.cadf as Json;
  delete cadf.initiator.credential.token;
  const o = origin?.oslo as Record<string, unknown>;
  const oslo = Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('_')));
  return { ...rest, origin: { cadf, oslo } };
}

describe('keystonemiddleware → RabbitMQ while the collector is down', { skip }, () => {
  const names = brokerNames();
  let dir: string;
  let api: OctaviaApi | undefined;
  let collector: Collector | undefined;

  before(async () => {
    dir = tempDir('vigil-openstack-restart-');
    api = await startOctaviaApi({
      dir,
      exchange: names.exchange,
      topic: names.topic,
      drivers: ['messagingv2'],
      identities: Object.values(USERS),
    });
  });
  after(async () => {
    await collector?.close();
    await api?.process.stop();
    await names.remove();
  });

  test('calls made while the collector is stopped arrive once it is back, none twice', async () => {
    const ids: Partial<Ids> = {};
    const data = path.join(dir, 'collector');
    const made = await makeCalls(api!.url, STEPS.slice(0, 1), ids);
    await waitFor('oslo to declare its queue', async () => (await ready(names.queue)) === 2);
    collector = await startCollector(data, names);
    // Stop it while calls go on: whatever it took is committed and acked, the rest waits on the broker.
    const first = makeCalls(api!.url, STEPS.slice(1, 8), ids);
    await waitFor('a few events stored', async () => (await allEvents(collector!)).length >= 3);
    await collector.close();
    const firstRun = collector.app.metrics;
    collector = undefined;
    made.push(...(await first));
    made.push(...(await makeCalls(api!.url, STEPS.slice(8, 15), ids)));
    await waitFor('the broker to hold the calls made meanwhile', async () => (await ready(names.queue)) >= 14);

    collector = await startCollector(data, names);
    made.push(...(await makeCalls(api!.url, STEPS.slice(15), ids)));
    const events = await untilStored(collector, STEPS.length);
    for (const [i, e] of events.entries()) assertRecords(e, made[i]!, i);
    // Every notification was handled by exactly one of the two runs: nothing the first one acked came back.
    const secondRun = collector.app.metrics;
    assert.equal(firstRun.ingested.get({ path: 'amqp' }) + secondRun.ingested.get({ path: 'amqp' }), 2 * STEPS.length);
    assert.equal(firstRun.deduplicated.get({ path: 'amqp' }) + secondRun.deduplicated.get({ path: 'amqp' }), 0);
    await waitFor('oslo’s queue to drain', async () => (await ready(names.queue)) === 0);
  });
});

describe('keystonemiddleware → RabbitMQ with durable queues (amqp_durable_queues = true)', { skip }, () => {
  const names = brokerNames();
  let api: OctaviaApi | undefined;
  let collector: Collector | undefined;

  before(async () => {
    api = await startOctaviaApi({
      dir: tempDir('vigil-openstack-durable-'),
      exchange: names.exchange,
      topic: names.topic,
      drivers: ['messagingv2'],
      identities: Object.values(USERS),
      more: ['[oslo_messaging_rabbit]', 'amqp_durable_queues = true'],
    });
  });
  after(async () => {
    await collector?.close();
    await api?.process.stop();
    await names.remove();
  });

  test('the collector consumes oslo’s durable queue as oslo declared it', async () => {
    const ids: Partial<Ids> = {};
    const made = await makeCalls(api!.url, STEPS.slice(0, 1), ids);
    await waitFor('oslo to declare its durable queue', async () => (await ready(names.queue)) === 2);
    // A declaration with other flags than oslo's would be refused (PRECONDITION_FAILED) and the collector never consume.
    collector = await startCollector(tempDir('vigil-openstack-durable-collector-'), names);
    made.push(...(await makeCalls(api!.url, STEPS.slice(1, 5), ids)));
    const events = await untilStored(collector, made.length);
    for (const [i, e] of events.entries()) assertRecords(e, made[i]!, i);
  });
});
