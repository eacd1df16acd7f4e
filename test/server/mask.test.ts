// Credentials are never stored in clear: the collector masks them before the rules and the store see the event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { event } from './fixtures.ts';
import { startTestServer } from './helpers.ts';

test('secret-named members and configured paths are stored as ***', async () => {
  const s = await startTestServer('ingest:\n  mask: ["requestObject.spec.env[*].value"]\n');
  try {
    const e = event({
      auditID: 'mask-1',
      level: 'Request',
      verb: 'create',
      requestURI: '/api/v1/namespaces/a/secrets?access_token=tok-in-uri&dryRun=All',
      annotations: { 'example.com/auth': 'Bearer ann0tated-token' },
      requestObject: {
        kind: 'Secret',
        password: 'hunter2',
        metadata: { annotations: { Authorization: 'Bearer abc.def' } },
        spec: { env: [{ name: 'DB', value: 's3cret' }] },
        headers: [{ name: 'X-Auth-Token', value: 'pair-secret' }],
      },
    });
    const r = await s.post('/ingest/events', JSON.stringify([e]));
    assert.equal(r.status, 200);
    const list = (await s.get('/api/v1/events?audit_id_filter=mask-1')).body as {
      items: { requestObject: Record<string, unknown> }[];
    };
    const stored = JSON.stringify(list.items[0]);
    for (const secret of ['hunter2', 'abc.def', 's3cret', 'tok-in-uri', 'ann0tated-token', 'pair-secret'])
      assert.ok(!stored.includes(secret), `${secret} was stored`);
    const o = list.items[0]!.requestObject as {
      password: string;
      metadata: { annotations: Record<string, string> };
      spec: { env: { name: string; value: string }[] };
    };
    assert.equal(o.password, '***');
    assert.equal(o.metadata.annotations.Authorization, '***');
    assert.deepEqual(o.spec.env, [{ name: 'DB', value: '***' }]);
    const stored0 = list.items[0] as unknown as { requestURI: string; annotations: Record<string, string> };
    assert.equal(stored0.requestURI, '/api/v1/namespaces/a/secrets?access_token=***&dryRun=All');
    assert.equal(stored0.annotations['example.com/auth'], 'Bearer ***');
  } finally {
    await s.stop();
  }
});
