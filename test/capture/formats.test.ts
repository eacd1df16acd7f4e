// Sinks in formats without stages record a request as their own producers do, whatever stages the policy lets
// through: OpenFaaS one `api_access` event per request, written after the response, with its real response code
// (not a RequestReceived with response_code 0, nor a second event for a long-running call); keystonemiddleware's
// CADF two events per call (request and response), also for a streamed one. End to end: a real server, the sinks,
// the collector, RabbitMQ.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqp from 'amqplib';
import { createAuditor } from '../../src/index.ts';
import type { Policy } from '../../src/policy/index.ts';
import type { SinkConfig } from '../../src/sinks/index.ts';
import { waitFor } from '../helpers/net.ts';
import { startTestServer } from '../server/helpers.ts';

const SECRET = 'openfaas-shared-secret';

/** Every stage, as the default Kubernetes policy emits them: the sink alone decides what its format gets. */
const ALL_STAGES: Policy = { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata' }] };

/** A server audited into `sinks`: a list, a streamed (long-running) call, a 404 and a failing handler. */
async function audited(sinks: SinkConfig[], requests: string[]): Promise<void> {
  const auditor = await createAuditor({
    policy: ALL_STAGES,
    routes: [{ method: 'GET', pattern: '/system/functions', resource: 'functions', action: 'Function:List' }],
    sinks,
    onError: () => {},
  });
  const server = http.createServer(
    auditor.wrap((req, res) => {
      if (req.url === '/system/logs') {
        // Streamed (headers before the end, no length): a long-running call with a ResponseStarted stage.
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write('{"text":"a"}\n');
        setImmediate(() => res.end('{"text":"b"}\n'));
        return;
      }
      if (req.url === '/boom') throw new Error('handler failed');
      res.writeHead(req.url === '/system/functions' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('[]');
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const path of requests) await (await fetch(base + path)).text();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await auditor.close();
  }
}

test('an OpenFaaS sink sends one api_access event per request, after the response, also for a streamed call', async () => {
  const collector = await startTestServer(`ingest:\n  openfaas: { secret: ${SECRET} }`);
  try {
    await audited(
      [{ type: 'webhook', url: `${collector.url}/ingest/openfaas`, body: 'openfaas', secret: SECRET }],
      ['/system/functions', '/system/logs', '/missing', '/boom'],
    );
    const stored = async () =>
      (await collector.get('/api/v1/events?size=100')).body as {
        total: number;
        items: { requestURI: string; responseStatus?: { code: number } }[];
      };
    await waitFor('the deliveries stored', async () => (await stored()).total >= 4);
    const { total, items } = await stored();
    assert.equal(total, 4, 'one event per request');
    const code = Object.fromEntries(items.map((e) => [e.requestURI, e.responseStatus?.code]));
    // The failing handler's request (a Panic stage) says 500.
    assert.deepEqual(code, { '/system/functions': 200, '/system/logs': 200, '/missing': 404, '/boom': 500 });
  } finally {
    await collector.stop();
  }
});

test("a CADF log and oslo notifications on RabbitMQ carry keystonemiddleware's two events per call, no more", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cadf-'));
  const id = randomUUID().slice(0, 8);
  const [exchange, topic] = [`vigil-test-${id}`, `vigil-test-${id}`];
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const ch = await conn.createChannel();
  try {
    const log = join(dir, 'audit.log');
    await audited(
      [
        { type: 'log', path: log, format: 'cadf' },
        { type: 'amqp', url: 'amqp://guest:guest@127.0.0.1:5672', exchange, topics: [topic], mode: 'blocking' },
      ],
      ['/system/functions', '/system/logs'],
    );
    const cadf = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { requestPath: string; outcome: string });
    const calls = (events: { requestPath: string; outcome: string }[]) =>
      events.map((e) => `${e.requestPath} ${e.outcome === 'pending' ? 'request' : 'response'}`).sort();
    const expected = [
      '/system/functions request',
      '/system/functions response',
      '/system/logs request',
      '/system/logs response',
    ];
    assert.deepEqual(calls(cadf), expected);
    const notified: { requestPath: string; outcome: string }[] = [];
    for (;;) {
      const m = await ch.get(`${topic}.info`, { noAck: true });
      if (m === false) break;
      notified.push(JSON.parse(JSON.parse(m.content.toString())['oslo.message']).payload);
    }
    assert.deepEqual(calls(notified), expected);
  } finally {
    await ch.deleteQueue(`${topic}.info`).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
