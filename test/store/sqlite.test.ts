import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
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

test('sqlite: retention also drops dictionary values no stored event uses any more', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const path = join(dir, 'events.db');
  const store = await openSqliteStore({ path });
  try {
    const at = Date.parse('2026-01-01T00:00:00Z');
    const old = Array.from({ length: 30 }, (_, i) => makeEvent({ requestURI: `/api/v1/pods/p-${i}?rv=${i}` }, at));
    await store.append([...old, makeEvent({ requestURI: '/kept' }, at + 10_000)]);
    while ((await store.deleteBefore(at + 5_000, 7)) > 0);
    const probe = new DatabaseSync(path, { readOnly: true });
    try {
      const uris = probe.prepare("SELECT value FROM terms WHERE value LIKE '/%'").all() as { value: string }[];
      assert.deepEqual(
        uris.map((u) => u.value),
        ['/kept'],
      );
    } finally {
      probe.close();
    }
    assert.equal((await store.query({ text: ['pods/p-1'] }, { sort: 'asc', size: 1 })).total, 0);
    await store.append([old[1]!]);
    assert.equal((await store.query({ text: ['pods/p-1'] }, { sort: 'asc', size: 1 })).total, 1);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
