import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/index.ts';

function errorOf(text: string): string {
  try {
    parseConfig(text, 'vigil.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('no config: the embedded defaults (SQLite in ./data/vigil.db, 7 days, 127.0.0.1:8080)', () => {
  const c = loadConfig(undefined);
  assert.equal(c.listen, '127.0.0.1:8080');
  assert.deepEqual(c.storage, { type: 'sqlite', path: path.join('data', 'vigil.db') });
  assert.equal(c.retention, 7 * 86_400_000);
  assert.equal(c.ingest.maxBodyBytes, 10 * 1024 * 1024);
  assert.deepEqual(c.auth.tokens, []);
});

test('every documented key is read; --listen and --data override the file', () => {
  const text = `
listen: 0.0.0.0:9000
storage: { type: sqlite, path: /var/lib/vigil/v.db }
retention: 12h
ingest:
  maxBodyBytes: 2048
  openfaas: { secret: s3cret }
  amqp:
    - { url: 'amqp://guest:guest@127.0.0.1:5672', exchange: octavia, topic: notifications, queue: vigil-octavia }
auth:
  tokens:
    - { name: ops, token: t1, role: admin }
    - { name: a, token: t2, role: tenant, workspaces: [wa], namespaces: [n1] }
workspaces:
  wa: [a, b]
`;
  const c = parseConfig(text, 'vigil.yaml');
  assert.equal(c.listen, '0.0.0.0:9000');
  assert.deepEqual(c.storage, { type: 'sqlite', path: '/var/lib/vigil/v.db' });
  assert.equal(c.retention, 12 * 3_600_000);
  assert.equal(c.ingest.maxBodyBytes, 2048);
  assert.equal(c.ingest.openfaas?.secret, 's3cret');
  assert.equal(c.ingest.amqp[0]?.exchange, 'octavia');
  assert.deepEqual(c.auth.tokens[1], {
    name: 'a',
    token: 't2',
    role: 'tenant',
    workspaces: ['wa'],
    namespaces: ['n1'],
  });
  assert.deepEqual(c.workspaces, { wa: ['a', 'b'] });
  const o = parseConfig(text, 'vigil.yaml', { listen: '127.0.0.1:1', data: '/tmp/d' });
  assert.equal(o.listen, '127.0.0.1:1');
  assert.deepEqual(o.storage, { type: 'sqlite', path: path.join('/tmp/d', 'vigil.db') });
});

test('an unknown top-level key fails with file:line:col', () => {
  assert.match(errorOf('listen: 127.0.0.1:1\nretension: 7d\n'), /^vigil\.yaml:2:1: retension: unknown key/);
});

test('nested problems name the key path and position; all are reported at once', () => {
  const msg = errorOf(`
retention: 7 days
auth:
  tokens:
    - name: a
      token: t
      role: boss
    - name: b
      role: admin
ingest:
  maxBodyBytes: lots
  openfaas: { secret: a, secretFile: b }
workspaces:
  wa: a
`);
  const lines = msg.split('\n');
  assert.match(lines[0]!, /^vigil\.yaml:2:12: retention: must be a duration/);
  assert.match(
    lines[1]!,
    /^vigil\.yaml:7:13: auth\.tokens\[0\]\.role: must be one of admin, tenant, ingest, not "boss"/,
  );
  assert.match(lines[2]!, /^vigil\.yaml:8:7: auth\.tokens\[1\]: needs exactly one of token, tokenHash/);
  assert.match(lines[3]!, /^vigil\.yaml:11:17: ingest\.maxBodyBytes: must be an integer/);
  assert.match(lines[4]!, /^vigil\.yaml:12:13: ingest\.openfaas: needs exactly one of secret, secretFile/);
  assert.match(lines[5]!, /^vigil\.yaml:14:7: workspaces\.wa: must be a list/);
});

test('YAML syntax errors carry their position', () => {
  assert.match(errorOf('listen: [1\nstorage: {\n'), /^vigil\.yaml:\d+:\d+: /);
});

test('secretFile is read relative to the config file; an unreadable file is a clear error', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-config-'));
  try {
    writeFileSync(path.join(dir, 'secret.txt'), 'from-file\n');
    writeFileSync(path.join(dir, 'vigil.yaml'), 'ingest:\n  openfaas:\n    secretFile: secret.txt\n');
    assert.equal(loadConfig(path.join(dir, 'vigil.yaml')).ingest.openfaas?.secret, 'from-file');
    writeFileSync(path.join(dir, 'bad.yaml'), 'ingest:\n  openfaas:\n    secretFile: nope.txt\n');
    assert.throws(
      () => loadConfig(path.join(dir, 'bad.yaml')),
      /bad\.yaml:3:17: ingest\.openfaas\.secretFile: not found: .*nope\.txt/,
    );
    assert.throws(() => loadConfig(path.join(dir, 'missing.yaml')), /missing\.yaml: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storage: postgres takes url, schema and poolSize; each type names what it needs with file:line:col', () => {
  const c = parseConfig(
    'storage:\n  type: postgres\n  url: postgres://vigil@db:5432/audit\n  schema: audit\n  poolSize: 20\n',
    'vigil.yaml',
  );
  assert.deepEqual(c.storage, {
    type: 'postgres',
    url: 'postgres://vigil@db:5432/audit',
    schema: 'audit',
    poolSize: 20,
  });
  assert.match(
    errorOf('storage:\n  type: postgres\n  schema: audit\n'),
    /^vigil\.yaml:2:3: storage: type postgres needs "url"/,
  );
  assert.match(
    errorOf('storage:\n  type: postgres\n  url: postgres://h/d\n  path: /x.db\n'),
    /^vigil\.yaml:4:3: storage\.path: not used by storage type postgres/,
  );
  assert.match(
    errorOf('storage:\n  path: /x.db\n  url: postgres://h/d\n'),
    /^vigil\.yaml:3:3: storage\.url: not used by storage type sqlite/,
  );
  assert.match(
    errorOf('storage: { type: mysql, url: x }\n'),
    /^vigil\.yaml:1:18: storage\.type: must be one of sqlite, postgres/,
  );
  assert.match(errorOf('storage: { type: postgres, url: x, schema: Bad }\n'), /storage\.schema: must be lower-case/);
});

test('storage: sqlite takes cacheMiB (the bound of its page caches), checked with file:line:col', () => {
  assert.deepEqual(parseConfig('storage: { path: /x.db, cacheMiB: 32 }\n', 'vigil.yaml').storage, {
    type: 'sqlite',
    path: '/x.db',
    cacheMiB: 32,
  });
  assert.equal((parseConfig('', 'vigil.yaml').storage as { cacheMiB?: number }).cacheMiB, undefined);
  assert.match(errorOf('storage:\n  path: /x.db\n  cacheMiB: 1\n'), /^vigil\.yaml:3:13: storage\.cacheMiB: /);
  assert.match(
    errorOf('storage:\n  type: postgres\n  url: postgres://h/d\n  cacheMiB: 64\n'),
    /^vigil\.yaml:4:3: storage\.cacheMiB: not used by storage type postgres/,
  );
});

test('--storage-url switches to PostgreSQL over the file, keeping its schema and poolSize', () => {
  const sqlite = parseConfig('storage: { path: /x.db }\n', 'vigil.yaml', { storageUrl: 'postgres://h:5432/d' });
  assert.deepEqual(sqlite.storage, {
    type: 'postgres',
    url: 'postgres://h:5432/d',
    schema: undefined,
    poolSize: undefined,
  });
  const pgc = parseConfig('storage: { type: postgres, url: postgres://a/b, schema: s1, poolSize: 3 }\n', 'vigil.yaml', {
    storageUrl: 'postgresql://c/d',
  });
  assert.deepEqual(pgc.storage, { type: 'postgres', url: 'postgresql://c/d', schema: 's1', poolSize: 3 });
  assert.throws(() => parseConfig('', 'vigil.yaml', { storageUrl: 'mysql://x' }), /expected postgres:\/\//);
});
