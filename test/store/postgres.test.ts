// The shared Store contract, unchanged, against PostgreSQL: each test in its own schema, dropped afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { makeEvent, storeContract } from './contract.ts';

storeContract('postgres', async () => {
  const schema = randomSchema();
  return {
    store: await openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    reopen: () => openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    cleanup: () => dropSchema(schema),
  };
});

test('openStore opens PostgreSQL from a storage config', async () => {
  const schema = randomSchema();
  try {
    const store = await openStore({ type: 'postgres', url: PG_URL, schema, poolSize: 2 });
    await store.append([makeEvent()]);
    assert.equal((await store.size()).events, 1);
    assert.equal(typeof store.runExclusive, 'function');
    await store.close();
    await assert.rejects(store.append([makeEvent()]), /closed/);
  } finally {
    await dropSchema(schema);
  }
});
