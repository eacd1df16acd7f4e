// Files Vigil creates are written whole or not at all (issue 15, item 10): a first start on a full disk left a 0-byte
// vigil-signing.key and every later start failed with "not a PEM private key". Faults are injected through the
// helper's seam (tests run as root, so a read-only folder would not stop them).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, test } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { injectWriteFault, writeFileAtomic, writeFileAtomicSync } from '../../src/files/index.ts';
import { loadSigningKey } from '../../src/integrity/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { loadState, saveState } from '../../src/ship/state.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';
import { makeEvent } from '../store/contract.ts';

afterEach(() => injectWriteFault(undefined));

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

test('a first start on a full disk leaves no key file, and the next start creates a whole one', () => {
  for (const step of ['write', 'commit'] as const) {
    const dir = tempDir('vigil-atomic-');
    const key = path.join(dir, 'vigil-signing.key');
    injectWriteFault((s) => {
      if (s === step) throw enospc();
    });
    assert.throws(() => loadSigningKey(key, true), /ENOSPC/);
    assert.deepEqual(readdirSync(dir), [], `after a fault at ${step}: nothing left behind`);
    injectWriteFault(undefined);
    const k = loadSigningKey(key, true);
    assert.match(readFileSync(key, 'utf8'), /BEGIN PRIVATE KEY/);
    assert.deepEqual(readdirSync(dir).sort(), ['vigil-signing.key', 'vigil-signing.pub']);
    assert.equal(loadSigningKey(key, false).keyId, k.keyId);
  }
});

test('an empty key file left by an older version is reported as such, with what to do', async () => {
  const dir = tempDir('vigil-atomic-');
  const key = path.join(dir, 'vigil-signing.key');
  writeFileSync(key, '');
  assert.throws(
    () => loadSigningKey(key, true),
    (err: Error) =>
      /vigil-signing\.key: the signing key file is empty/.test(err.message) &&
      /Delete it/.test(err.message) &&
      !/not a PEM/.test(err.message),
  );
  // the collector's start says the same
  const config = parseConfig('', 'vigil.yaml', { listen: '127.0.0.1:0', data: dir });
  await assert.rejects(startServer(config, { logger: false }), /the signing key file is empty/);
});

test('a failed replacement keeps the old file whole (sync and async)', async () => {
  const dir = tempDir('vigil-atomic-');
  const file = path.join(dir, 'state.json');
  writeFileAtomicSync(file, 'old');
  injectWriteFault((s) => {
    if (s === 'commit') throw enospc();
  });
  assert.throws(() => writeFileAtomicSync(file, 'new'), /ENOSPC/);
  await assert.rejects(writeFileAtomic(file, 'new'), /ENOSPC/);
  injectWriteFault(undefined);
  assert.equal(readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['state.json']);
  assert.throws(() => writeFileAtomicSync(file, 'x', { exclusive: true }), /EEXIST/);
  assert.equal(readFileSync(file, 'utf8'), 'old');
});

test("the ship agent's state survives a failed save", async () => {
  const dir = tempDir('vigil-atomic-');
  const state = { version: 1 as const, paths: { '/var/log/a.log': [] } };
  await saveState(dir, state);
  injectWriteFault(() => {
    throw enospc();
  });
  await assert.rejects(saveState(dir, { version: 1, paths: {} }), /ENOSPC/);
  injectWriteFault(undefined);
  assert.deepEqual(loadState(dir), state);
});

test('an export to a path that fails leaves no truncated file, and a whole one when it succeeds', async () => {
  const dir = tempDir('vigil-atomic-');
  const store = await openSqliteStore({ path: path.join(dir, 'vigil.db') });
  await store.append([makeEvent({})]);
  await store.close();
  loadSigningKey(path.join(dir, 'vigil-signing.key'), true);
  const out = path.join(dir, 'export.jsonl');
  let lines = 0;
  injectWriteFault((step, file) => {
    if (file === out && step === 'write' && ++lines === 3) throw enospc(); // mid-export
  });
  const failed = await vigil(['export', '--data', dir, '--out', out]);
  injectWriteFault(undefined);
  assert.notEqual(failed.code, 0);
  assert.match(failed.err, /ENOSPC/);
  assert.ok(!readdirSync(dir).some((f) => f.startsWith('export.jsonl')), readdirSync(dir).join(' '));
  const ok = await vigil(['export', '--data', dir, '--out', out]);
  assert.equal(ok.code, 0, ok.err);
  assert.equal((await vigil(['verify', '--file', out, '--public-key', path.join(dir, 'vigil-signing.pub')])).code, 0);
});
