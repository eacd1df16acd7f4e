// Delivery errors are logged and kept with the pending delivery: a receiver URL's password and secret query
// parameters must not be in them.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { alertRecords, createAlertDispatcher, webhookReceiver } from '../../src/alerts/index.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { storedEvent, tempAlertStore } from './fixtures.ts';

test('a failed delivery names the receiver without its password or secret parameters', async () => {
  const refusing = createServer((_req, res) => res.writeHead(503).end('busy'));
  await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
  const up = (refusing.address() as AddressInfo).port;
  const down = await freePort();
  const errors: string[] = [];
  const { store, cleanup } = tempAlertStore();
  const dispatcher = createAlertDispatcher({
    store,
    receivers: [
      webhookReceiver({ name: 'down', url: `http://ops:hunter2@127.0.0.1:${down}/hook?token=SECRET-a&team=x` }),
      webhookReceiver({ name: 'busy', url: `http://127.0.0.1:${up}/hook?api_key=SECRET-b` }),
    ],
    backoff: { initialMs: 60_000, factor: 1, maxMs: 60_000 },
    onError: (m) => errors.push(m),
  });
  try {
    dispatcher.start();
    await dispatcher.raise(
      alertRecords(storedEvent(), [{ rule: 'r.x', priority: 'WARNING', message: 'm' }], Date.now()),
    );
    await waitFor('both attempts failed', () => errors.length === 2);
    const text = errors.join('\n');
    assert.doesNotMatch(text, /hunter2|SECRET/);
    assert.match(text, new RegExp(`POST http://ops:\\*\\*\\*@127\\.0\\.0\\.1:${down}/hook\\?token=\\*\\*\\*&team=x: `));
    assert.match(text, new RegExp(`POST http://127\\.0\\.0\\.1:${up}/hook\\?api_key=\\*\\*\\*: HTTP 503 busy`));
  } finally {
    await dispatcher.stop();
    await cleanup();
    await new Promise<void>((r) => refusing.close(() => r()));
  }
});
