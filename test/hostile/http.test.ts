// The collector's HTTP surface under hostile input: every ingest path gets mutated seeds and noise, every query
// parameter odd values. The answer is 2xx or a 4xx with a JSON `error` — never a 5xx — and a rejected request
// stores nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../server/helpers.ts';
import { fixture, mutated, mutatedText } from './helpers.ts';

const falco = fixture('falco/k8saudit-events.jsonl')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);
const kubesphere = JSON.parse(fixture('kubesphere-batch.json'));
const cadf = JSON.parse(fixture('cadf-response-notification.json'));
const cadfRequest = JSON.parse(fixture('cadf-request-notification.json'));
const openfaas = JSON.parse(fixture('openfaas-delivery.json')) as Record<string, unknown>[];

const PATHS: Record<string, unknown[]> = {
  '/audit/webhook/event': [
    kubesphere,
    { kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items: falco.slice(0, 5) },
  ],
  '/ingest/cadf': [cadf, [cadfRequest, cadf], cadf.payload],
  '/ingest/openfaas': [openfaas],
  '/ingest/events': [falco.slice(0, 5), falco[0]],
};

/** JSON text of a value; non-JSON numbers (NaN, ±Infinity) become null as JSON.stringify writes them. */
function body(v: unknown): string {
  return JSON.stringify(v) ?? 'null';
}

describe('collector HTTP under hostile input', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.stop());

  async function stored(): Promise<number> {
    const r = await s.get('/api/v1/events?size=1');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.total;
  }

  /** POSTs and checks: 200, or 4xx with a JSON error and nothing stored. */
  async function post(path: string, text: string | Buffer, headers?: Record<string, string>): Promise<number> {
    const before = await stored();
    const r = await s.post(path, text, headers);
    assert.ok(r.status < 500, `${path} → ${r.status} ${JSON.stringify(r.body)}\n${String(text).slice(0, 500)}`);
    if (r.status >= 400) {
      assert.equal(typeof r.body?.error, 'string', JSON.stringify(r.body));
      assert.ok(r.body.error.length > 0);
      assert.equal(await stored(), before, `${path} → ${r.status} yet something was stored`);
    } else {
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    return r.status;
  }

  for (const [path, seeds] of Object.entries(PATHS)) {
    test(`${path}: mutated seeds and noise`, async () => {
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { weight: 3, arbitrary: mutated(seeds).map(body) },
            { weight: 1, arbitrary: mutatedText(seeds.map(body)) },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(body) },
          ),
          async (text) => {
            statuses.add(await post(path, text));
          },
        ),
        { numRuns: 60 },
      );
      assert.ok(statuses.has(200) || path === '/ingest/openfaas', `never accepted: ${[...statuses]}`);
      assert.ok(
        [...statuses].some((c) => c >= 400),
        'never rejected',
      );
    });
  }

  test('odd requests: wrong types, encodings, gzip bombs, deep and huge bodies', async () => {
    const ok = body(falco.slice(0, 2));
    assert.equal(await post('/ingest/events', ok, { 'content-type': 'text/plain' }), 415);
    assert.equal(
      await post('/ingest/events', ok, { 'content-type': 'application/json', 'content-encoding': 'br' }),
      415,
    );
    assert.equal(
      await post('/ingest/events', Buffer.from('not gzip'), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      }),
      400,
    );
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    assert.equal(
      await post('/ingest/events', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
      413,
    );
    assert.equal(await post('/ingest/events', `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`), 400);
    // 5000 levels: JSON.stringify itself would overflow, so the text is built around a marker.
    const deep = (v: unknown) => body(v).replace('"DEEP"', `${'['.repeat(5000)}${']'.repeat(5000)}`);
    assert.equal(await post('/ingest/events', deep([{ ...falco[0], requestObject: 'DEEP' }])), 400);
    assert.equal(await post('/audit/webhook/event', deep({ items: [{ ...falco[0], requestObject: 'DEEP' }] })), 400);
    assert.equal(await post('/ingest/cadf', deep({ ...cadf, x: 'DEEP' })), 400);
    assert.equal(await post('/ingest/openfaas', deep([{ ...openfaas[0], x: 'DEEP' }])), 400);
    // Just within the depth limit: stored, and every later stage (store, query, JSON) copes with it.
    const within = (v: unknown) => body(v).replace('"DEEP"', `${'['.repeat(998)}${']'.repeat(998)}`);
    assert.equal(
      await post('/ingest/events', within([{ ...falco[0], auditID: 'deep-but-ok', requestObject: 'DEEP' }])),
      200,
    );
    const got = await s.get('/api/v1/events?audit_id_filter=deep-but-ok');
    assert.equal(got.status, 200);
    assert.equal(got.body.total, 1);
    assert.equal(await post('/ingest/events', body([{ ...falco[0], user: { username: 'u'.repeat(70_000) } }])), 400);
    assert.equal(await post('/ingest/events', Buffer.alloc(11 * 1024 * 1024, 0x20)), 413);
    assert.equal(await post('/ingest/events', '\u0000'), 400);
    assert.equal(await post('/ingest/events', JSON.stringify('\u0000'.repeat(10))), 400);
  });

  test('batch size: 10,001 events on any path is a 400 naming the limit, and nothing is stored', async () => {
    const many = <T>(x: T) => Array.from({ length: 10_001 }, () => x);
    const small = { ...falco[0], requestObject: undefined, responseObject: undefined };
    for (const [path, text] of [
      ['/audit/webhook/event', body({ items: many(small) })],
      ['/ingest/events', body(many(small))],
      ['/ingest/cadf', body(many({ id: 'x', eventTime: '2020-01-01T00:00:00Z', action: 'read', outcome: 'success' }))],
      ['/ingest/openfaas', body(many({ path: '/', method: 'GET', response_code: 200, time: '2020-01-01T00:00:00Z' }))],
    ] as const) {
      const r = await s.post(path, text);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, /10001 events exceed the limit of 10000/, path);
    }
  });

  test('query parameters: odd values are 200 or 400, never 5xx', async () => {
    const params = [
      'size',
      'from',
      'after',
      'sort',
      'interval',
      'start_time',
      'end_time',
      'q',
      'by',
      'operation',
      'user_filter',
      'user_search',
      'response_code_filter',
      'verb_filter',
      'audit_id_filter',
      'objectref_name_search',
      'nope',
    ];
    const value = fc.oneof(
      fc.constantFrom(
        '',
        '0',
        '-1',
        '1e3',
        '1.5',
        '1000',
        '1001',
        '99999999999999999999999',
        '9'.repeat(400),
        'NaN',
        'Infinity',
        '1s',
        '0s',
        '99999999999999999999w',
        '1w',
        '2020-01-01T00:00:00Z',
        '0000-01-01T00:00:00Z',
        '275760-09-13T00:00:00Z',
        '9999-99-99T99:99:99Z',
        '%00',
        '%',
        '%ZZ',
        '%E2%80%AE',
        '*',
        '_',
        '\\',
        "'",
        '"',
        ',,,',
        'x'.repeat(10_000),
        'asc',
        'desc',
        'histogram',
        'statistics',
      ),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const endpoint = fc.constantFrom(
      '/api/v1/events',
      '/api/v1/events/histogram',
      '/api/v1/events/stats',
      '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events',
      '/kapis/clusters/host/tenant.kubesphere.io/v1alpha2/auditing/events',
    );
    await post('/ingest/events', body(falco.slice(0, 10)));
    await fc.assert(
      fc.asyncProperty(
        endpoint,
        fc.array(fc.tuple(fc.constantFrom(...params), value), { maxLength: 4 }),
        async (ep, ps) => {
          const qs = ps.map(([k, v]) => `${k}=${v}`).join('&');
          const r = await s.get(`${ep}?${qs}`);
          assert.ok(r.status === 200 || r.status === 400, `${ep}?${qs} → ${r.status} ${JSON.stringify(r.body)}`);
          if (r.status === 400) assert.equal(typeof r.body.error, 'string');
        },
      ),
      { numRuns: 300 },
    );
  });
});

