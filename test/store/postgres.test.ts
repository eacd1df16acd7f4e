// The shared Store contract, unchanged, against PostgreSQL: each test in its own schema, dropped afterwards.
import { openPostgresStore } from '../../src/store/postgres.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { storeContract } from './contract.ts';

storeContract('postgres', async () => {
  const schema = randomSchema();
  return {
    store: await openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    reopen: () => openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    cleanup: () => dropSchema(schema),
  };
});
