// Signing keys out of the box: `vigil keygen` makes one, and `vigil serve` on PostgreSQL without integrity.signingKey
// creates Vigil's default one in the data directory, which `vigil verify` then finds.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { startServer } from '../../src/server/index.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { event } from '../server/fixtures.ts';

test('vigil keygen writes a key (0600) and its .pub, and never over an existing file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-keygen-'));
  try {
    const key = path.join(dir, 'signing.key');
    const r = await vigil(['keygen', '--out', key]);
    assert.equal(r.code, 0, r.err);
    assert.match(readFileSync(key, 'utf8'), /BEGIN PRIVATE KEY/);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.match(readFileSync(path.join(dir, 'signing.pub'), 'utf8'), /BEGIN PUBLIC KEY/);
    const before = readFileSync(key, 'utf8');
    const again = await vigil(['keygen', '--out', key]);
    assert.equal(again.code, 2);
    assert.match(again.err, /exists: not overwritten/);
    assert.equal(readFileSync(key, 'utf8'), before);
    // No temporary file is left beside it.
    assert.deepEqual((await import('node:fs')).readdirSync(dir).sort(), ['signing.key', 'signing.pub']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil serve on PostgreSQL without a signing key creates one in the data directory; vigil verify finds it', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-pgkey-'));
  const schema = randomSchema();
  try {
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(
      file,
      `rules: { enabled: false }\nstorage: { type: postgres, url: "${PG_URL}", schema: ${schema} }\n`,
    );
    const data = path.join(dir, 'data');
    const config = loadConfig(file, { data, listen: '127.0.0.1:0' });
    assert.equal(config.integrity.signingKey, path.join(data, 'vigil-signing.key'));
    const server = await startServer(config, { logger: false });
    try {
      const body = JSON.stringify({
        kind: 'EventList',
        apiVersion: 'audit.k8s.io/v1',
        items: [event({ auditID: 'pg-key-1' })],
      });
      const res = await fetch(`${server.url}/audit/webhook/event`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
    assert.ok(existsSync(path.join(data, 'vigil-signing.key')));
    const r = await vigil(['verify', '--config', file, '--data', data]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /trail intact: \d+ chain entries, 1 events, [1-9]\d* checkpoints/);
  } finally {
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }
});
