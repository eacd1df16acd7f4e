// The live tail under clients that stop reading (issue 15, item 6) and clients that reconnect: each stream holds at
// most STREAM_BUFFER_BYTES unsent (a stalled client is told how many it missed once it reads again), and a stream
// opened with Last-Event-ID (or ?since_id=) replays what was stored after that id before going live.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { sseEvents } from '../../src/cli/tail.ts';
import { STREAM_BUFFER_BYTES } from '../../src/query/stream.ts';
import { openPostgresStore } from '../../src/store/index.ts';
import { dropSchema, PG_URL } from '../helpers/postgres.ts';
import { makeEvent } from '../store/contract.ts';
import { startTestServer, until } from './helpers.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** A raw connection asking for the live tail that never reads (paused before the first byte). */
function stalledClient(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) }, () => {
      sock.pause();
      sock.write(`GET /api/v1/events/stream HTTP/1.1\r\nhost: ${hostname}\r\naccept: text/event-stream\r\n\r\n`);
      resolve(sock);
    });
    sock.on('error', reject);
  });
}

/** ~1 KB events: the size the hostile test used. */
const big = (i: number) => makeEvent({ userAgent: `agent-${'x'.repeat(700)}-${i}` }, T0 + i);

test('stalled live-tail clients: each stream stays within its buffer bound and counts what it skipped', async () => {
  const s = await startTestServer();
  const clients: net.Socket[] = [];
  try {
    for (let i = 0; i < 4; i++) clients.push(await stalledClient(s.url));
    await until(() => s.app.liveTails().length === 4, 'four live tails');
    // Append until every stalled stream has had to skip: the kernel's socket buffers fill first, then Node's.
    let appended = 0;
    for (let batch = 0; s.app.liveTails().some((t) => t.skipped === 0); batch++) {
      assert.ok(batch < 400, `no stream skipped after ${appended} events: ${JSON.stringify(s.app.liveTails())}`);
      await s.store.append(Array.from({ length: 250 }, (_, i) => big(appended + i)));
      appended += 250;
    }
    // Many more events: the bound holds, the skip counts grow instead.
    const before = s.app.liveTails().map((t) => t.skipped);
    for (let k = 0; k < 20; k++) {
      await s.store.append(Array.from({ length: 250 }, (_, i) => big(appended + i)));
      appended += 250;
    }
    const tails = s.app.liveTails();
    const frame = 2 * 1024; // one event's frame, which a write may add past the bound
    for (const [i, t] of tails.entries()) {
      assert.ok(t.buffered <= STREAM_BUFFER_BYTES + frame, `stream ${i} buffers ${t.buffered} bytes`);
      // nearly all of the 5000 new ones were counted, not queued (the kernel may take a few bytes more meanwhile)
      assert.ok(t.skipped - before[i]! >= 4500, `stream ${i} skipped ${t.skipped - before[i]!} of 5000`);
    }
  } finally {
    for (const c of clients) c.destroy();
    await s.close();
    await import('node:fs').then((fs) => fs.rmSync(s.dir, { recursive: true, force: true }));
  }
});

test('a stalled client that reads again is told how many events it missed, then gets the new ones', async () => {
  const s = await startTestServer();
  const sock = await stalledClient(s.url);
  try {
    await until(() => s.app.liveTails().length === 1, 'the live tail');
    let appended = 0;
    while (s.app.liveTails()[0]!.skipped === 0) {
      assert.ok(appended < 100_000, 'the stream never skipped');
      await s.store.append(Array.from({ length: 250 }, (_, i) => big(appended + i)));
      appended += 250;
    }
    const skipped = s.app.liveTails()[0]!.skipped;
    // read everything the server holds, then one more event must follow the notice
    let text = '';
    sock.on('data', (d) => {
      text += d;
    });
    sock.resume();
    await until(() => /event: skipped\n/.test(text), 'the skipped notice', 20_000);
    await s.store.append([makeEvent({ auditID: 'after-the-gap' }, T0)]);
    await until(() => text.includes('after-the-gap'), 'the event after the gap', 20_000);
    const notices = [...text.matchAll(/event: skipped\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!));
    assert.deepEqual(
      notices.map((n) => n.skipped),
      [skipped],
    );
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(ids.length + skipped, appended + 1, 'every event was either sent or counted as skipped');
    assert.ok(
      ids.every((id, i) => i === 0 || id > ids[i - 1]!),
      'in order',
    );
    assert.equal(notices[0].lastEventId, String(ids[ids.length - 2]), 'the notice names the last event sent before it');
  } finally {
    sock.destroy();
    await s.close();
    await import('node:fs').then((fs) => fs.rmSync(s.dir, { recursive: true, force: true }));
  }
});

