import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { matches } from '../../src/query/matches.ts';
import { toEventQuery } from '../../src/query/params.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const at = (min: number) =>
  new Date(T0 + min * 60_000)
    .toISOString()
    .replace('Z', '000Z')
    .replace(/\.(\d{3})000Z$/, '.$1000Z');

/** Eight events, one per minute, differing in every filterable field. */
const EVENTS: AuditEvent[] = [
  event({
    auditID: 'q0',
    requestReceivedTimestamp: at(0),
    workspace: 'wa',
    cluster: 'host',
    user: { username: 'alice', groups: ['devs'] },
    verb: 'create',
    objectRef: { resource: 'deployments', namespace: 'ns-a', name: 'web' },
    responseStatus: { code: 201 },
    sourceIPs: ['10.0.0.1'],
    level: 'RequestResponse',
  }),
  event({
    auditID: 'q1',
    requestReceivedTimestamp: at(1),
    workspace: 'wa',
    cluster: 'host',
    user: { username: 'alice', groups: ['devs'] },
    verb: 'get',
    objectRef: { resource: 'pods', namespace: 'ns-a', name: 'web-1', subresource: 'log' },
    sourceIPs: ['10.0.0.1'],
  }),
  event({
    auditID: 'q2',
    requestReceivedTimestamp: at(2),
    workspace: 'wb',
    cluster: 'member',
    user: { username: 'bob', groups: ['ops'] },
    verb: 'delete',
    objectRef: { resource: 'pods', namespace: 'ns-b', name: 'db-0' },
    responseStatus: { code: 403, status: 'Failure' },
    sourceIPs: ['192.168.1.9'],
  }),
  event({
    auditID: 'q3',
    requestReceivedTimestamp: at(3),
    workspace: 'wb',
    cluster: 'member',
    user: { username: 'bob', groups: ['ops'] },
    verb: 'update',
    objectRef: { resource: 'configmaps', namespace: 'ns-b', name: 'settings' },
    sourceIPs: ['192.168.1.9'],
    level: 'Request',
  }),
  event({
    auditID: 'q4',
    requestReceivedTimestamp: at(4),
    user: { username: 'system:admin', groups: ['system:masters'] },
    verb: 'list',
    objectRef: { resource: 'nodes' },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'kubelet/v1.30',
  }),
  event({
    auditID: 'q5',
    requestReceivedTimestamp: at(5),
    source: 'cadf',
    user: { username: 'admin' },
    verb: 'list',
    requestURI: '/load-balancer/v2.0/lbaas/loadbalancers',
    objectRef: undefined,
    sourceIPs: ['10.21.21.53'],
  }),
  event({
    auditID: 'q6',
    requestReceivedTimestamp: at(16),
    workspace: 'wa',
    user: { username: 'carol', groups: ['devs'] },
    verb: 'patch',
    objectRef: { resource: 'services', namespace: 'ns-a', name: 'web' },
    responseStatus: { code: 404 },
  }),
  event({
    auditID: 'q7',
    requestReceivedTimestamp: at(31),
    source: 'openfaas',
    user: { username: 'fed:cron' },
    verb: 'create',
    objectRef: { resource: 'functions', namespace: 'openfaas-fn', name: 'figlet' },
    responseStatus: { code: 202 },
  }),
];

