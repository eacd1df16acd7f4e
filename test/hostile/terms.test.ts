// Many fuzzy terms (issue 15, item 4): 999 terms shorter than 3 characters in one parameter made SQLite fail with
// "Expression tree is too large" (a 500). Beyond MAX_FUZZY_TERMS per parameter (MAX_FUZZY_TERMS_TOTAL in all) the
// answer is a 400 naming the parameter; any count within the bounds runs, on SQLite and PostgreSQL, also for a
// tenant (whose scope adds its own conditions), on every query endpoint.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_EXACT_VALUES, MAX_FUZZY_TERMS, MAX_FUZZY_TERMS_TOTAL } from '../../src/query/params.ts';
import { openStore, QueryError } from '../../src/store/index.ts';
import { dropSchema, PG_URL } from '../helpers/postgres.ts';
import { event, startTestServer, type TestServer } from '../server/helpers.ts';

const TOKENS = `
auth:
  tokens:
    - { name: ops, token: admin-token, role: admin }
    - { name: team-a, token: a-token, role: tenant, workspaces: [wa], namespaces: [ns-b] }
workspaces:
  wa: [ns-a]
`;

/** `n` distinct two-character terms (letters and digits), the last one `p1`. */
function terms(n: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const out: string[] = [];
  for (let i = 0; out.length < n - 1; i++) out.push(chars[i % 36]! + chars[Math.floor(i / 36) % 36]!);
  return [...out.filter((t) => t !== 'p1'), 'p1'].join(',');
}

const ENDPOINTS = [
  '/api/v1/events?',
  '/api/v1/events/histogram?interval=1h&',
  '/api/v1/events/stats?',
  '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events?',
  '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events?operation=histogram&',
  '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events?operation=statistics&',
];

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`fuzzy term counts are bounded and every accepted count runs (${kind})`, () => {
    let s: TestServer;
    const schema = `vigil_hostile_time_t${process.pid}`;
    before(async () => {
      if (kind === 'postgres') await dropSchema(schema);
      const storage = kind === 'postgres' ? `storage:\n  type: postgres\n  url: ${PG_URL}\n  schema: ${schema}\n` : '';
      s = await startTestServer(`${storage}${TOKENS}`);
      const events = Array.from({ length: 60 }, (_, i) =>
        event({
          auditID: `e${i}`,
          user: { username: `user-${i}-ab${i % 7}`, groups: ['system:authenticated'] },
          objectRef: { resource: 'pods', namespace: i % 2 ? 'ns-a' : 'ns-b', name: `p${i}-x${(i * 7) % 36}` },
          requestReceivedTimestamp: new Date(Date.now() - i * 60_000).toISOString(),
          stageTimestamp: new Date(Date.now() - i * 60_000).toISOString(),
        }),
      );
      const r = await s.post('/ingest/events', JSON.stringify(events), {
        'content-type': 'application/json',
        authorization: 'Bearer admin-token',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    after(async () => {
      await s.stop();
      if (kind === 'postgres') await dropSchema(schema);
    });

    test('999 two-character terms in one parameter are a 400 naming it, for admin and tenant', async () => {
      for (const param of ['objectref_name_search', 'user_search', 'q', 'verb_search'])
        for (const e of ENDPOINTS)
          for (const token of ['admin-token', 'a-token']) {
            const r = await s.get(`${e}${param}=${terms(999)}`, token);
            assert.equal(r.status, 400, `${e}${param}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
            assert.equal(r.body.field, param);
          }
    });

    test('more than the total across parameters is a 400; exact lists beyond their bound too', async () => {
      const half = terms(MAX_FUZZY_TERMS);
      const r = await s.get(`/api/v1/events?objectref_name_search=${half}&user_search=${half}&q=ab`, 'a-token');
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error, new RegExp(`${MAX_FUZZY_TERMS_TOTAL}`));
      const exact = Array.from({ length: MAX_EXACT_VALUES + 1 }, (_, i) => `u${i}`).join(',');
      const x = await s.get(`/api/v1/events?user_filter=${exact}`, 'a-token');
      assert.equal(x.status, 400, JSON.stringify(x.body));
      assert.equal(x.body.field, 'user_filter');
    });

    test('the most accepted terms run on every endpoint, for admin and tenant', async () => {
      const full = terms(MAX_FUZZY_TERMS);
      const queries = [
        `objectref_name_search=${full}&user_search=${full}`,
        `q=${full}&objectref_name_search=${full}`,
        `q=${full}&user_search=${full}`,
        `source_ip_search=${full}&group_search=${full}`,
        `objectref_namespace_search=${full}&workspace_search=${full}&user_filter=${Array.from({ length: MAX_EXACT_VALUES }, (_, i) => `user-${i}-ab${i % 7}`).join(',')}`,
      ];
      for (const q of queries)
        for (const e of ENDPOINTS)
          for (const token of ['admin-token', 'a-token']) {
            const r = await s.get(`${e}${q}`, token);
            assert.equal(r.status, 200, `${e}${q.slice(0, 60)} (${token}): ${JSON.stringify(r.body).slice(0, 300)}`);
          }
      // and they find what they should: the names containing one of the terms (p1, p10 … p19 with these)
      const r = await s.get(`/api/v1/events?size=100&objectref_name_search=${full}`, 'admin-token');
      assert.deepEqual(
        r.body.items.map((e: { objectRef: { name: string } }) => e.objectRef.name.split('-')[0]).sort(),
        ['p1', 'p10', 'p11', 'p12', 'p13', 'p14', 'p15', 'p16', 'p17', 'p18', 'p19'],
      );
    });
  });
}

test('the stores hold every caller to the search-term bounds, not only the HTTP layer', async () => {
  const store = await openStore({ type: 'sqlite', path: ':memory:' });
  try {
    const many = Array.from({ length: MAX_FUZZY_TERMS + 1 }, (_, i) => `t${i}`);
    await assert.rejects(store.query({ fuzzy: { name: many } }, { sort: 'desc', size: 1 }), QueryError);
    await assert.rejects(store.histogram({ text: many }, 60_000), QueryError);
    const half = many.slice(0, MAX_FUZZY_TERMS);
    await assert.rejects(store.stats({ fuzzy: { name: half, user: half }, text: ['x'] }, 'user', 5), QueryError);
    assert.equal((await store.query({ fuzzy: { name: half, user: half } }, { sort: 'desc', size: 1 })).total, 0);
  } finally {
    await store.close();
  }
});
