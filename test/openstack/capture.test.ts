// The other way round: Vigil's capture middleware (CADF from Octavia's audit map, the AMQP sink) in front of a
// Node API, and oslo.messaging's own notification listener (Debian's package, /usr/bin/python3) consuming what it
// publishes — so an OpenStack tool that consumes audit notifications can consume Vigil's.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect } from 'amqplib';
import { type AuditorHandle, createAuditor } from '../../src/capture/index.ts';
import { waitFor } from '../helpers/net.ts';
import { AGENT, STEPS, USERS } from './calls.ts';
import {
  AMQP_URL,
  brokerNames,
  type Json,
  missingPython,
  OCTAVIA_AUDIT_MAP,
  type PythonProcess,
  poll,
  startNotificationListener,
} from './helpers.ts';

const skip = missingPython();
if (skip) process.stdout.write(`# skipping the OpenStack real-consumer test: ${skip}\n`);

const IDS = {
  lb: '8f2b6c1e-3d4a-4b5c-9e7f-0a1b2c3d4e5f',
  listener: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
  pool: '6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c2b',
  bobLb: '0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c',
};

/** Answers each call with the status the test asks for, or throws (the API's own logic is not tested here). */
function api(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers['x-raise']) throw new Error('amphora driver unreachable');
  req.resume();
  req.on('end', () => {
    const status = Number(req.headers['x-answer-status'] ?? 200);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 204 ? undefined : '{}');
  });
}

describe('Vigil capture → AMQP sink → oslo.messaging notification listener', { skip }, () => {
  const names = brokerNames();
  let auditor: AuditorHandle | undefined;
  let server: ReturnType<typeof createServer> | undefined;
  let listener: PythonProcess | undefined;
  let base = '';
  const handlerErrors: string[] = [];

  before(async () => {
    listener = await startNotificationListener(names.exchange, names.topic);
    auditor = await createAuditor({
      policy: { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata' }] },
      sinks: [{ type: 'amqp', url: AMQP_URL, exchange: names.exchange, topics: [names.topic], mode: 'blocking' }],
      auditMap: OCTAVIA_AUDIT_MAP,
      serviceName: 'octavia',
      onError: (err, during) => handlerErrors.push(`${during}: ${(err as Error).message}`),
      // As auth_token would: the token's user, in its project.
      identify: (req) => {
        const u = Object.values(USERS).find((x) => x.token === req.headers['x-auth-token']);
        return u && { username: u.user_name, uid: u.user_id, extra: { project_id: [u.project_id] } };
      },
    });
    server = createServer(auditor.wrap(api));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server!.close(resolve));
    await auditor?.close();
    await listener?.stop();
    await names.remove();
  });

  test('the listener accepts every notification: event type, payload pycadf accepts, priority info', async () => {
    const calls: { id: string; step: (typeof STEPS)[number]; path: string }[] = [];
    for (const step of STEPS) {
      const path = step.path(IDS);
      const body = step.body?.(IDS);
      const res = await fetch(base + path, {
        method: step.method,
        headers: {
          'x-auth-token': USERS[step.who].token,
          'x-answer-status': String(step.status),
          ...(step.raises ? { 'x-raise': '1' } : {}),
          'user-agent': AGENT,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      assert.equal(res.status, step.status);
      await res.text();
      calls.push({ id: res.headers.get('audit-id')!, step, path });
    }
    const got = await poll(
      'a notification per stage of every call',
      () => (listener!.lines.length >= 1 + 2 * calls.length ? listener!.lines.slice(1) : undefined),
      20_000,
    );
    assert.equal(got.length, 2 * calls.length);
    for (const { id, step, path } of calls) {
      // The listener's thread pool hands messages to the endpoint in any order; on the wire they are in order.
      const mine = got
        .filter((l) => (l.payload as Record<string, unknown>).id === id)
        .sort((a, b) => String(a.event_type).localeCompare(String(b.event_type)));
      assert.deepEqual(
        mine.map((l) => l.event_type),
        ['audit.http.request', 'audit.http.response'],
        `${step.method} ${path}`,
      );
      for (const l of mine) {
        const p = l.payload as Json;
        const at = `${l.event_type} of ${step.method} ${path}`;
        assert.equal(l.method, 'info', at);
        assert.deepEqual(l.problems, [], at);
        assert.equal(l.publisher_id, 'vigil', at);
        assert.match((l.metadata as Record<string, string>).message_id, /^[0-9a-f-]{36}$/, at);
        // The same action and target keystonemiddleware reports for this call with the same audit map.
        assert.equal(p.action, step.action, at);
        assert.equal(p.target.typeURI, step.typeURI, at);
        assert.equal(p.target.name, 'octavia', at);
        assert.equal(p.requestPath, path, at);
        assert.equal(p.initiator.id, USERS[step.who].user_id, at);
        assert.equal(p.initiator.name, USERS[step.who].user_name, at);
        assert.equal(p.initiator.project_id, USERS[step.who].project_id, at);
        assert.equal(p.initiator.host.agent, AGENT, at);
        assert.match(p.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$/, at);
      }
      const [request, response] = mine.map((l) => l.payload as Json);
      assert.equal(request!.outcome, 'pending');
      assert.equal(request!.reason, undefined);
      if (step.raises) {
        // As keystonemiddleware reports an API that raised: no response, so outcome unknown and no reason.
        assert.equal(response!.outcome, 'unknown');
        assert.equal(response!.reason, undefined);
      } else {
        assert.equal(response!.outcome, step.status < 400 ? 'success' : 'failure');
        assert.deepEqual(response!.reason, { reasonType: 'HTTP', reasonCode: String(step.status) });
      }
      assert.equal(response!.eventTime, request!.eventTime);
    }
    // Nothing left over or sent back: every message was acknowledged by the listener.
    const conn = await connect(AMQP_URL);
    try {
      const ch = await conn.createChannel();
      await waitFor('the queue to drain', async () => (await ch.checkQueue(names.queue)).messageCount === 0);
    } finally {
      await conn.close();
    }
    assert.deepEqual(handlerErrors, ['handler: amphora driver unreachable']);
    assert.doesNotMatch(listener!.stderr, /Unknown priority|Callback raised|Failed to process|Traceback/);
  });
});
