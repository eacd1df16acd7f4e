// `vigil migrate-data`: an embedded SQLite installation moved into PostgreSQL, resumable and verified.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openPostgresStore, openSqliteStore } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL, randomSchema, withAdmin } from '../helpers/postgres.ts';
import { makeEvent } from '../store/contract.ts';

test('migrate-data copies every event with its content into day partitions, verifies, and a rerun copies only newer events', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-migrate-data-'));
  const path = join(dir, 'vigil.db');
  const schema = randomSchema();
  try {
    const sqlite = await openSqliteStore({ path });
    const t0 = Date.parse('2026-05-01T00:00:00Z');
    // three days of events, with ties on the received time across page boundaries
    const events = Array.from({ length: 250 }, (_, i) =>
      makeEvent({ user: { username: `u${i % 7}`, groups: ['g'] } }, t0 + Math.floor(i / 3) * 3_000_000),
    );
    await sqlite.append(events);
    await sqlite.close();
    const args = ['migrate-data', '--from', `sqlite:${path}`, '--to', PG_URL, '--schema', schema, '--page', '40'];

    const first = await vigil(args);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /250 events in the source, 250 stored by this run.*verified/);
    assert.match(first.err, /\[#{30}\] 100% 250\/250 events/);
    const target = await openPostgresStore({ url: PG_URL, schema });
    try {
      const copied = await target.query({}, { sort: 'asc', size: 1000 });
      assert.equal(copied.total, 250);
      const byKey = new Map(copied.items.map(({ id: _id, ...e }) => [e.auditID, e]));
      for (const e of events) assert.deepEqual(byKey.get(e.auditID), e);
      // the source's days got their own partitions
      const inDefault = await withAdmin(
        async (c) => (await c.query(`SELECT count(*)::int AS n FROM "${schema}".events_default`)).rows[0].n,
      );
      assert.equal(inDefault, 0);
    } finally {
      await target.close();
    }
    // a later run continues after the last copied event: only what the (still live) source got since is copied
    const again = await openSqliteStore({ path });
    await again.append([makeEvent({}, t0 + 10 * 86_400_000)]);
    await again.close();
    const second = await vigil(args);
    assert.equal(second.code, 0, second.err);
    assert.match(second.err, /resuming sqlite:.* after 250 events/);
    assert.match(second.out, /251 events in the source, 1 stored by this run.*verified/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(schema);
  }
});

test('migrate-data: a partial copy resumes from the saved cursor without storing anything twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-migrate-data-'));
  const path = join(dir, 'vigil.db');
  const schema = randomSchema();
  try {
    const sqlite = await openSqliteStore({ path });
    await sqlite.append(Array.from({ length: 100 }, (_, i) => makeEvent({}, Date.now() - i * 1000)));
    // where a copy interrupted after 30 events stood: the first 30 stored, the cursor after the 30th
    const firstPage = await sqlite.query({}, { sort: 'asc', size: 30 });
    await sqlite.close();
    const target = await openPostgresStore({ url: PG_URL, schema });
    await target.append(firstPage.items);
    await target.saveImportPosition(`sqlite:${path}`, firstPage.next!, 30);
    await target.close();
    const r = await vigil(['migrate-data', '--from', `sqlite:${path}`, '--to', PG_URL, '--schema', schema]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /100 events in the source, 70 stored by this run, 100 read in all; verified/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(schema);
  }
});

test('migrate-data: bad usage exits 2', async () => {
  assert.equal((await vigil(['migrate-data', '--from', 'mysql:x', '--to', PG_URL])).code, 2);
  const missing = await vigil(['migrate-data', '--from', 'sqlite:/nonexistent/vigil.db', '--to', PG_URL]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no SQLite database at/);
  assert.equal((await vigil(['migrate-data', '--from', 'sqlite:/tmp', '--to', 'mysql://x'])).code, 2);
});
