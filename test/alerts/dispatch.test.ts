import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { test } from 'node:test';
import { alertRecords, createAlertDispatcher, openSqliteAlertStore, webhookReceiver } from '../../src/alerts/index.ts';
import { standardWebhooksKey, verifyStandardWebhooks } from '../../src/sinks/sign.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { storedEvent, tempAlertStore } from './fixtures.ts';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook endpoint on a fixed port that can be brought down and up, answering `status` while up. */
function endpoint(port: number) {
  const received: Received[] = [];
  let server: Server | undefined;
  let status = 200;
  let retryAfter: string | undefined;
  return {
    received,
    url: `http://127.0.0.1:${port}/alerts`,
    set(s: number, ra?: string) {
      status = s;
      retryAfter = ra;
    },
    async up() {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => {
          body += d;
        });
        req.on('end', () => {
          if (status === 200) received.push({ headers: req.headers, body });
          res.writeHead(status, retryAfter ? { 'retry-after': retryAfter } : {});
          res.end();
        });
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async down() {
      if (!server) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    },
  };
}

const fast = { initialMs: 20, factor: 1.5, maxMs: 200 };

test('an alert raised while the webhook is down arrives, signed, once it is back', async () => {
  const { store, cleanup } = tempAlertStore();
  const ep = endpoint(await freePort());
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const errors: string[] = [];
  const dispatcher = createAlertDispatcher({
    store,
    receivers: [webhookReceiver({ name: 'hook', url: ep.url, secret })],
    backoff: fast,
    onError: (m) => errors.push(m),
  });
  try {
    dispatcher.start();
    await dispatcher.raise(
      alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'alice did it' }], Date.now()),
    );
    await waitFor('a failed attempt', () => errors.length > 0);
    await ep.up();
    await waitFor('the alert to be delivered', () => dispatcher.counters.delivered === 1);
    const [{ headers, body }] = ep.received;
    const parsed = JSON.parse(body);
    assert.equal(parsed.items[0].message, 'alice did it');
    assert.equal(parsed.items[0].labels.alertname, 'R');
    const id = String(headers['webhook-id']);
    const ts = Number(headers['webhook-timestamp']);
    assert.ok(
      verifyStandardWebhooks(
        standardWebhooksKey(secret),
        { id, timestamp: String(ts), signature: String(headers['webhook-signature']) },
        body,
      ),
    );
    // The signature is the Standard Webhooks one: HMAC-SHA256 of id.timestamp.body keyed by the decoded secret.
    const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`${id}.${ts}.${body}`)
      .digest('base64');
    assert.equal(headers['webhook-signature'], `v1,${expected}`);
    assert.equal(dispatcher.counters.delivered, 1);
    assert.equal(await store.nextDue(), undefined);
  } finally {
    await dispatcher.stop();
    await ep.down();
    await cleanup();
  }
});

test('a 503 with Retry-After is retried after that delay, and repeats are not sent again', async () => {
  const { store, cleanup } = tempAlertStore();
  const ep = endpoint(await freePort());
  await ep.up();
  ep.set(503, '0');
  const dispatcher = createAlertDispatcher({
    store,
    receivers: [webhookReceiver({ name: 'hook', url: ep.url })],
    backoff: { initialMs: 60_000, factor: 2, maxMs: 60_000 },
  });
  try {
    dispatcher.start();
    const raise = (auditID: string) =>
      dispatcher.raise(
        alertRecords(storedEvent({ auditID }), [{ rule: 'R', priority: 'WARNING', message: 'm' }], Date.now()),
      );
    await raise('one');
    await waitFor('a refused attempt', () => dispatcher.counters.failed > 0);
    ep.set(200);
    // Retry-After: 0 overrides the one-minute backoff, so it arrives well within the wait below.
    await waitFor('the alert to be delivered', () => dispatcher.counters.delivered === 1);
    await raise('two');
    assert.equal(dispatcher.counters.grouped, 1);
    assert.equal(await store.nextDue(), undefined);
    assert.equal(ep.received.length, 1);
  } finally {
    await dispatcher.stop();
    await ep.down();
    await cleanup();
  }
});

test('deliveries left pending by a stopped dispatcher are sent by the next one', async () => {
  const { store, path, cleanup } = tempAlertStore();
  const ep = endpoint(await freePort());
  try {
    const first = createAlertDispatcher({
      store,
      receivers: [webhookReceiver({ name: 'hook', url: ep.url })],
      backoff: fast,
    });
    first.start();
    await first.raise(alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'm' }], Date.now()));
    await waitFor('a failed attempt', () => first.counters.failed > 0);
    await first.stop();
    await store.close();

    await ep.up();
    const reopened = openSqliteAlertStore(path);
    const second = createAlertDispatcher({
      store: reopened,
      receivers: [webhookReceiver({ name: 'hook', url: ep.url })],
      backoff: fast,
    });
    second.start();
    await waitFor('the alert to arrive', () => ep.received.length === 1);
    await second.stop();
    await reopened.close();
  } finally {
    await ep.down();
    await cleanup();
  }
});
