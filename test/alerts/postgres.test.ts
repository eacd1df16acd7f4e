// The AlertStore contract against PostgreSQL: each test in its own schema, dropped afterwards.
import { openPostgresAlertStore } from '../../src/alerts/index.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { alertStoreContract } from './contract.ts';

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
