import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sseEvents } from '../../src/cli/tail.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startServer } from '../../src/server/serve.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const TOKENS = `
auth:
  tokens:
    - { name: ops, token: admin-token, role: admin }
    - { name: team-a, token: a-token, role: tenant, workspaces: [wa] }
    - { name: team-b, token: b-token, role: tenant, namespaces: [ns-b] }
    - { name: shipper, token: ingest-token, role: ingest }
workspaces:
  wa: [ns-a]
`;
const A = 'a-token';
const B = 'b-token';

/** Opens a live tail; resolves once the server says the subscription is live. */
async function openStream(s: TestServer, token: string, query = '') {
  const ac = new AbortController();
  const res = await fetch(`${s.url}/api/v1/events/stream${query}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const received: StoredEvent[] = [];
  const waiters: (() => void)[] = [];
  const done = (async () => {
    try {
      for await (const e of sseEvents(res)) {
        received.push(e);
        for (const w of waiters.splice(0)) w();
      }
    } catch {}
  })();
  return {
    received,
    /** Resolves when `n` events have arrived (bounded). */
    async waitFor(n: number) {
      const deadline = Date.now() + 5000;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`stream got ${received.length} of ${n} events`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    async close() {
      ac.abort();
      await done;
    },
  };
}

describe('tenant isolation', () => {
  let s: TestServer;
  const ingest = (events: object[], token = 'ingest-token') =>
    s.post('/ingest/events', JSON.stringify(events), {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    });

  before(async () => {
    s = await startTestServer(TOKENS);
    const r = await ingest([
      // team-a's: by workspace, and by the workspaces map (ns-a → wa)
      event({ auditID: 'a1', workspace: 'wa', objectRef: { resource: 'pods', namespace: 'ns-x' } }),
      event({ auditID: 'a2', objectRef: { resource: 'pods', namespace: 'ns-a' } }),
      // team-b's: by namespace
      event({ auditID: 'b1', workspace: 'wb', objectRef: { resource: 'pods', namespace: 'ns-b' } }),
      // nobody's but the admin's: cluster-scoped
      event({ auditID: 'c1', objectRef: { resource: 'nodes' } }),
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(() => s.stop());

  const auditIDs = (items: { auditID: string }[]) => items.map((e) => e.auditID).sort();

  test('no token → 401; unknown token → 401; wrong role → 403', async () => {
    assert.equal((await s.get('/api/v1/events')).status, 401);
    assert.equal((await s.get('/api/v1/events', 'nope')).status, 401);
    const r = await s.get('/api/v1/events', 'ingest-token');
    assert.equal(r.status, 403);
    assert.match(r.body.error, /shipper/);
    assert.equal((await ingest([event({ auditID: 'x' })], A)).status, 403);
    assert.equal((await ingest([event({ auditID: 'x' })], 'nope')).status, 401);
    assert.equal((await s.post('/ingest/events', '[]')).status, 401);
    // health and metrics stay open for probes and scrapers
    assert.equal((await s.get('/healthz')).status, 200);
  });

  test('list: each tenant sees only its events, whatever filters it sends', async () => {
    assert.deepEqual(auditIDs((await s.get('/api/v1/events', 'admin-token')).body.items), ['a1', 'a2', 'b1', 'c1']);
    assert.deepEqual(auditIDs((await s.get('/api/v1/events', A)).body.items), ['a1', 'a2']);
    assert.deepEqual(auditIDs((await s.get('/api/v1/events', B)).body.items), ['b1']);
    for (const q of [
      'workspace_filter=wb',
      'objectref_namespace_filter=ns-b',
      'audit_id_filter=b1,c1',
      'q=ns-b',
      'workspace_search=w',
    ]) {
      const r = await s.get(`/api/v1/events?${q}`, A);
      assert.equal(r.status, 200);
      assert.ok(
        r.body.items.every((e: StoredEvent) => e.auditID.startsWith('a')),
        q,
      );
    }
  });

  test("get by id: another tenant's event is 404", async () => {
    const b1 = (await s.get('/api/v1/events?audit_id_filter=b1', 'admin-token')).body.items[0];
    assert.equal((await s.get(`/api/v1/events/${b1.id}`, B)).status, 200);
    const r = await s.get(`/api/v1/events/${b1.id}`, A);
    assert.equal(r.status, 404);
    assert.ok(!JSON.stringify(r.body).includes('ns-b'));
  });

  test('histogram and stats count only the tenant’s events', async () => {
    assert.equal((await s.get('/api/v1/events/histogram?workspace_filter=wb', A)).body.total, 0);
    assert.equal((await s.get('/api/v1/events/histogram', A)).body.total, 2);
    const st = await s.get('/api/v1/events/stats?by=namespace', A);
    assert.equal(st.body.total, 2);
    assert.ok(!st.body.top.some((t: { key: string }) => t.key === 'ns-b')); // the store's size is the operator's (sizing a volume), not a tenant's
    assert.equal((await s.get('/api/v1/store', A)).status, 403);
  });

  test("KubeSphere's path is scoped too", async () => {
    const base = '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events';
    const q = await s.get(`${base}?objectref_namespace_filter=ns-b`, A);
    assert.deepEqual(q.body, { query: { total: 0, records: null } });
    assert.equal((await s.get(`${base}`, B)).body.query.total, 1);
    assert.deepEqual((await s.get(`${base}?operation=statistics`, A)).body, {
      statistics: { resources: 2, events: 2 },
    });
    assert.equal((await s.get(`${base}?operation=histogram`, B)).body.histogram.total, 1);
    assert.equal((await s.get(`/kapis/clusters/x/tenant.kubesphere.io/v1alpha2/auditing/events`)).status, 401);
  });

  test('live tail: each stream gets only new events its tenant may see and its filters match', async () => {
    const a = await openStream(s, A);
    const aPods = await openStream(s, A, '?objectref_resource_filter=pods&verb_filter=create');
    const admin = await openStream(s, 'admin-token');
    try {
      const r = await ingest([
        event({
          auditID: 'live-b',
          workspace: 'wb',
          objectRef: { resource: 'pods', namespace: 'ns-b' },
          verb: 'create',
        }),
        event({ auditID: 'live-a1', workspace: 'wa', verb: 'create' }),
        event({ auditID: 'live-a2', objectRef: { resource: 'secrets', namespace: 'ns-a' }, verb: 'get' }),
      ]);
      assert.equal(r.status, 200);
      await admin.waitFor(3);
      await a.waitFor(2);
      await aPods.waitFor(1);
      // A marker event the tenant may see, stored last, proves nothing else arrives before it.
      await ingest([event({ auditID: 'live-a3', workspace: 'wa', verb: 'create' })]);
      await a.waitFor(3);
      await aPods.waitFor(2);
      assert.deepEqual(auditIDs(a.received), ['live-a1', 'live-a2', 'live-a3']);
      assert.deepEqual(auditIDs(aPods.received), ['live-a1', 'live-a3']);
      // The admin sees everything, the marker included (it may or may not have arrived yet).
      await admin.waitFor(4);
      assert.deepEqual(auditIDs(admin.received), ['live-a1', 'live-a2', 'live-a3', 'live-b']);
      assert.equal(typeof a.received[0]!.id, 'string');
    } finally {
      await Promise.all([a.close(), aPods.close(), admin.close()]);
    }
    assert.equal((await fetch(`${s.url}/api/v1/events/stream`)).status, 401);
  });
});

test('without tokens the server refuses a non-loopback address, with a clear error', async () => {
  const config = parseConfig('', 'x.yaml', { listen: '0.0.0.0:0', data: '/nonexistent-should-not-be-created' });
  await assert.rejects(startServer(config, { logger: false }), /refusing to listen on 0\.0\.0\.0: no auth tokens/);
});
