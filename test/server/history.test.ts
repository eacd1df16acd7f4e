// An object's history over HTTP (SQLite; one test on PostgreSQL): a secret's story — created, its password changed,
// rewritten unchanged, a key added by a patch stored without its response, a refused patch, deleted — read back with
// what each write changed, masked values told apart by their digests, tenant-scoped, paged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MASKED_ANNOTATION, MaskDigester } from '../../src/event/mask-digest.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { objectHistory } from '../../src/query/history.ts';
import { openPostgresStore } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString().replace('Z', '000Z');
const REF = { resource: 'secrets', namespace: 'payments', name: 'db-credentials', apiVersion: 'v1' };

function secret(data: Record<string, string>, rv: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'Secret',
    apiVersion: 'v1',
    metadata: { name: 'db-credentials', namespace: 'payments', resourceVersion: rv, ...extra },
    type: 'Opaque',
    data: { ...data },
  };
}

let n = 0;
function write(s: number, user: string, verb: string, over: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  return event({
    auditID: `h-${String(n).padStart(3, '0')}`,
    level: 'RequestResponse',
    verb,
    user: { username: user },
    objectRef: REF,
    requestURI: '/api/v1/namespaces/payments/secrets/db-credentials',
    requestReceivedTimestamp: at(s),
    stageTimestamp: at(s),
    ...over,
  });
}

/** The story; each write's masked values are masked at ingest (with digests), as any event's. */
function story(): AuditEvent[] {
  const v1 = { user: 'YWRtaW4=', password: 'c2VjcmV0' };
  const v2 = { user: 'YWRtaW4=', password: 'c2VjcmV0Mg==' };
  return [
    write(0, 'alice', 'create', { requestObject: secret(v1, ''), responseObject: secret(v1, '1') }),
    write(1, 'alice', 'get', { responseObject: secret(v1, '1') }), // a read: not a write
    write(2, 'bob', 'update', { requestObject: secret(v2, '1'), responseObject: secret(v2, '2') }),
    write(3, 'carol', 'update', {
      requestObject: secret(v2, '2', { labels: { team: 'pay' } }),
      responseObject: secret(v2, '3', { labels: { team: 'pay' } }),
    }),
    // stored at level Request: the patch is all there is
    write(4, 'dave', 'patch', { level: 'Request', requestObject: { data: { token: 'dG9rZW4=' } } }),
    // a JSON patch writing the password it already has
    write(5, 'erin', 'patch', {
      level: 'Request',
      requestObject: [{ op: 'replace', path: '/data/password', value: 'c2VjcmV0Mg==' }],
    }),
    write(6, 'mallory', 'patch', {
      requestObject: { data: { password: 'aGFja2Vk' } },
      responseStatus: { metadata: {}, code: 403, reason: 'Forbidden' },
    }),
    write(7, 'frank', 'patch', {
      level: 'Request',
      requestObject: { metadata: { labels: { team: null } }, data: { user: 'cm9vdA==' } },
    }),
    write(8, 'alice', 'delete', { responseObject: { kind: 'Status', apiVersion: 'v1', status: 'Success' } }),
    // not this object's, and not a finished call
    write(9, 'alice', 'update', { objectRef: { ...REF, name: 'other' } }),
    write(10, 'alice', 'update', { stage: 'RequestReceived' }),
  ];
}

type Item = { user: string; verb: string; code?: number; change: { kind: string; diff: Record<string, unknown>[] } };

/** user → the diff entries of each item, without the bulky values of a created object. */
function summary(items: Item[]) {
  return items.map((i) => ({
    user: i.user,
    kind: i.change.kind,
    diff: i.change.diff.map((d) => `${d.op} ${d.path}${d.masked ? ` (${d.masked})` : ''}`),
  }));
}

const EXPECTED = [
  {
    user: 'alice',
    kind: 'created',
    diff: ['add /kind', 'add /apiVersion', 'add /metadata', 'add /type', 'add /data'],
  },
  { user: 'bob', kind: 'updated', diff: ['replace /data/password (changed)'] },
  { user: 'carol', kind: 'updated', diff: ['add /metadata/labels'] },
  { user: 'dave', kind: 'patched', diff: ['add /data/token'] },
  { user: 'erin', kind: 'patched', diff: ['replace /data/password (unchanged)'] },
  { user: 'mallory', kind: 'patched', diff: [] },
  { user: 'frank', kind: 'patched', diff: ['remove /metadata/labels/team', 'replace /data/user (changed)'] },
  { user: 'alice', kind: 'deleted', diff: [] },
];

