import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI_FILTERS, FIELDS, fieldValues } from '../../src/store/fields.ts';
import { vigil } from '../helpers/cli.ts';
import { event } from './fixtures.ts';
import { falcoEvents, startTestServer, type TestServer } from './helpers.ts';

describe('vigil query and vigil import against a running server', () => {
  let s: TestServer;
  const c1 = event({
    auditID: 'c1',
    user: { username: 'alice' },
    verb: 'create',
    objectRef: { resource: 'pods', namespace: 'dev', name: 'web-1' },
    workspace: 'ws-dev',
    cluster: 'prod-eu',
    annotations: { 'vigil.dev/falco-rules': '[{"rule":"Create Privileged Pod","priority":"Warning"}]' },
    responseStatus: { code: 201 },
  });
  before(async () => {
    s = await startTestServer('auth:\n  tokens:\n    - { name: ops, token: cli-token, role: admin }\n');
    await s.store.append([
      c1,
      event({
        auditID: 'c2',
        user: { username: 'bob' },
        verb: 'delete',
        objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' },
        workspace: 'ws-prod',
        requestReceivedTimestamp: '2024-05-01T11:00:00.000000Z',
      }),
    ]);
  });
  after(() => s.stop());
  const server = () => ['--server', s.url, '--token', 'cli-token'];

  test('a kubectl-like table, filtered', async () => {
    const r = await vigil(['query', ...server(), '--user', 'alice']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+USER\s+VERB\s+RESOURCE\s+NAMESPACE\s+NAME\s+CODE\s+SOURCE$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /^2024-05-01T10:00:00Z\s+alice\s+create\s+pods\s+dev\s+web-1\s+201\s+kubernetes$/);
  });

  test('each filter flag is a field table entry (its `cli`), filtering exactly on that field; short forms too', async () => {
    const flagged = FIELDS.filter((f) => 'cli' in f);
    assert.deepEqual(
      flagged.map((f) => f.cli.flag),
      CLI_FILTERS.map((f) => f.flag),
    );
    for (const f of flagged) {
      const [value] = fieldValues(c1, f.name);
      assert.ok(value, `c1 has a ${f.name}`);
      for (const flag of [`--${f.cli.flag}`, ...('short' in f.cli ? [`-${f.cli.short}`] : [])]) {
        const r = await vigil(['query', ...server(), '-o', 'jsonl', flag, value]);
        assert.equal(r.code, 0, r.err);
        const ids = r.out
          .trimEnd()
          .split('\n')
          .map((x) => JSON.parse(x).auditID);
        assert.deepEqual(ids, ['c1'], `${flag} ${value}`);
      }
    }
  });

  test('-o json and -o jsonl; --from/--to and --search', async () => {
    const j = await vigil([
      'query',
      ...server(),
      '-o',
      'json',
      '--from',
      '2024-05-01T10:30:00Z',
      '--to',
      '2024-05-01T12:00:00Z',
    ]);
    assert.equal(j.code, 0, j.err);
    const parsed = JSON.parse(j.out);
    assert.equal(parsed.total, 1);
    assert.equal(parsed.items[0].auditID, 'c2');
    const l = await vigil(['query', ...server(), '-o', 'jsonl', '--search', 'secrets']);
    assert.deepEqual(
      l.out
        .trimEnd()
        .split('\n')
        .map((x) => JSON.parse(x).auditID),
      ['c2'],
    );
  });

  test('errors: bad token, bad flag value, unreachable server', async () => {
    const bad = await vigil(['query', '--server', s.url, '--token', 'wrong']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /401: unknown token/);
    assert.equal((await vigil(['query', ...server(), '-o', 'yaml'])).code, 2);
    assert.equal((await vigil(['query', ...server(), '--since', 'soon'])).code, 2);
    const down = await vigil(['query', '--server', 'http://127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach the server/);
  });

  test('vigil tail prints matching events as they are stored', async () => {
    let subscribed!: () => void;
    const live = new Promise<void>((r) => {
      subscribed = r;
    });
    const tail = vigil(['tail', ...server(), '--user', 'zed', '--limit', '2'], '', (out) => {
      if (out.startsWith('TIME')) subscribed();
    });
    await live;
    const post = (auditID: string, username: string) =>
      s.post('/ingest/events', JSON.stringify([event({ auditID, user: { username } })]), {
        'content-type': 'application/json',
        authorization: 'Bearer cli-token',
      });
    assert.equal((await post('t1', 'zed')).status, 200);
    assert.equal((await post('t2', 'yves')).status, 200);
    assert.equal((await post('t3', 'zed')).status, 200);
    const r = await tail;
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /\bzed\b/);
    assert.match(lines[2]!, /\bzed\b/);
  });

  test('vigil import loads a Kubernetes audit log into the store the server reads; again stores nothing', async () => {
    const file = path.join(s.dir, 'audit.log');
    writeFileSync(
      file,
      `${falcoEvents()
        .map((e) => JSON.stringify(e))
        .join('\n')}\n`,
    );
    const before = (await s.get('/api/v1/events?size=1', 'cli-token')).body.total as number;
    // The server stores every event (its rules are off); the import applies the same configuration.
    const config = path.join(s.dir, 'rules-off.yaml');
    writeFileSync(config, 'rules: { enabled: false }\n');
    const r = await vigil(['import', '--config', config, '--data', s.dir, file]);
    assert.equal(r.code, 0, r.err);
    const unique = new Set(falcoEvents().map((e) => `${e.auditID}/${e.stage}`)).size;
    assert.match(r.out, new RegExp(`imported ${unique} events`));
    const q = await vigil(['query', ...server(), '-o', 'json', '--all']);
    assert.equal(JSON.parse(q.out).total, before + unique);
    const again = await vigil(['import', '--config', config, '--data', s.dir, '--progress', file]);
    assert.match(again.out, /imported 0 events \(51 already stored\)/);
    assert.match(again.err, /audit\.log \[#+\] 51\/51 100%/);
  });

  test('vigil import: an unreadable or invalid file is named', async () => {
    const bad = path.join(s.dir, 'bad.log');
    writeFileSync(bad, '{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x"}\n');
    const r = await vigil(['import', '--data', s.dir, bad]);
    assert.equal(r.code, 2);
    assert.match(r.err, /bad\.log: /);
    assert.equal((await vigil(['import', '--data', s.dir, path.join(s.dir, 'missing.log')])).code, 2);
  });
});

test('vigil serve: a config error exits 2 naming file:line:col', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-serve-'));
  try {
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(file, 'listen: 127.0.0.1:0\nretention: forever\n');
    const r = await vigil(['serve', '--config', file]);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(`${file}:2:12: retention: must be a duration`), r.err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
