// The AlertStore contract against PostgreSQL: each test in its own schema, dropped afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertRecords, createAlertDispatcher, openPostgresAlertStore } from '../../src/alerts/index.ts';
import { waitFor } from '../helpers/net.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { alertStoreContract } from './contract.ts';
import { storedEvent } from './fixtures.ts';

alertStoreContract('postgres', async () => {
  const schema = randomSchema();
  const store = await openPostgresAlertStore({ url: PG_URL, schema });
  return {
    store,
    reopen: () => openPostgresAlertStore({ url: PG_URL, schema }),
    async cleanup() {
      await store.close();
      await dropSchema(schema);
    },
  };
});

test('a dispatcher polling the shared store sends what another collector stored and left pending', async () => {
  const schema = randomSchema();
  const other = await openPostgresAlertStore({ url: PG_URL, schema });
  const mine = await openPostgresAlertStore({ url: PG_URL, schema });
  const received: string[] = [];
  const dispatcher = createAlertDispatcher({
    store: mine,
    receivers: [{ name: 'hook', send: async (alerts) => void received.push(...alerts.map((a) => a.auditID)) }],
    pollMs: 20,
  });
  try {
    dispatcher.start();
    // Stored through the other handle, as a collector that stopped before sending would leave it.
    await other.add(
      alertRecords(storedEvent({ auditID: 'left' }), [{ rule: 'R', priority: 'WARNING', message: 'm' }], Date.now()),
      ['hook'],
      60_000,
    );
    await waitFor('the left-over alert to be sent', () => received.length > 0);
    assert.deepEqual(received, ['left']);
  } finally {
    await dispatcher.stop();
    await Promise.all([other.close(), mine.close()]);
    await dropSchema(schema);
  }
});
