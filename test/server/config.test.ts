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
  assert.equal(c.storage.path, path.join('data', 'vigil.db'));
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
  assert.equal(c.storage.path, '/var/lib/vigil/v.db');
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
  assert.equal(o.storage.path, path.join('/tmp/d', 'vigil.db'));
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
  assert.match(lines[2]!, /^vigil\.yaml:8:7: auth\.tokens\[1\]: missing required key "token"/);
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
    assert.throws(() => loadConfig(path.join(dir, 'bad.yaml')), /secretFile: cannot read .*nope\.txt/);
    assert.throws(() => loadConfig(path.join(dir, 'missing.yaml')), /missing\.yaml: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
