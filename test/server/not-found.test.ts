// Unknown API paths answer a JSON 404, never the console's page (issue #15, item 5).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers.ts';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(() => s.stop());

test('unknown paths under /api and /kapis, a too long cluster name, a bare /histogram or /stats: JSON 404', async () => {
  for (const p of [
    `/kapis/clusters/${'c'.repeat(101)}/tenant.kubesphere.io/v1alpha2/auditing/events`,
    '/kapis/unknown',
    '/api/v1/nothing',
    '/histogram',
    '/stats',
    '/stream',
  ]) {
    const r = await s.get(p);
    assert.equal(r.status, 404, p);
    assert.match(String(r.headers.get('content-type')), /application\/json/, p);
    assert.equal(typeof r.body.error, 'string', p);
  }
});
