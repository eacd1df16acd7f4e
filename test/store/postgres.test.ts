// The shared Store contract, unchanged, against PostgreSQL: each test in its own schema, dropped afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { openPostgresStore, openStore } from '../../src/store/index.ts';
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

test('query.maxHistogramBuckets reaches the PostgreSQL store (openStore and vigil serve)', async () => {
  const schema = randomSchema();
  const t = Date.parse('2026-03-01T12:00:00.000Z');
  try {
    const store = await openStore({ type: 'postgres', url: PG_URL, schema, poolSize: 2, maxHistogramBuckets: 10 });
    try {
      await store.append([makeEvent({}, t), makeEvent({}, t + 20_000)]);
      await assert.rejects(store.histogram({}, 1000), /21 buckets \(at most 10\)/);
      assert.equal((await store.histogram({}, 3000)).buckets.length, 7);
    } finally {
      await store.close();
    }
    const config = parseConfig(
      `rules: { enabled: false }\nstorage: { type: postgres, url: "${PG_URL}", schema: ${schema}, poolSize: 2 }\nquery: { maxHistogramBuckets: 20 }\n`,
      'vigil.yaml',
      { listen: '127.0.0.1:0' },
    );
    const server = await startServer(config, { logger: false });
    try {
      const r = await fetch(`${server.url}/api/v1/events/histogram?interval=1s`);
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, /at most 20/);
      assert.equal((await fetch(`${server.url}/api/v1/events/histogram?interval=2s`)).status, 200);
    } finally {
      await server.close();
    }
  } finally {
    await dropSchema(schema);
  }
});
