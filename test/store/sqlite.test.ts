import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { makeEvent, storeContract } from './contract.ts';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const path = join(dir, 'events.db');
  return {
    store: await openSqliteStore({ path }),
    reopen: () => openSqliteStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

test('sqlite: an in-memory store works too', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  try {
    await store.append([makeEvent()]);
    assert.equal((await store.size()).events, 1);
  } finally {
    await store.close();
  }
});

test('openStore opens the configured store and rejects unknown types', async () => {
  const store = await openStore({ type: 'sqlite', path: ':memory:' });
  await store.close();
  await assert.rejects(openStore({ type: 'mongo' } as never), /unknown store type "mongo"/);
});

test('sqlite: a closed store refuses calls', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  await store.close();
  await assert.rejects(store.append([makeEvent()]), /closed/);
});
