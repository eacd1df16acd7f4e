// The syslog destination against a real rsyslog (started by the test on a free port): RFC 5424 with octet counting
// over TCP and over TLS, and an rsyslog restart in the middle of a stream: every event arrives, in order, at least once.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startForwarding } from '../../src/forward/index.ts';
import type { Store } from '../../src/store/types.ts';
import { waitFor } from '../helpers/net.ts';
import { startRsyslog } from '../helpers/rsyslog.ts';
import { event, firstSeen, receivedIds, sqliteStore, syslogConfig } from './helpers.ts';

const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

async function storeWith(count: number): Promise<{ store: Store; ids: string[] }> {
  const store = await sqliteStore();
  stores.push(store);
  const ids: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const r = await store.append(Array.from({ length: Math.min(50, count - i) }, () => event()));
    ids.push(...r.ids.map(String));
  }
  return { store, ids };
}

test('syslog over TCP: every stored event arrives as RFC 5424 with the audit fields, in order', async () => {
  const rs = await startRsyslog();
  const { store, ids } = await storeWith(300);
  const fwd = startForwarding(store, [syslogConfig({ url: `tcp://127.0.0.1:${rs.port}`, batchSize: 64 })], {
    pollMs: 50,
  });
  try {
    await waitFor('300 messages in rsyslog', () => rs.lines().length >= 300, 20_000);
    const lines = rs.lines();
    assert.deepEqual(receivedIds(lines), ids);
    const m = /^<(\d+)>1 (\S+) (\S+) vigil (\d+) audit \[vigil@32473 ([^\]]*)\] \uFEFF(.*)$/.exec(lines[0]!);
    assert.ok(m, lines[0]);
    const stored = (await store.get(ids[0]!))!;
    assert.equal(Number(m[1]), 13 * 8 + 6); // log audit, informational
    assert.equal(m[2], stored.requestReceivedTimestamp);
    assert.match(m[5]!, new RegExp(`auditID="${stored.auditID}" stage="ResponseComplete" verb="${stored.verb}"`));
    assert.match(m[5]!, /resource="secrets" namespace="ns\d" name="s\d+" code="201"/);
    const body = JSON.parse(m[6]!);
    assert.equal(body.kind, 'Event');
    assert.equal(body.auditID, stored.auditID);
    // a refused call is a warning
    const refused = lines.find((l) => l.includes('code="403"'))!;
    assert.match(refused, /^<108>1 /);
    await waitFor('the cursor at the head', async () => fwd.status()[0]!.position === fwd.status()[0]!.head);
    const st = fwd.status()[0]!;
    assert.equal(st.delivered, 300);
    assert.equal(st.gap, 0);
    assert.equal(st.lagEvents, 0);
  } finally {
    await fwd.stop();
  }
});

test('syslog over TLS (RFC 5425) with the CA of the receiver', async () => {
  const rs = await startRsyslog({ tls: true });
  const { store, ids } = await storeWith(120);
  const fwd = startForwarding(
    store,
    [syslogConfig({ url: `tls://127.0.0.1:${rs.port}`, tls: { ca: rs.ca!, serverName: 'localhost' }, format: 'ocsf' })],
    { pollMs: 50 },
  );
  try {
    await waitFor('120 messages in rsyslog', () => rs.lines().length >= 120, 20_000);
    assert.deepEqual(receivedIds(rs.lines()), ids);
    const body = JSON.parse(rs.lines()[0]!.split('\uFEFF')[1]!);
    assert.equal(body.class_uid, 6003);
  } finally {
    await fwd.stop();
  }
});

test('syslog over UDP (RFC 5426): one message per datagram', async () => {
  const rs = await startRsyslog({ udp: true });
  const { store, ids } = await storeWith(50);
  const fwd = startForwarding(store, [syslogConfig({ url: `udp://127.0.0.1:${rs.port}`, format: 'cadf' })], {
    pollMs: 50,
  });
  try {
    // UDP may drop on a loaded machine; on loopback with 50 messages it does not
    await waitFor('50 messages in rsyslog', () => rs.lines().length >= 50, 20_000);
    assert.deepEqual(receivedIds(rs.lines()), ids);
    assert.equal(
      JSON.parse(rs.lines()[0]!.split('\uFEFF')[1]!).typeURI,
      'http://schemas.dmtf.org/cloud/audit/1.0/event',
    );
  } finally {
    await fwd.stop();
  }
});

test('an rsyslog restart in the middle of a stream: every event arrives, in order, at least once', async () => {
  const rs = await startRsyslog();
  const { store, ids } = await storeWith(100);
  const fwd = startForwarding(store, [syslogConfig({ url: `tcp://127.0.0.1:${rs.port}`, batchSize: 20 })], {
    pollMs: 50,
    minBackoffMs: 50,
  });
  // ingest goes on the whole time: the stream is running when rsyslog stops
  let writing = true;
  const writer = (async () => {
    while (writing) ids.push(...(await store.append([event(), event(), event()])).ids.map(String));
  })();
  try {
    await waitFor('some messages in rsyslog', () => rs.lines().length >= 300, 20_000);
    await rs.stop();
    const atStop = ids.length;
    await waitFor('events stored while rsyslog is down', () => ids.length >= atStop + 300);
    await rs.start();
    await waitFor('events delivered after the restart', () => rs.lines().length >= atStop + 600, 30_000);
    writing = false;
    await writer;
    await waitFor('every event in rsyslog', () => new Set(receivedIds(rs.lines())).size >= ids.length, 30_000);
    const { unique, ordered } = firstSeen(receivedIds(rs.lines()));
    assert.deepEqual(unique, ids);
    assert.ok(ordered);
    assert.ok(fwd.status()[0]!.failed >= 1, 'the outage was seen');
  } finally {
    writing = false;
    await writer;
    await fwd.stop();
  }
});
