// Tokens stored as hashes, `vigil token hash`, and per-caller rate limits (token buckets, 429 + Retry-After).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthError, Authenticator, hashToken, RateLimitError } from '../../src/auth/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { vigil } from '../helpers/cli.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer } from './helpers.ts';

test('vigil token hash prints sha256:<hex> of the token on stdin', async () => {
  const r = await vigil(['token', 'hash'], 's3cret\n');
  assert.equal(r.code, 0, r.err);
  // sha256("s3cret"), computed independently (sha256sum).
  assert.equal(r.out, 'sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\n');
  assert.equal(r.out.trim(), hashToken('s3cret'));
  const empty = await vigil(['token', 'hash'], '\n');
  assert.equal(empty.code, 2);
  assert.match(empty.err, /no token on stdin/);
  assert.equal((await vigil(['token', 'hash'], 'two words')).code, 2);
});

test('tokenHash must be sha256:<64 hex digits>, with file:line:col; token and tokenHash exclude each other', () => {
  assert.throws(
    () => parseConfig('auth:\n  tokens:\n    - { name: a, tokenHash: "md5:abc", role: admin }\n', 'v.yaml'),
    /^ConfigError: v\.yaml:3:\d+: auth\.tokens\[0\]\.tokenHash: must be sha256:<64 hex digits>/,
  );
  assert.throws(
    () =>
      parseConfig(
        `auth:\n  tokens:\n    - { name: a, token: t, tokenHash: "${hashToken('t')}", role: admin }\n`,
        'v.yaml',
      ),
    /v\.yaml:3:7: auth\.tokens\[0\]: needs exactly one of token, tokenHash/,
  );
});

test('the authenticator keeps no token in memory, only digests', () => {
  const auth = new Authenticator([
    { name: 'plain', token: 'plain-secret-token', role: 'admin' },
    { name: 'hashed', tokenHash: hashToken('hashed-secret-token'), role: 'ingest' },
  ]);
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) {
      assert.ok(typeof v !== 'string' || !v.includes('secret-token'), `a token kept in memory: ${String(v)}`);
      return;
    }
    seen.add(v);
    for (const k of Reflect.ownKeys(v)) walk((v as Record<string | symbol, unknown>)[k]);
    if (v instanceof Map) for (const [k, x] of v) walk([k, x]);
  };
  walk(auth);
  assert.equal(auth.identify('Bearer plain-secret-token').name, 'plain');
  assert.equal(auth.identify('Bearer hashed-secret-token').name, 'hashed');
  assert.throws(() => auth.identify(`Bearer ${hashToken('hashed-secret-token')}`), AuthError);
});

test('token buckets: burst of twice the rate, refill over time, per caller and per kind', () => {
  let now = 1_000_000;
  const auth = new Authenticator(
    [
      { name: 'a', token: 'ta', role: 'admin' },
      { name: 'b', token: 'tb', role: 'admin' },
    ],
    { rateLimit: { ingestPerSecond: 2, queryPerSecond: 1 }, now: () => now },
  );
  const req = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, socket: {} });
  for (let i = 0; i < 4; i++) auth.authorize(req('ta'), ['admin'], 'ingest');
  const err = (() => {
    try {
      auth.authorize(req('ta'), ['admin'], 'ingest');
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof RateLimitError);
  assert.equal(err.retryAfterSeconds, 1);
  // Another caller, and another kind, have their own buckets.
  auth.authorize(req('tb'), ['admin'], 'ingest');
  auth.authorize(req('ta'), ['admin'], 'query');
  // Half a second later one request (rate 2/s) is allowed again, not two.
  now += 500;
  auth.authorize(req('ta'), ['admin'], 'ingest');
  assert.throws(() => auth.authorize(req('ta'), ['admin'], 'ingest'), RateLimitError);
  // 0 turns a limit off.
  const open = new Authenticator([{ name: 'a', token: 'ta', role: 'admin' }], {
    rateLimit: { ingestPerSecond: 0 },
    now: () => now,
  });
  for (let i = 0; i < 1000; i++) open.authorize(req('ta'), ['admin'], 'ingest');
});

describe('the collector with hashed tokens and rate limits', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer(`
auth:
  tokens:
    - { name: ops, tokenHash: "${hashToken('ops-token')}", role: admin }
    - { name: shipper, tokenHash: "${hashToken('ship-token')}", role: ingest }
    - { name: other, token: other-token, role: admin }
  rateLimit: { ingestPerSecond: 1, queryPerSecond: 1 }
`);
  });
  after(() => s.stop());

  const ingest = (token: string, id: string) =>
    s.post('/ingest/events', JSON.stringify([event({ auditID: id })]), {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    });

  test('a hashed token authenticates; its hash does not', async () => {
    assert.equal((await ingest('ship-token', 'h1')).status, 200);
    assert.equal((await s.get('/api/v1/events', 'ops-token')).status, 200);
    assert.equal((await s.get('/api/v1/events', hashToken('ops-token'))).status, 401);
  });

  test('past its burst a caller gets 429 with Retry-After and a JSON error; others are not affected', async () => {
    // Burst 2 at 1/s: requests in quick succession are refused after at most a few (a slow machine refills the
    // bucket between them, so the count is bounded rather than exact).
    const accepted = ['h1'];
    let r: Awaited<ReturnType<typeof ingest>> | undefined;
    for (let i = 2; i <= 12; i++) {
      r = await ingest('ship-token', `h${i}`);
      if (r.status !== 200) break;
      accepted.push(`h${i}`);
    }
    assert.equal(r?.status, 429);
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.match(r.body.error, /rate limit: "shipper" may make 1 ingest requests per second/);
    assert.equal((await ingest('other-token', 'other-1')).status, 200);
    // ops: queries in quick succession are refused after a few.
    let q: Awaited<ReturnType<typeof s.get>> | undefined;
    for (let i = 0; i < 12; i++) {
      q = await s.get('/api/v1/events', 'ops-token');
      if (q.status !== 200) break;
    }
    assert.equal(q?.status, 429);
    assert.ok(q.headers.get('retry-after'));
    // Nothing of the refused request was stored.
    const all = await s.get('/api/v1/events?size=20', 'other-token');
    assert.deepEqual(all.body.items.map((e: { auditID: string }) => e.auditID).sort(), [...accepted, 'other-1'].sort());
  });
});
