// PostgreSQL for tests: the local server, one fresh schema per test so that parallel test files never collide.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.VIGIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function randomSchema(): string {
  return `vigil_test_${randomBytes(6).toString('hex')}`;
}

/** Runs `fn` with a direct connection (not Vigil's), for inspecting or sabotaging the database. */
export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, application_name: 'vigil test admin' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Polls a condition on the database until it holds, for at most `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
