import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { event } from './fixtures.ts';
import { startTestServer, until } from './helpers.ts';

test('retention deletes events older than the configured age (injected clock)', async () => {
  let now = Date.parse('2024-05-10T00:00:00Z');
  const s = await startTestServer('retention: 2d\n', { now: () => now, retentionIntervalMs: 3_600_000 });
  try {
    await s.store.append([
      event({ auditID: 'old', requestReceivedTimestamp: '2024-05-07T00:00:00.000000Z' }),
      event({ auditID: 'edge', requestReceivedTimestamp: '2024-05-08T12:00:00.000000Z' }),
      event({ auditID: 'new', requestReceivedTimestamp: '2024-05-09T23:00:00.000000Z' }),
    ]);
    assert.equal(await s.retention.runOnce(), 1);
    const left = (await s.get('/api/v1/events')).body.items.map((e: { auditID: string }) => e.auditID);
    assert.deepEqual(left, ['new', 'edge']);
    now += 36 * 3_600_000;
    assert.equal(await s.retention.runOnce(), 1);
    assert.deepEqual(
      (await s.get('/api/v1/events')).body.items.map((e: { auditID: string }) => e.auditID),
      ['new'],
    );
  } finally {
    await s.stop();
  }
});

test('shutdown waits for an in-flight ingest to commit before closing the store', async () => {
  const s = await startTestServer();
  const dbPath = `${s.dir}/vigil.db`;
  const body = JSON.stringify([event({ auditID: 'inflight-1' })]);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  // The body arrives in two parts; shutdown starts between them.
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode(body.slice(0, 20)));
      await gate;
      controller.enqueue(new TextEncoder().encode(body.slice(20)));
      controller.close();
    },
  });
  const response = fetch(`${s.url}/ingest/events`, {
    method: 'POST',
    body: stream,
    headers: { 'content-type': 'application/json' },
    duplex: 'half',
  } as RequestInit);
  await until(() => s.app.inFlight() === 1, 'the request to be in flight');
  let closed = false;
  const closing = s.close().then(() => {
    closed = true;
  });
  await until(
    async () =>
      (await fetch(`${s.url}/readyz`)
        .then((r) => r.status)
        .catch(() => 0)) !== 200,
    'not ready',
  );
  assert.equal(closed, false);
  release();
  const r = await response;
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { inserted: number }).inserted, 1);
  await closing;
  const store = await openStore({ type: 'sqlite', path: dbPath });
  try {
    assert.equal((await store.query({ exact: { auditID: ['inflight-1'] } }, { sort: 'desc', size: 1 })).total, 1);
  } finally {
    await store.close();
    await s.stop();
  }
});
