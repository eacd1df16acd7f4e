// `vigil migrate` against the local PostgreSQL, through the CLI dispatcher.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL, randomSchema, withAdmin } from '../helpers/postgres.ts';

test('vigil migrate creates the schema once, then reports it current', async () => {
  const schema = randomSchema();
  try {
    const first = await vigil(['migrate', '--storage-url', PG_URL, '--schema', schema]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, new RegExp(`schema ${schema}: applied 1 \\(`));
    const tables = await withAdmin(
      async (c) =>
        (
          await c.query(
            `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename IN ('events', 'batches', 'vigil_migrations')`,
            [schema],
          )
        ).rows.length,
    );
    assert.equal(tables, 3);
    const again = await vigil(['migrate', '--storage-url', PG_URL, '--schema', schema]);
    assert.equal(again.code, 0);
    assert.match(again.out, new RegExp(`is up to date \\(version ${MIGRATIONS.at(-1)!.version}\\)`));
  } finally {
    await dropSchema(schema);
  }
});

test('vigil migrate: bad usage exits 2 with the reason', async () => {
  const saved = process.env.VIGIL_STORAGE_URL;
  delete process.env.VIGIL_STORAGE_URL;
  try {
    const none = await vigil(['migrate']);
    assert.equal(none.code, 2);
    assert.match(none.err, /no database: pass --storage-url/);
    const sqlite = await vigil(['migrate', '--storage-url', 'sqlite:./data/vigil.db']);
    assert.equal(sqlite.code, 2);
    assert.match(sqlite.err, /must be a postgres:\/\/ URL/);
    const bad = await vigil(['migrate', '--storage-url', PG_URL, '--schema', 'Robert"); DROP']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /schema name/);
    const unknown = await vigil(['migrate', '--nope']);
    assert.equal(unknown.code, 2);
  } finally {
    if (saved !== undefined) process.env.VIGIL_STORAGE_URL = saved;
  }
});