const TOKENS = `
auth:
  tokens:
    - { name: admin, token: admin-token, role: admin }
    - { name: pay, token: pay-token, role: tenant, namespaces: [payments] }
    - { name: other, token: other-token, role: tenant, namespaces: [web] }
    - { name: shipper, token: ingest-token, role: ingest }
`;

describe('object history', () => {
  let s: TestServer;
  const path = '/api/v1/objects/history?resource=secrets&namespace=payments&name=db-credentials';
  before(async () => {
    s = await startTestServer(TOKENS);
    const r = await s.post('/ingest/events', JSON.stringify(story()), {
      'content-type': 'application/json',
      authorization: 'Bearer ingest-token',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(() => s.stop());

  test('every write, oldest first, with what it changed; masked values changed or unchanged by digest', async () => {
    const r = await s.get(path, 'admin-token');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.object, { resource: 'secrets', namespace: 'payments', name: 'db-credentials' });
    assert.deepEqual(summary(r.body.items), EXPECTED);
    const [created, bob, carol, dave] = r.body.items;
    assert.deepEqual(created.change.diff.find((d: { path: string }) => d.path === '/data').after, {
      user: '***',
      password: '***',
    });
    assert.deepEqual(bob.change.diff[0], {
      path: '/data/password',
      op: 'replace',
      before: '***',
      after: '***',
      masked: 'changed',
    });
    assert.deepEqual(carol.change.diff[0], { path: '/metadata/labels', op: 'add', after: { team: 'pay' } });
    // a created object's metadata without what every write changes
    assert.deepEqual(created.change.diff.find((d: { path: string }) => d.path === '/metadata').after, {
      name: 'db-credentials',
      namespace: 'payments',
    });
    assert.deepEqual(dave.change.diff[0], { path: '/data/token', op: 'add', after: '***' });
    assert.equal(r.body.items[5].code, 403);
    for (const i of r.body.items) {
      assert.equal(typeof i.id, 'string');
      assert.match(i.auditID, /^h-/);
      assert.match(i.time, /^2024-05-01T10:00:0\d/);
      assert.equal(i.stage, 'ResponseComplete');
    }
    assert.equal(r.body.next, undefined);
    // the stored events hold digests, never the values
    const stored = await s.get(`/api/v1/events/${bob.id}`, 'admin-token');
    const text = JSON.stringify(stored.body);
    assert.ok(!text.includes('c2VjcmV0'), 'no secret value is stored');
    assert.match(stored.body.annotations[MASKED_ANNOTATION], /"\/responseObject\/data\/password":"[\w-]{22}"/);
  });

  test('paged with limit and next: the same items, each diff against the state before the page', async () => {
    const items: Item[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const r = await s.get(`${path}&limit=3${next ? `&after=${encodeURIComponent(next)}` : ''}`, 'admin-token');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      items.push(...r.body.items);
      next = r.body.next;
    } while (next && ++pages < 10);
    assert.deepEqual(summary(items), EXPECTED);
    // a time range starting mid-story still diffs its first write against the state before it
    const from = await s.get(`${path}&start_time=${at(2)}`, 'admin-token');
    assert.deepEqual(summary(from.body.items), EXPECTED.slice(1));
  });

  test('subresource, and an object without writes', async () => {
    const none = await s.get(`${path}&subresource=status`, 'admin-token');
    assert.deepEqual(none.body.items, []);
    const other = await s.get(path.replace('db-credentials', 'nothing-here'), 'admin-token');
    assert.deepEqual(other.body, {
      object: { resource: 'secrets', namespace: 'payments', name: 'nothing-here' },
      items: [],
    });
  });

  test('tenant-scoped: a tenant of another namespace sees no write; no token is 401', async () => {
    assert.equal((await s.get(path, 'pay-token')).body.items.length, EXPECTED.length);
    assert.deepEqual((await s.get(path, 'other-token')).body.items, []);
    assert.equal((await s.get(path)).status, 401);
  });

  test('vigil history: a table of the writes with what changed; -o json is the API answer; paged with --limit/--all', async () => {
    const server = ['--server', s.url, '--token', 'admin-token'];
    const r = await vigil(['history', 'secrets/db-credentials', '-n', 'payments', ...server]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+USER\s+VERB\s+CODE\s+CHANGE$/);
    assert.equal(lines.length, 1 + EXPECTED.length);
    assert.match(lines[1]!, /^2024-05-01T10:00:00Z\s+alice\s+create\s+200\s+created: \+\/kind: "Secret", /);
    assert.match(lines[2]!, /bob\s+update\s+200\s+updated: ~\/data\/password \(masked, changed\)$/);
    assert.match(lines[4]!, /dave\s+patch\s+200\s+patched: \+\/data\/token: "\*\*\*"$/);
    assert.match(lines[5]!, /erin\s+patch\s+200\s+patched: ~\/data\/password \(masked, unchanged\)$/);
    assert.match(lines[6]!, /mallory\s+patch\s+403\s+patched: refused$/);
    assert.match(lines[7]!, /frank .*patched: -\/metadata\/labels\/team, ~\/data\/user \(masked, changed\)$/);
    assert.match(lines[8]!, /alice\s+delete\s+200\s+deleted$/);
    const json = await vigil(['history', 'secrets', 'db-credentials', '-n', 'payments', '-o', 'json', ...server]);
    assert.equal(json.code, 0, json.err);
    const api = await s.get(path, 'admin-token');
    assert.deepEqual(JSON.parse(json.out), api.body);
    const few = await vigil(['history', 'secrets/db-credentials', '-n', 'payments', '--limit', '2', ...server]);
    assert.equal(few.out.trimEnd().split('\n').length, 3);
    assert.match(few.err, /2 writes shown/);
    const all = await vigil(['history', 'secrets/db-credentials', '-n', 'payments', '--all', '-o', 'json', ...server]);
    assert.equal(JSON.parse(all.out).items.length, EXPECTED.length);
    const tenant = await vigil([
      'history',
      'secrets/db-credentials',
      '-n',
      'payments',
      '--server',
      s.url,
      '--token',
      'other-token',
    ]);
    assert.equal(tenant.out, 'No writes to secrets/db-credentials in payments found.\n');
    const bad = await vigil(['history', 'secrets', ...server]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /RESOURCE\/NAME/);
    const refused = await vigil(['history', 'secrets/x', '--server', s.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /401/);
  });

  test('bad parameters → 400 naming them', async () => {
    for (const [q, field] of [
      ['resource=secrets&name=', 'name'],
      ['name=x', 'resource'],
      ['resource=secrets&name=x&limit=0', 'limit'],
      ['resource=secrets&name=x&colour=red', 'colour'],
      ['resource=secrets&name=x&start_time=soon', 'start_time'],
    ] as const) {
      const r = await s.get(`/api/v1/objects/history?${q}`, 'admin-token');
      assert.equal(r.status, 400, q);
      assert.ok(JSON.stringify(r.body).includes(field), `${q}: ${JSON.stringify(r.body)}`);
    }
    const r = await s.get('/api/v1/objects/history?resource=secrets&name=x&after=bm9wZQ', 'admin-token');
    assert.equal(r.status, 400);
  });
});

test('object history on PostgreSQL: the same story, the same answer', async () => {
  const schema = randomSchema();
  const store = await openPostgresStore({ url: PG_URL, schema, poolSize: 2 });
  try {
    const digester = new MaskDigester(Buffer.alloc(32, 7));
    // as decoded from JSON: no body shares an object with another
    await store.append(story().map((e) => digester.mask(structuredClone(e))));
    const h = await objectHistory(store, { ...REF, limit: 100 });
    assert.deepEqual(summary(h.items as unknown as Item[]), EXPECTED);
    const paged = await objectHistory(store, { ...REF, limit: 4 });
    const rest = await objectHistory(store, { ...REF, limit: 4, after: paged.next });
    assert.deepEqual(summary([...paged.items, ...rest.items] as unknown as Item[]), EXPECTED);
    const scoped = await objectHistory(store, { ...REF, limit: 100, scope: { workspaces: [], namespaces: ['web'] } });
    assert.deepEqual(scoped.items, []);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
});