test('ingest.limits in the configuration replace the defaults; bad values are config errors', async () => {
  const s = await startTestServer('ingest:\n  limits:\n    maxEvents: 2\n    maxFieldLength: 300\n    maxDepth: 8\n');
  try {
    const r = await s.post('/ingest/events', body(falco.slice(0, 3)));
    assert.equal(r.status, 400);
    assert.match(r.body.error, /3 events exceed the limit of 2/);
    const long = await s.post('/ingest/events', body([{ ...falco[0], verb: 'v'.repeat(301) }]));
    assert.equal(long.status, 400);
    assert.equal(long.body.field, '[0].verb');
    const deep = await s.post('/ingest/events', body([{ ...falco[0], requestObject: [[[[[[[[1]]]]]]]] }]));
    assert.equal(deep.status, 400);
    assert.match(deep.body.error, /requestObject: nested more than 8 levels deep/);
    assert.equal((await s.post('/ingest/events', body(falco.slice(0, 2)))).status, 200);
  } finally {
    await s.stop();
  }
  await assert.rejects(startTestServer('ingest:\n  limits:\n    maxEvents: 0\n'), /maxEvents/);
  await assert.rejects(startTestServer('ingest:\n  limits:\n    maxEvent: 5\n'), /maxEvent/);
});

test('histogram buckets: at most 10,000 by default (400 beyond), query.maxHistogramBuckets changes it', async () => {
  const at = (sec: number, id: string) => ({
    ...falco[0],
    auditID: id,
    requestReceivedTimestamp: new Date(sec * 1000).toISOString(),
    stageTimestamp: new Date(sec * 1000).toISOString(),
  });
  const now = Math.floor(Date.now() / 1000) - 3600;
  const two = body([at(now - 20_000, 'h1'), at(now, 'h2')]);
  const s = await startTestServer();
  try {
    assert.equal((await s.post('/ingest/events', two)).status, 200);
    const r = await s.get('/api/v1/events/histogram?interval=1s');
    assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 200));
    assert.match(r.body.error, /more than 10000 buckets/);
    assert.equal((await s.get('/api/v1/events/histogram?interval=2s')).status, 400);
    assert.equal((await s.get('/api/v1/events/histogram?interval=3s')).status, 200);
  } finally {
    await s.stop();
  }
  const big = await startTestServer('query:\n  maxHistogramBuckets: 30000\n');
  try {
    assert.equal((await big.post('/ingest/events', two)).status, 200);
    assert.equal((await big.get('/api/v1/events/histogram?interval=1s')).status, 200);
  } finally {
    await big.stop();
  }
});
