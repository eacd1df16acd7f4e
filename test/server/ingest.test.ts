import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { event, falcoEvents, fixtureJson, startTestServer, type TestServer } from './helpers.ts';

const SECRET = 'test-secret-for-openfaas';
const sign = (body: Buffer | string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
type Notification = Record<string, unknown> & { payload: Record<string, unknown> };
const JSON_CT = { 'content-type': 'application/json' };

async function total(s: TestServer, query = ''): Promise<number> {
  const r = await s.get(`/api/v1/events?size=1${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.total;
}

describe('ingest paths', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer(`
ingest:
  openfaas: { secret: ${SECRET} }
workspaces:
  team-a: [kube-public]
`);
  });
  after(() => s.stop());

  test('an EventList (v1alpha1) is stored and enriched with its workspace from the map', async () => {
    const list = fixtureJson('k8s-eventlist-v1alpha1.json');
    const r = await s.post('/audit/webhook/event', JSON.stringify(list));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 1, inserted: 1, duplicates: 0, ignored: 0 });
    const q = await s.get('/api/v1/events?audit_id_filter=4faf711a-9094-400f-a876-d9188ceda548');
    assert.equal(q.body.total, 1);
    const e = q.body.items[0];
    assert.equal(e.objectRef.name, 'system:controller:bootstrap-signer');
    assert.equal(e.user.username, 'system:apiserver');
    assert.equal(e.workspace, 'team-a');
    assert.equal(typeof e.id, 'string');
  });

  test('the 51 real Kubernetes events, as a gzipped v1beta1 EventList; a retry stores nothing new', async () => {
    const items = falcoEvents();
    const body = gzipSync(JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items }));
    const headers = { ...JSON_CT, 'content-encoding': 'gzip' };
    const r = await s.post('/audit/webhook/event', body, headers);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.accepted, 51);
    // Two events of the file repeat an (auditID, stage) pair: the store keeps one of each.
    const unique = new Set(items.map((e) => `${e.auditID}/${e.stage}`)).size;
    assert.equal(r.body.inserted, unique);
    const foo = new Set(
      items.filter((e) => (e.objectRef as { name?: string })?.name === 'foo').map((e) => `${e.auditID}/${e.stage}`),
    );
    assert.ok(foo.size > 0);
    assert.equal(await total(s, '&source_filter=kubernetes&objectref_name_filter=foo'), foo.size);
    const again = await s.post('/audit/webhook/event', body, headers);
    assert.deepEqual(again.body, { accepted: 51, inserted: 0, duplicates: 51, ignored: 0 });
  });

  test("KubeSphere's PascalCase {Items: […]} batch", async () => {
    const body = {
      Items: [
        {
          Workspace: 'ks-ws',
          Cluster: 'host',
          Level: 'Metadata',
          AuditID: 'ks-1',
          Stage: 'ResponseComplete',
          RequestURI: '/kapis/tenant.kubesphere.io/v1alpha2/workspaces',
          Verb: 'create',
          User: { username: 'admin', groups: ['system:authenticated'] },
          SourceIPs: ['10.1.1.1'],
          ObjectRef: { Resource: 'workspaces', Name: 'ks-ws' },
          ResponseStatus: { code: 200 },
          RequestReceivedTimestamp: '2024-05-02T10:00:00.000000Z',
          StageTimestamp: '2024-05-02T10:00:00.010000Z',
        },
      ],
    };
    const r = await s.post('/audit/webhook/event', JSON.stringify(body));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const q = await s.get('/api/v1/events?audit_id_filter=ks-1');
    assert.equal(q.body.items[0].workspace, 'ks-ws');
    assert.equal(q.body.items[0].cluster, 'host');
    assert.equal(q.body.items[0].source, 'kubesphere');
  });

  test('an OpenFaaS delivery with a valid HMAC is stored once per delivery id', async () => {
    const delivery = fixtureJson('openfaas-delivery.json');
    const body = Buffer.from(JSON.stringify(delivery));
    const headers = {
      ...JSON_CT,
      'x-openfaas-event': 'api_access',
      'x-openfaas-delivery': 'fe0f677c-c431-498e-8ace-9ba857434334',
      'x-openfaas-signature-256': sign(body),
    };
    const r = await s.post('/ingest/openfaas', body, headers);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.inserted, 1);
    const q = await s.get('/api/v1/events?source_filter=openfaas');
    assert.equal(q.body.total, 1);
    assert.equal(q.body.items[0].user.username, 'fed:system:serviceaccount:openfaas:cron-connector');
    assert.equal(q.body.items[0].requestURI, '/system/namespaces');
    const retry = await s.post('/ingest/openfaas', body, headers);
    assert.equal(retry.status, 200);
    assert.equal(retry.body.inserted, 0);
    assert.equal(await total(s, '&source_filter=openfaas'), 1);
  });

  test('OpenFaaS: a captured signed body replayed with a new X-Openfaas-Delivery is not stored again', async () => {
    // The HMAC covers the body only: the delivery id is the attacker's to choose, the body's hash is not.
    const body = Buffer.from(
      JSON.stringify([
        {
          actor: { sub: 'replayed' },
          path: '/system/functions',
          method: 'GET',
          response_code: 200,
          time: '2026-03-01T12:00:00Z',
        },
      ]),
    );
    const send = (id: string) =>
      s.post('/ingest/openfaas', body, {
        ...JSON_CT,
        'x-openfaas-event': 'api_access',
        'x-openfaas-delivery': id,
        'x-openfaas-signature-256': sign(body),
      });
    const first = await send('replay-1');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.inserted, 1);
    for (const id of ['replay-2', 'replay-3']) {
      const again = await send(id);
      assert.equal(again.status, 200);
      assert.deepEqual([again.body.inserted, again.body.duplicates], [0, 1]);
    }
    assert.equal(await total(s, '&user_filter=replayed&source_filter=openfaas'), 1);
  });

  test('OpenFaaS: a missing, wrong or re-signed-body signature is 401 and stores nothing', async () => {
    const body = Buffer.from(
      JSON.stringify([
        {
          actor: { sub: 'mallory' },
          path: '/system/functions',
          method: 'DELETE',
          response_code: 202,
          time: '2024-05-01T10:00:00Z',
        },
      ]),
    );
    const base = { ...JSON_CT, 'x-openfaas-delivery': 'evil-1' };
    const tampered = Buffer.from(body.toString().replace('mallory', 'alice'));
    for (const headers of [
      base,
      { ...base, 'x-openfaas-signature-256': 'sha256=00' },
      { ...base, 'x-openfaas-signature-256': sign(body).replace('sha256=', 'sha1=') },
    ]) {
      const r = await s.post('/ingest/openfaas', body, headers);
      assert.equal(r.status, 401);
      assert.match(r.body.error, /X-Openfaas-Signature-256/);
    }
    // The signature is over the raw bytes: a body that differs by a byte fails.
    const r = await s.post('/ingest/openfaas', tampered, { ...base, 'x-openfaas-signature-256': sign(body) });
    assert.equal(r.status, 401);
    // The same event re-serialised with different whitespace is different bytes, too.
    const spaced = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    assert.equal(
      (await s.post('/ingest/openfaas', spaced, { ...base, 'x-openfaas-signature-256': sign(body) })).status,
      401,
    );
    assert.equal(await total(s, '&user_filter=mallory,alice&source_filter=openfaas'), 0);
  });

  test('CADF: the request and response notifications of one call become one event with outcome success', async () => {
    const request = fixtureJson('cadf-request-notification.json') as Record<string, unknown>;
    const response = fixtureJson('cadf-response-notification.json') as Record<string, unknown>;
    const r1 = await s.post('/ingest/cadf', JSON.stringify(request));
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    const r2 = await s.post('/ingest/cadf', JSON.stringify(response));
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    const q = await s.get('/api/v1/events?source_filter=cadf');
    assert.equal(q.body.total, 1);
    const e = q.body.items[0];
    assert.equal(e.auditID, '8cf14af5-246e-5739-a11e-513ca13b7d36');
    assert.equal(e.stage, 'ResponseComplete');
    assert.equal(e.origin.cadf.outcome, 'success');
    assert.equal(e.responseStatus.code, 200);
    assert.equal(e.user.username, 'admin');
  });

  test('CADF: an array holding both notifications and a 2.0 wire envelope collapse to one event', async () => {
    const request = fixtureJson('cadf-request-notification.json') as Notification;
    const response = fixtureJson('cadf-response-notification.json') as Notification;
    const id = 'a2f0c3de-0000-4000-8000-000000000001';
    const withId = (n: Notification) => ({ ...n, payload: { ...n.payload, id } });
    const wire = { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(withId(response)) };
    const r = await s.post('/ingest/cadf', JSON.stringify([withId(request), wire]));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const q = await s.get(`/api/v1/events?audit_id_filter=${id}`);
    assert.equal(q.body.total, 1);
    assert.equal(q.body.items[0].origin.cadf.outcome, 'success');
  });

  test("Vigil's canonical events: a JSON array and JSON lines", async () => {
    const a = event({ auditID: 'canon-1', user: { username: 'carol' } });
    const b = event({ auditID: 'canon-2', user: { username: 'carol' } });
    const r1 = await s.post('/ingest/events', JSON.stringify([a]));
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    const r2 = await s.post('/ingest/events', `${JSON.stringify(b)}\n`, { 'content-type': 'application/x-ndjson' });
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    assert.equal(await total(s, '&user_filter=carol'), 2);
  });
});

describe('bad input: a 4xx JSON answer naming the problem, nothing stored, server keeps serving', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer('ingest:\n  maxBodyBytes: 4096\n');
  });
  after(() => s.stop());

  const good = (id: string) => ({
    kind: 'EventList',
    apiVersion: 'audit.k8s.io/v1',
    items: [falcoEvents()[0], { ...falcoEvents()[1], auditID: id }],
  });

  const cases: {
    name: string;
    path: string;
    body: string | Buffer;
    headers?: Record<string, string>;
    status: number;
    error: RegExp;
    field?: string;
  }[] = [
    {
      name: 'malformed JSON',
      path: '/audit/webhook/event',
      body: '{"kind": "EventList", "items": [',
      status: 400,
      error: /JSON/,
    },
    {
      name: 'wrong content type',
      path: '/audit/webhook/event',
      body: JSON.stringify(good('x1')),
      headers: { 'content-type': 'text/plain' },
      status: 415,
      error: /Content-Type/,
    },
    {
      name: 'NDJSON on the webhook',
      path: '/audit/webhook/event',
      body: '{}',
      headers: { 'content-type': 'application/x-ndjson' },
      status: 415,
      error: /Content-Type/,
    },
    {
      name: 'unknown kind',
      path: '/audit/webhook/event',
      body: JSON.stringify({ ...good('x2'), kind: 'PodList' }),
      status: 400,
      error: /PodList/,
      field: 'kind',
    },
    {
      name: 'oversized body',
      path: '/audit/webhook/event',
      body: JSON.stringify({ ...good('x3'), pad: 'x'.repeat(5000) }),
      status: 413,
      error: /./,
    },
    {
      name: 'gzip bomb beyond the limit',
      path: '/audit/webhook/event',
      body: gzipSync(JSON.stringify({ ...good('x4'), pad: 'x'.repeat(100_000) })),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      status: 413,
      error: /gunzipped/,
    },
    {
      name: 'not gzip',
      path: '/audit/webhook/event',
      body: JSON.stringify(good('x5')),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      status: 400,
      error: /gzip/,
    },
    {
      name: 'event missing auditID (the other event of the batch is not stored either)',
      path: '/audit/webhook/event',
      body: JSON.stringify({ ...good('x6'), items: [falcoEvents()[0], { ...falcoEvents()[1], auditID: undefined }] }),
      status: 400,
      error: /auditID/,
      field: 'items[1].auditID',
    },
    {
      name: 'CADF without outcome',
      path: '/ingest/cadf',
      body: JSON.stringify({
        typeURI: 'http://schemas.dmtf.org/cloud/audit/1.0/event',
        id: 'c-1',
        eventTime: '2018-10-11T22:42:22.720112+0000',
        action: 'read',
      }),
      status: 400,
      error: /outcome/,
      field: 'outcome',
    },
    {
      name: 'OpenFaaS delivery that is not an array',
      path: '/ingest/openfaas',
      body: '{"path": "/x"}',
      status: 400,
      error: /array/,
    },
    {
      name: 'OpenFaaS metering event',
      path: '/ingest/openfaas',
      body: '[]',
      headers: { 'content-type': 'application/json', 'x-openfaas-event': 'function_usage' },
      status: 400,
      error: /api_access/,
      field: 'X-Openfaas-Event',
    },
    { name: 'empty body', path: '/ingest/events', body: '', status: 400, error: /./ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await s.post(c.path, c.body, c.headers ?? JSON_CT);
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      assert.equal(typeof r.body.error, 'string');
      assert.match(r.body.error, c.error);
      if (c.field) assert.equal(r.body.field, c.field);
      assert.equal(await total(s), 0);
      assert.equal((await s.get('/healthz')).status, 200);
    });
  }

  test('rejections are counted in /metrics', async () => {
    const m = await s.get('/metrics');
    assert.match(m.body, /vigil_ingest_rejected_total\{path="\/audit\/webhook\/event",reason="415"\} 2/);
    assert.match(m.body, /vigil_ingest_rejected_total\{path="\/audit\/webhook\/event",reason="413"\} 2/);
  });
});
