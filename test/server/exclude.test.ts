// `<field>_exclude` and status classes over HTTP: every filterable field's exclusion parameter (from the field
// table) on every query endpoint — list, histogram, stats, KubeSphere's path (each operation) and the live tail.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sseEvents } from '../../src/cli/tail.ts';
import { FIELD_PARAMS } from '../../src/store/fields.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const EVENTS = [
  event({
    auditID: 'x0',
    verb: 'get',
    user: { username: 'alice' },
    responseStatus: { code: 200 },
    userAgent: 'kubectl/v1.30.0',
  }),
  event({
    auditID: 'x1',
    verb: 'delete',
    user: { username: 'bob' },
    responseStatus: { code: 403 },
    userAgent: 'kubectl/v1.30.0',
  }),
  event({ auditID: 'x2', verb: 'patch', user: { username: 'carol' }, responseStatus: { code: 500 } }),
  event({ auditID: 'x3', verb: 'get', user: { username: 'dave' }, responseStatus: undefined }),
];

describe('exclusion and status classes on every endpoint', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
    await s.store.append(EVENTS);
  });
  after(() => s.stop());

  test('every filterable field has an exclusion parameter, accepted by every endpoint', async () => {
    assert.ok(FIELD_PARAMS.length >= 17);
    for (const { filter, exclude } of FIELD_PARAMS) {
      assert.equal(exclude, filter.replace(/_filter$/, '_exclude'));
      const v = exclude === 'response_code_exclude' ? '418' : 'no-such-value';
      for (const path of [
        '/api/v1/events',
        '/api/v1/events/histogram',
        '/api/v1/events/stats',
        '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events',
      ]) {
        const r = await s.get(`${path}?${exclude}=${v}`);
        assert.equal(r.status, 200, `${path}?${exclude}: ${JSON.stringify(r.body)}`);
      }
    }
  });

  test('list, histogram, stats and KubeSphere operations count the same events', async () => {
    const q = 'verb_exclude=get&response_code_exclude=5xx';
    const list = await s.get(`/api/v1/events?${q}`);
    assert.deepEqual(
      list.body.items.map((e: StoredEvent) => e.auditID),
      ['x1'],
    );
    assert.equal((await s.get(`/api/v1/events/histogram?${q}`)).body.total, 1);
    const stats = await s.get(`/api/v1/events/stats?by=user&${q}`);
    assert.deepEqual(stats.body.top, [{ key: 'bob', count: 1 }]);
    const ks = '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events';
    assert.equal((await s.get(`${ks}?${q}`)).body.query.total, 1);
    assert.equal((await s.get(`${ks}?operation=statistics&${q}`)).body.statistics.events, 1);
    assert.equal((await s.get(`${ks}?operation=histogram&${q}`)).body.histogram.total, 1);
    // a missing code is not excluded, and a class filter never matches it
    const codes = await s.get('/api/v1/events?response_code_exclude=>=400');
    assert.deepEqual(codes.body.items.map((e: StoredEvent) => e.auditID).sort(), ['x0', 'x3']);
    const errors = await s.get('/api/v1/events?response_code_filter=4xx,5xx');
    assert.deepEqual(errors.body.items.map((e: StoredEvent) => e.auditID).sort(), ['x1', 'x2']);
  });

  test("the request URI and the user agent filter exactly and exclude, on the list and KubeSphere's path", async () => {
    const uri = encodeURIComponent('/api/v1/namespaces/default/pods');
    const list = await s.get(`/api/v1/events?request_uri_filter=${uri}`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.total, EVENTS.length);
    // whole value only: a prefix matches nothing
    assert.equal((await s.get('/api/v1/events?request_uri_filter=/api/v1')).body.total, 0);
    assert.equal((await s.get(`/api/v1/events/histogram?request_uri_exclude=${uri}`)).body.total, 0);
    const ua = encodeURIComponent('kubectl/v1.30.0');
    const agents = await s.get(`/api/v1/events?user_agent_filter=${ua}`);
    assert.deepEqual(agents.body.items.map((e: StoredEvent) => e.auditID).sort(), ['x0', 'x1']);
    // an event without a user agent is never excluded
    const ks = '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events';
    assert.equal((await s.get(`${ks}?user_agent_exclude=${ua}`)).body.query.total, 2);
  });

  test('a malformed code item → 400 naming it', async () => {
    const r = await s.get('/api/v1/events/histogram?response_code_filter=4xx,40x');
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'response_code_filter');
    assert.match(r.body.error, /"40x"/);
  });

  test('the live tail applies exclusions and status classes', { timeout: 10_000 }, async () => {
    const ac = new AbortController();
    const res = await fetch(`${s.url}/api/v1/events/stream?verb_exclude=get&response_code_filter=>=400,<300`, {
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of sseEvents(res)) {
        got.push(e.auditID);
        if (e.auditID === 'y-last') break;
      }
    })();
    // the stream sends ": subscribed" before the first event; the server's subscription exists once fetch answered
    await s.store.append([
      event({ auditID: 'y0', verb: 'get', responseStatus: { code: 500 } }),
      event({ auditID: 'y1', verb: 'delete', responseStatus: { code: 302 } }),
      event({ auditID: 'y2', verb: 'delete', responseStatus: { code: 404 } }),
      event({ auditID: 'y3', verb: 'create', responseStatus: { code: 201 } }),
      event({ auditID: 'y-last', verb: 'update', responseStatus: { code: 200 } }),
    ]);
    await reading;
    ac.abort();
    assert.deepEqual(got, ['y2', 'y3', 'y-last']);
  });
});