/** Opens the live tail and collects its events (data) and notices. */
async function follow(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const got: { id: string; auditID: string }[] = [];
  const notices: Record<string, unknown>[] = [];
  const done = (async () => {
    try {
      for await (const e of sseEvents(res, (n) => notices.push(n))) got.push(e);
    } catch {}
  })();
  return {
    res,
    got,
    notices,
    async close() {
      ac.abort();
      await done;
    },
  };
}

test('Last-Event-ID and ?since_id= replay what was stored after that id, then the stream goes live', async () => {
  const s = await startTestServer();
  try {
    const first = await s.store.append(
      Array.from({ length: 10 }, (_, i) => makeEvent({ auditID: `a-${i}`, verb: i === 9 ? 'get' : 'list' }, T0 + i)),
    );
    const ids = first.ids.map(String);
    const byHeader = await follow(`${s.url}/api/v1/events/stream`, { 'last-event-id': ids[3]! });
    const byParam = await follow(`${s.url}/api/v1/events/stream?since_id=${ids[7]}&verb_filter=list`);
    for (const f of [byHeader, byParam]) assert.equal(f.res.status, 200);
    await until(() => byHeader.got.length === 6 && byParam.got.length === 1, 'the replays');
    await s.store.append([makeEvent({ auditID: 'live' }, T0 + 100)]);
    await until(() => byHeader.got.length === 7 && byParam.got.length === 2, 'the live event');
    assert.deepEqual(
      byHeader.got.map((e) => e.auditID),
      ['a-4', 'a-5', 'a-6', 'a-7', 'a-8', 'a-9', 'live'],
    );
    assert.deepEqual(
      byHeader.got.map((e) => e.id),
      [...ids.slice(4), byHeader.got[6]!.id],
    );
    assert.deepEqual(
      byParam.got.map((e) => e.auditID),
      ['a-8', 'live'], // a-9 is a get
    );
    assert.deepEqual(byHeader.notices, []);
    await Promise.all([byHeader.close(), byParam.close()]);
    const bad = await fetch(`${s.url}/api/v1/events/stream`, { headers: { 'last-event-id': 'yesterday' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /Last-Event-ID/);
  } finally {
    await s.close();
    await import('node:fs').then((fs) => fs.rmSync(s.dir, { recursive: true, force: true }));
  }
});

test('PostgreSQL: storedAfter reads the events stored after an id, in id order, at most the limit', async () => {
  const schema = `vigil_hostile_trust_${process.pid}_tail`;
  const store = await openPostgresStore({ url: PG_URL, schema, poolSize: 2 });
  try {
    const r = await store.append(Array.from({ length: 6 }, (_, i) => makeEvent({ auditID: `p-${i}` }, T0 + i)));
    const after = await store.storedAfter(Number(r.ids[1]), 3);
    assert.deepEqual(
      after.map((e) => [e.id, e.auditID]),
      [2, 3, 4].map((i) => [r.ids[i], `p-${i}`]),
    );
    assert.deepEqual(await store.storedAfter(Number(r.ids[5]), 10), []);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
});

test("a tenant's resume replays only the events its token may see", async () => {
  const s = await startTestServer(`
auth:
  tokens:
    - { name: ops, token: admin-token, role: admin }
    - { name: team-b, token: b-token, role: tenant, namespaces: [ns-b] }
`);
  try {
    const ns = (n: string, i: number) =>
      makeEvent({ auditID: `${n}-${i}`, objectRef: { resource: 'pods', namespace: n, apiVersion: 'v1' } }, T0 + i);
    const r = await s.store.append([ns('ns-a', 0), ns('ns-b', 1), ns('ns-a', 2), ns('ns-b', 3)]);
    const tail = await follow(`${s.url}/api/v1/events/stream?since_id=${Number(r.ids[0]) - 1}`, {
      authorization: 'Bearer b-token',
    });
    assert.equal(tail.res.status, 200);
    await s.store.append([ns('ns-a', 4), ns('ns-b', 5)]);
    await until(() => tail.got.length === 3, 'the replay and the live event');
    assert.deepEqual(
      tail.got.map((e) => e.auditID),
      ['ns-b-1', 'ns-b-3', 'ns-b-5'],
    );
    await tail.close();
  } finally {
    await s.close();
    await import('node:fs').then((fs) => fs.rmSync(s.dir, { recursive: true, force: true }));
  }
});
