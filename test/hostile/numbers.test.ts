// Numbers beyond the exact integers in query parameters (issue 15, item 3): `from=1e300` and
// `from=9223372036854775807` reached the stores (SQLite: "datatype mismatch", a 500). Every numeric parameter is a
// 400 naming it beyond its range, on SQLite and PostgreSQL; so is a forged cursor carrying such numbers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { QueryError } from '../../src/store/index.ts';
import { dropSchema, PG_URL } from '../helpers/postgres.ts';
import { event, startTestServer, type TestServer } from '../server/helpers.ts';

const HUGE = ['1e300', '9223372036854775807', '9007199254740993', '1e16', '-1', '1.5', 'Infinity', 'NaN'];
const cursor = (s: string) => Buffer.from(s).toString('base64url');

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`numbers outside the safe integers are 400s (${kind})`, () => {
    let s: TestServer;
    const schema = `vigil_hostile_time_n${process.pid}`;
    before(async () => {
      if (kind === 'postgres') await dropSchema(schema);
      const storage = kind === 'postgres' ? `storage:\n  type: postgres\n  url: ${PG_URL}\n  schema: ${schema}\n` : '';
      s = await startTestServer(`${storage}rules:\n  enabled: true\n`);
      const r = await s.post('/ingest/events', JSON.stringify([event({ auditID: 'a', verb: 'create' })]));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    after(async () => {
      await s.stop();
      if (kind === 'postgres') await dropSchema(schema);
    });

    test('from and size on events, KubeSphere (both paths), stats and alerts', async () => {
      const paths = [
        '/api/v1/events',
        '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events',
        '/kapis/clusters/c1/tenant.kubesphere.io/v1alpha2/auditing/events',
        '/api/v1/alerts',
      ];
      for (const p of paths)
        for (const param of ['from', 'size'])
          for (const v of HUGE) {
            const r = await s.get(`${p}?${param}=${encodeURIComponent(v)}`);
            assert.equal(r.status, 400, `${p}?${param}=${v}: ${r.status} ${JSON.stringify(r.body)}`);
            assert.match(JSON.stringify(r.body), new RegExp(param), `${p}?${param}=${v}: ${JSON.stringify(r.body)}`);
          }
      for (const v of HUGE) {
        const r = await s.get(`/api/v1/events/stats?size=${encodeURIComponent(v)}`);
        assert.equal(r.status, 400, `stats size=${v}: ${JSON.stringify(r.body)}`);
      }
      // the largest accepted offset runs
      for (const p of paths) {
        const r = await s.get(`${p}?from=${Number.MAX_SAFE_INTEGER}`);
        assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.body)}`);
      }
    });

    test('start_time/end_time and interval beyond the exact numbers', async () => {
      for (const q of [
        'start_time=1e300',
        'end_time=9223372036854775807',
        'start_time=99999999999999999999.5',
        'interval=9223372036854775807s',
        'interval=1e300s',
      ]) {
        const r = await s.get(`/api/v1/events/histogram?${q}`);
        assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
        assert.match(JSON.stringify(r.body), new RegExp(q.split('=')[0]!));
      }
    });

    test('a forged cursor with numbers beyond the stores’ integers is a 400', async () => {
      for (const c of ['99999999999999999:1', '1:9999999999999999999', '9223372036854775807:9223372036854775808']) {
        const r = await s.get(`/api/v1/events?after=${cursor(c)}`);
        assert.equal(r.status, 400, `${c}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    });

    test('the store itself refuses an offset beyond the safe integers', async () => {
      await assert.rejects(s.store.query({}, { sort: 'desc', size: 1, from: 1e300 }), QueryError);
      await assert.rejects(s.store.query({ start: 1e300 }, { sort: 'desc', size: 1 }), QueryError);
    });
  });
}