describe('query API', () => {
  let s: TestServer;
  const ids = (r: { body: { items: { auditID: string }[] } }) => r.body.items.map((e) => e.auditID).sort();
  before(async () => {
    s = await startTestServer();
    await s.store.append(EVENTS);
  });
  after(() => s.stop());

  const cases: [string, string[]][] = [
    ['workspace_filter=wa', ['q0', 'q1', 'q6']],
    ['workspace_filter=wa,wb', ['q0', 'q1', 'q2', 'q3', 'q6']],
    ['workspace_search=W', ['q0', 'q1', 'q2', 'q3', 'q6']],
    ['objectref_namespace_filter=ns-b', ['q2', 'q3']],
    ['objectref_namespace_search=NS-', ['q0', 'q1', 'q2', 'q3', 'q6']],
    ['objectref_resource_filter=pods', ['q1', 'q2']],
    ['objectref_resource_search=map', ['q3']],
    ['objectref_subresource_filter=log', ['q1']],
    ['objectref_name_filter=web', ['q0', 'q6']],
    ['objectref_name_search=web', ['q0', 'q1', 'q6']],
    ['verb_filter=get,delete', ['q1', 'q2']],
    ['level_filter=Request', ['q3']],
    ['user_filter=alice', ['q0', 'q1']],
    ['user_filter=Alice', []],
    ['user_search=ALI', ['q0', 'q1']],
    ['group_filter=ops', ['q2', 'q3']],
    ['group_search=system', ['q4']],
    ['source_ip_filter=10.0.0.1', ['q0', 'q1', 'q6', 'q7']],
    ['source_ip_search=192.168', ['q2', 'q3']],
    ['response_code_filter=403,404', ['q2', 'q6']],
    ['response_status_filter=Failure', ['q2']],
    ['cluster_filter=member', ['q2', 'q3']],
    ['source_filter=cadf,openfaas', ['q5', 'q7']],
    ['response_code_filter=4xx', ['q2', 'q6']],
    ['response_code_filter=2xx,>=404', ['q0', 'q1', 'q3', 'q4', 'q5', 'q6', 'q7']],
    ['response_code_filter=201-403', ['q0', 'q2', 'q7']],
    ['response_code_filter=<201', ['q1', 'q3', 'q4', 'q5']],
    ['response_code_exclude=2xx', ['q2', 'q6']],
    ['response_code_exclude=>299', ['q0', 'q1', 'q3', 'q4', 'q5', 'q7']],
    ['user_exclude=alice,bob', ['q4', 'q5', 'q6', 'q7']],
    ['verb_exclude=list&user_filter=alice,admin', ['q0', 'q1']],
    // events without a workspace are kept: the value they lack is not the one excluded
    ['workspace_exclude=wa', ['q2', 'q3', 'q4', 'q5', 'q7']],
    ['group_exclude=devs', ['q2', 'q3', 'q4', 'q5', 'q7']],
    ['source_ip_exclude=10.0.0.1,127.0.0.1', ['q2', 'q3', 'q5']],
    ['objectref_subresource_exclude=log', ['q0', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7']],
    ['objectref_namespace_exclude=ns-a,ns-b&objectref_resource_exclude=nodes', ['q5', 'q7']],
    ['audit_id_exclude=q0,q1,q2,q3,q4,q5&level_exclude=Request', ['q6', 'q7']],
    ['cluster_exclude=host&source_exclude=kubernetes', ['q5', 'q7']],
    ['response_status_exclude=Failure&devops_exclude=x&objectref_name_exclude=web', ['q1', 'q3', 'q4', 'q5', 'q7']],
    ['stage_exclude=ResponseComplete', []],
    ['q=kubelet', ['q4']],
    ['q=lbaas', ['q5']],
    ['user_filter=alice&verb_filter=create', ['q0']],
    [`start_time=${T0 / 1000 + 120}&end_time=${T0 / 1000 + 240}`, ['q2', 'q3', 'q4']],
    [`start_time=${at(16)}`, ['q6', 'q7']],
  ];
  for (const [query, expected] of cases) {
    test(`?${query}`, async () => {
      const r = await s.get(`/api/v1/events?size=100&${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(ids(r), expected);
      assert.equal(r.body.total, expected.length);
      // The live tail's in-process matcher agrees with the store.
      const q = toEventQuery(Object.fromEntries(new URLSearchParams(query)));
      assert.deepEqual(
        EVENTS.filter((e) => matches(e, q))
          .map((e) => e.auditID)
          .sort(),
        expected,
      );
    });
  }

  test('default: newest first, 10 per page, every item has an id', async () => {
    const r = await s.get('/api/v1/events');
    assert.equal(r.body.total, 8);
    assert.deepEqual(
      r.body.items.map((e: AuditEvent) => e.auditID),
      ['q7', 'q6', 'q5', 'q4', 'q3', 'q2', 'q1', 'q0'],
    );
    assert.ok(r.body.items.every((e: { id: unknown }) => typeof e.id === 'string'));
    assert.equal(r.body.next, undefined);
  });

  test('paging with from/size and with the after cursor, both directions', async () => {
    for (const sort of ['asc', 'desc'] as const) {
      const expected = EVENTS.map((e) => e.auditID);
      if (sort === 'desc') expected.reverse();
      const byOffset: string[] = [];
      for (let from = 0; from < 8; from += 3) {
        const r = await s.get(`/api/v1/events?sort=${sort}&size=3&from=${from}`);
        assert.equal(r.body.total, 8);
        byOffset.push(...r.body.items.map((e: AuditEvent) => e.auditID));
      }
      assert.deepEqual(byOffset, expected);
      const byCursor: string[] = [];
      let next: string | undefined;
      let pages = 0;
      do {
        const r = await s.get(`/api/v1/events?sort=${sort}&size=3${next ? `&after=${encodeURIComponent(next)}` : ''}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        byCursor.push(...r.body.items.map((e: AuditEvent) => e.auditID));
        next = r.body.next;
        pages++;
      } while (next && pages < 10);
      assert.deepEqual(byCursor, expected);
    }
  });

  test('bad parameters → 400 naming the parameter', async () => {
    const bad: [string, string][] = [
      ['size=0', 'size'],
      ['size=1001', 'size'],
      ['size=ten', 'size'],
      ['from=-1', 'from'],
      ['sort=sideways', 'sort'],
      ['start_time=yesterday', 'start_time'],
      ['end_time=2024-13-45', 'end_time'],
      ['response_code_filter=ok', 'response_code_filter'],
      ['response_code_filter=4xx,=>400', 'response_code_filter'],
      ['response_code_filter=4031', 'response_code_filter'],
      ['response_code_filter=6xx', 'response_code_filter'],
      ['response_code_exclude=500-400', 'response_code_exclude'],
      ['user_fliter=alice', 'user_fliter'],
      ['after=bm9wZQ', ''],
    ];
    for (const [query, field] of bad) {
      const r = await s.get(`/api/v1/events?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(typeof r.body.error, 'string', query);
      if (field) {
        assert.equal(r.body.field, field, query);
        assert.ok(r.body.error.includes(field), `${query}: ${r.body.error}`);
      }
    }
    const r = await s.get('/api/v1/events?colour=red&flavour=mint');
    assert.match(r.body.error, /unknown parameter "colour", "flavour"/);
  });

  test('get by id; unknown id → 404', async () => {
    const list = await s.get('/api/v1/events?audit_id_filter=q2');
    const id = list.body.items[0].id;
    const r = await s.get(`/api/v1/events/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.auditID, 'q2');
    assert.equal(r.body.id, id);
    assert.equal((await s.get('/api/v1/events/999999')).status, 404);
  });

  test('histogram: aligned buckets, gaps included, default 15m; bad interval → 400', async () => {
    const r = await s.get('/api/v1/events/histogram?interval=15m');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.total, 8);
    assert.deepEqual(r.body.buckets, [
      { time: T0, count: 6 },
      { time: T0 + 15 * 60_000, count: 1 },
      { time: T0 + 30 * 60_000, count: 1 },
    ]);
    const d = await s.get('/api/v1/events/histogram?user_filter=alice');
    assert.deepEqual(d.body, { total: 2, buckets: [{ time: T0, count: 2 }] });
    const bad = await s.get('/api/v1/events/histogram?interval=15x');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'interval');
  });

  test('stats: top values per field with counts', async () => {
    const r = await s.get('/api/v1/events/stats?by=user&size=2');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.total, 8);
    assert.equal(r.body.auditIDs, 8);
    assert.deepEqual(r.body.top.slice(0, 2), [
      { key: 'alice', count: 2 },
      { key: 'bob', count: 2 },
    ]);
    const v = await s.get('/api/v1/events/stats?by=verb&workspace_filter=wa');
    assert.deepEqual(v.body.top.map((t: { key: string }) => t.key).sort(), ['create', 'get', 'patch']);
    const ip = await s.get('/api/v1/events/stats?by=sourceip&size=1');
    assert.equal(ip.body.by, 'sourceIP');
    assert.equal((await s.get('/api/v1/events/stats?by=colour')).body.field, 'by');
  });

  test("KubeSphere's path: query, statistics and histogram shapes", async () => {
    const base = '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events';
    const q = await s.get(`${base}?operation=query&user_filter=bob&size=1&sort=asc`);
    assert.equal(q.status, 200, JSON.stringify(q.body));
    assert.deepEqual(Object.keys(q.body), ['query']);
    assert.equal(q.body.query.total, 2);
    assert.equal(q.body.query.records.length, 1);
    const rec = q.body.query.records[0];
    assert.equal(rec.AuditID, 'q2');
    assert.deepEqual(rec.User, { Username: 'bob', UID: '', Groups: 'ops' });
    assert.equal(rec.SourceIPs, '192.168.1.9');
    assert.equal(rec.ObjectRef.Namespace, 'ns-b');
    const none = await s.get(`${base}?user_filter=nobody`);
    assert.deepEqual(none.body, { query: { total: 0, records: null } });
    const st = await s.get(`${base}?operation=statistics&workspace_filter=wa`);
    assert.deepEqual(st.body, { statistics: { resources: 3, events: 3 } });
    const h = await s.get(`${base}?operation=histogram&interval=30m`);
    assert.deepEqual(h.body, {
      histogram: {
        total: 8,
        buckets: [
          { time: T0, count: 7 },
          { time: T0 + 30 * 60_000, count: 1 },
        ],
      },
    });
    const member = await s.get(`/kapis/clusters/member/tenant.kubesphere.io/v1alpha2/auditing/events`);
    assert.equal(member.body.query.total, 2);
    assert.equal((await s.get(`${base}?operation=explode`)).status, 400);
  });

  test('health, readiness and metrics', async () => {
    assert.deepEqual((await s.get('/healthz')).body, { status: 'ok' });
    assert.deepEqual((await s.get('/readyz')).body, { status: 'ready' });
    const m = await s.get('/metrics');
    assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(m.body, /^vigil_store_events 8$/m);
    assert.match(m.body, /^vigil_store_bytes \d+$/m);
    const perEvent = Number(/^vigil_store_bytes_per_event (\d+)$/m.exec(m.body)?.[1]);
    const bytes = Number(/^vigil_store_bytes (\d+)$/m.exec(m.body)?.[1]);
    assert.equal(perEvent, Math.round(bytes / 8));
    const size = await s.get('/api/v1/store');
    assert.equal(size.status, 200, JSON.stringify(size.body));
    assert.equal(size.body.events, 8);
    assert.ok(size.body.bytes > 0);
    assert.equal(size.body.bytesPerEvent, Math.round(size.body.bytes / 8));
    assert.match(m.body, /^vigil_query_duration_seconds_count\{endpoint="list"\} \d+$/m);
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes'])
      assert.match(m.body, new RegExp(`^${name} [1-9]\\d*$`, 'm'));
    // the SQLite writer thread's own heap (it has written the events above)
    assert.match(m.body, /^vigil_store_writer_heap_bytes\{kind="total"\} [1-9]\d*$/m);
    assert.match(m.body, /^vigil_store_writer_heap_bytes\{kind="used"\} [1-9]\d*$/m);
  });
});
