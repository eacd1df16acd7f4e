import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres.ts';
import { storeContract } from './contract.ts';

export const PG_URL = process.env.VIGIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema per test run, dropped in cleanup, so tests never collide. */
export async function freshSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `vigil_test_${randomBytes(6).toString('hex')}`;
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

storeContract('postgres', async () => {
  const { schema, drop } = await freshSchema();
  return {
    store: await openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    reopen: () => openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    cleanup: drop,
  };
});
