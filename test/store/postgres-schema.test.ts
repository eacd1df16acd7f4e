// PostgreSQL specifics: versioned migrations under a lock, daily partitions, retention that drops partitions whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/index.ts';
import { MIGRATIONS, migrate } from '../../src/store/postgres/migrations.ts';
import { dropSchema, PG_URL, randomSchema, withAdmin } from '../helpers/postgres.ts';
import { counts, makeEvent } from './contract.ts';

const DAY = 86_400_000;

async function withStore(fn: (store: PostgresStore, schema: string) => Promise<void>): Promise<void> {
  const schema = randomSchema();
  const store = await openPostgresStore({ url: PG_URL, schema, poolSize: 3 });
  try {
    await fn(store, schema);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

/** Where each stored event physically is: auditID → partition name. */
async function placement(schema: string): Promise<Map<string, string>> {
  return withAdmin(async (c) => {
    const r = await c.query(`SELECT audit_id, tableoid::regclass::text AS part FROM "${schema}".events`);
    return new Map(r.rows.map((x) => [x.audit_id, x.part.replace(`${schema}.`, '')]));
  });
}

async function partitions(schema: string): Promise<string[]> {
  return withAdmin(async (c) => {
    const r = await c.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relname = 'events' AND n.nspname = $1 ORDER BY 1`,
      [schema],
    );
    return r.rows.map((x) => x.relname);
  });
}

function dayName(ms: number): string {
  return `events_p${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

test('idempotency: (auditID, stage) received within a day of a stored one is a repeat; further apart, another event', async () => {
  await withStore(async (store) => {
    const now = Date.now();
    const e = makeEvent({}, now);
    const later = { ...e, requestReceivedTimestamp: new Date(now + 1000).toISOString() };
    assert.deepEqual(counts(await store.append([e, later, e])), { inserted: 1, duplicates: 2 });
    assert.deepEqual(counts(await store.append([later])), { inserted: 0, duplicates: 1 });
    // REPEAT_WINDOW_US (docs/scaling.md): beyond a day the lookup does not reach, and the event is stored again
    const far = { ...e, requestReceivedTimestamp: new Date(now - DAY - 60_000).toISOString() };
    assert.deepEqual(counts(await store.append([far])), { inserted: 1, duplicates: 0 });
  });
});

test('migrations: collectors opening a new schema together migrate it once; a newer schema is refused', async () => {
  const schema = randomSchema();
  try {
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url: PG_URL, schema, poolSize: 2 })));
    await Promise.all(stores.map((s) => s.close()));
    await withAdmin(async (c) => {
      const r = await c.query(`SELECT version FROM "${schema}".vigil_migrations ORDER BY version`);
      assert.deepEqual(
        r.rows.map((x) => x.version),
        MIGRATIONS.map((m) => m.version),
      );
      assert.deepEqual(await migrate(c, schema), [], 'nothing left to apply');
      await c.query(`INSERT INTO "${schema}".vigil_migrations (version, name) VALUES (999, 'from the future')`);
    });
    await assert.rejects(openPostgresStore({ url: PG_URL, schema }), /version 999, newer than this Vigil knows/);
    await assert.rejects(openPostgresStore({ url: PG_URL, schema: 'Bad-Name' }), /schema name "Bad-Name"/);
  } finally {
    await dropSchema(schema);
  }
});

test('partitions: yesterday … today+3 exist after open; events land in their day, outliers in DEFAULT', async () => {
  await withStore(async (store, schema) => {
    const now = Date.now();
    const today = Math.floor(now / DAY) * DAY;
    const expected = [-1, 0, 1, 2, 3].map((d) => dayName(today + d * DAY));
    assert.deepEqual(await partitions(schema), ['events_default', ...expected].sort());
    const inToday = makeEvent({}, now);
    const outlier = makeEvent({}, Date.parse('2020-02-02T10:00:00Z'));
    await store.append([inToday, outlier]);
    const where = await placement(schema);
    assert.equal(where.get(inToday.auditID), dayName(today));
    assert.equal(where.get(outlier.auditID), 'events_default');
    // creating the outlier's day moves its rows out of DEFAULT
    await store.createPartitions(Date.parse('2020-02-02T00:00:00Z') * 1000, Date.parse('2020-02-02T00:00:00Z') * 1000);
    assert.equal((await placement(schema)).get(outlier.auditID), 'events_p20200202');
    assert.equal((await store.query({}, { sort: 'asc', size: 10 })).total, 2);
    // idempotent: a second run (or another collector) creates nothing new
    await store.ensurePartitions(now);
    assert.equal((await partitions(schema)).length, 7);
  });
});

test('retention drops whole day partitions (their keys with them) and deletes the boundary day row by row', async () => {
  await withStore(async (store, schema) => {
    const d1 = Date.parse('2026-01-10T00:00:00Z');
    await store.createPartitions(d1 * 1000, (d1 + 2 * DAY) * 1000);
    const day1 = Array.from({ length: 30 }, (_, i) => makeEvent({ user: { username: 'day1' } }, d1 + i * 1000));
    const day2 = Array.from({ length: 20 }, (_, i) => makeEvent({}, d1 + DAY + i * 1000));
    const day3 = Array.from({ length: 4 }, (_, i) => makeEvent({}, d1 + 2 * DAY + i * 1000));
    await store.append([...day1, ...day2, ...day3]);
    // cutoff inside day 3: days 1 and 2 go whole (50 events in one step, more than the limit), then 2 rows of day 3
    const cutoff = d1 + 2 * DAY + 2500;
    assert.equal(await store.deleteBefore(cutoff, 2), 52);
    const left = await partitions(schema);
    assert.ok(!left.includes(dayName(d1)) && !left.includes(dayName(d1 + DAY)), left.join());
    assert.ok(left.includes(dayName(d1 + 2 * DAY)));
    assert.equal(await store.deleteBefore(cutoff, 2), 1);
    assert.equal(await store.deleteBefore(cutoff, 2), 0);
    assert.equal((await store.size()).events, 1);
    // the keys went with the partitions: re-sending a dropped event stores it again (in DEFAULT now)
    assert.deepEqual(counts(await store.append([day1[0]!, day3[3]!])), { inserted: 1, duplicates: 1 });
    assert.equal((await placement(schema)).get(day1[0]!.auditID), 'events_default');
    // …and a stored one is still a duplicate, wherever it lives
    assert.deepEqual(counts(await store.append([day1[0]!])), { inserted: 0, duplicates: 1 });
  });
});

test('filters are answered from the indexes: fuzzy search finds values through the trigram index of the dictionary', async () => {
  await withStore(async (store, schema) => {
    const events: AuditEvent[] = [];
    for (let i = 0; i < 3000; i++) events.push(makeEvent({ user: { username: `user-${i}` } }, Date.now() - i));
    for (let i = 0; i < events.length; i += 500) await store.append(events.slice(i, i + 500));
    await withAdmin(async (c) => {
      await c.query(`ANALYZE "${schema}".events`);
      await c.query(`SET search_path TO "${schema}"`);
      // at this size a scan is cheaper: show that the indexes can answer these filters at all
      await c.query('SET enable_seqscan = off');
      const plan = async (sql: string) =>
        (await c.query(`EXPLAIN ${sql}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      // at 3 000 values a walk of the primary key costs the planner less: without it, the trigram index answers
      await c.query('BEGIN; ALTER TABLE terms DROP CONSTRAINT terms_pkey');
      assert.match(
        await plan(`SELECT value FROM terms WHERE field = 'user' AND value ILIKE '%ser-123%'`),
        /Bitmap Index Scan on terms_search/,
      );
      await c.query('ROLLBACK');
      assert.match(
        await plan(`SELECT id FROM events e WHERE e.username = ANY(ARRAY['user-12', 'user-123'])`),
        /Index (Only )?Scan (using|on) \S*username/,
      );
      // what has no dictionary (request URI, user agent, status) is searched in `search`
      assert.match(
        await plan(`SELECT id FROM events e WHERE e.search ILIKE '%kubectl%'`),
        /Bitmap Index Scan on \S*search/,
      );
      assert.match(await plan(`SELECT id FROM events e WHERE e.username = 'user-7'`), /Index Scan using \S*username/);
      assert.match(
        await plan(`SELECT id FROM events e WHERE e.groups && ARRAY['x']`),
        /Bitmap Index Scan on \S*groups/,
      );
    });
    assert.equal((await store.query({ fuzzy: { user: ['ER-2999'] } }, { sort: 'asc', size: 5 })).total, 1);
  });
});

test('low-cardinality filters use the shared btree_gin index', async () => {
  await withStore(async (store, schema) => {
    await store.append(Array.from({ length: 200 }, (_, i) => makeEvent({ level: i % 2 ? 'Request' : 'Metadata' })));
    await withAdmin(async (c) => {
      await c.query(`SET search_path TO "${schema}"`);
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query(`EXPLAIN SELECT id FROM events e WHERE e.level = ANY(ARRAY['Request'])`)).rows
        .map((r) => r['QUERY PLAN'] as string)
        .join('\n');
      assert.match(plan, /Bitmap Index Scan on \S*level/);
    });
    assert.equal((await store.query({ exact: { level: ['Request'] } }, { sort: 'asc', size: 1 })).total, 100);
  });
});

test('per-minute counts answer time-only histograms and totals exactly as counting the events does', async () => {
  await withStore(async (store) => {
    const t0 = Date.parse('2026-02-10T23:50:00Z'); // spans midnight: two day partitions
    await store.createPartitions(t0 * 1000, (t0 + DAY) * 1000);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const place = () => ({
      workspace: `ws-${rand(3)}`,
      objectRef: { resource: 'pods', namespace: `ns-${rand(4)}` },
    });
    // the same query through the events (a filter every event passes turns the per-minute counts off)
    const everything = { source: ['kubernetes', 'cadf'] };
    const check = async (label: string) => {
      for (let k = 0; k < 6; k++) {
        const start = k === 0 ? undefined : t0 + rand(30 * 60_000);
        const end = k === 1 ? undefined : (start ?? t0) + rand(25 * 60_000);
        const interval = [60_000, 300_000, 3_600_000][k % 3]!;
        const q = { start, end };
        const direct = { ...q, exact: everything };
        const what = `${label} ${JSON.stringify(q)} ${interval}`;
        assert.deepEqual(await store.histogram(q, interval), await store.histogram(direct, interval), what);
        assert.equal(
          (await store.query(q, { sort: 'asc', size: 0 })).total,
          (await store.query(direct, { sort: 'asc', size: 0 })).total,
          what,
        );
      }
    };
    const events: AuditEvent[] = [];
    for (let i = 0; i < 300; i++) events.push(makeEvent(place(), t0 + rand(30 * 60_000)));
    await store.append(events.slice(0, 150));
    await store.append(events.slice(100)); // overlapping: duplicates must not count
    await check('after appends');
    // collapsing stages moves events between workspaces and namespaces
    const calls = Array.from({ length: 20 }, () =>
      makeEvent({ ...place(), stage: 'RequestReceived', source: 'cadf' }, t0 + rand(30 * 60_000)),
    );
    await store.append(calls, { collapseStages: true });
    await store.append(
      calls.map((c) => ({ ...c, ...place(), stage: 'ResponseComplete' as const })),
      { collapseStages: true },
    );
    await check('after collapsing');
    // retention: row by row inside a minute, then the first day dropped whole
    await store.deleteBefore(t0 + 4 * 60_000 + 30_000, 25);
    await check('after deleting rows');
    await store.deleteBefore(t0 + 10 * 60_000 + 1, 1000);
    await check('after dropping a day');
  });
});

test('migration 4: a version-3 schema gets verb and resource into its indexes; combined filters count from them', async () => {
  await withStore(async (store, schema) => {
    const t0 = Date.parse('2026-03-01T12:00:00.000Z');
    await store.createPartitions(t0 * 1000, (t0 + DAY) * 1000);
    const verbs = ['get', 'list', 'delete'];
    await store.append(
      Array.from({ length: 60 }, (_, i) =>
        makeEvent(
          {
            verb: verbs[i % 3],
            user: { username: `u${i % 2}` },
            objectRef: { resource: i % 2 ? 'pods' : 'secrets', namespace: 'a' },
          },
          t0 + i,
        ),
      ),
    );
    const indexdef = (c: import('pg').Client, name: string) =>
      c
        .query('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, name])
        .then((r) => String(r.rows[0]?.indexdef ?? ''));
    await withAdmin(async (c) => {
      // what version 3 left behind
      await c.query(`SET search_path TO "${schema}"`);
      for (const col of ['verb', 'resource', 'username', 'namespace', 'workspace'])
        await c.query(`DROP INDEX events_${col}; CREATE INDEX events_${col} ON events (${col}, received)`);
      await c.query('DELETE FROM vigil_migrations WHERE version = 4');
      await c.query('RESET search_path');
      assert.deepEqual(await migrate(c, schema), [4]);
      assert.match(await indexdef(c, 'events_username'), /\(username, received\) INCLUDE \(verb, resource\)/);
      assert.match(await indexdef(c, 'events_verb'), /\(verb, received\) INCLUDE \(resource\)/);
      assert.match(await indexdef(c, 'events_resource'), /\(resource, received\) INCLUDE \(verb\)/);
    });
    const total = async (q: Parameters<PostgresStore['query']>[0]) =>
      (await store.query(q, { sort: 'desc', size: 1 })).total;
    assert.equal(await total({ exact: { verb: ['get'], resource: ['pods'] } }), 10);
    assert.equal(await total({ exact: { user: ['u1'], verb: ['delete'] } }), 10);
    assert.equal(await total({ exact: { namespace: ['a'], resource: ['secrets'], verb: ['list'] } }), 10);
  });
});

test('migration 5: the dictionary is filled from the stored events; fuzzy and free text find them through it', async () => {
  await withStore(async (store, schema) => {
    const t0 = Date.now() - 60_000;
    await store.append([
      makeEvent({ user: { username: 'Carol', groups: ['ops-team'] }, sourceIPs: ['192.0.2.7'] }, t0),
      makeEvent(
        { user: { username: 'dave' }, objectRef: { resource: 'pods', namespace: 'payments', name: 'api-0' } },
        t0 + 1,
      ),
    ]);
    await withAdmin(async (c) => {
      // what version 4 left behind: no dictionary, and each event's values in its `search` text
      await c.query(`SET search_path TO "${schema}"`);
      await c.query(`DROP TABLE terms; DELETE FROM vigil_migrations WHERE version = 5`);
      await c.query(
        `UPDATE events SET search = username || E'\n' || verb || E'\n' || resource || E'\n' || name || E'\n' ||
           namespace || E'\n' || array_to_string(groups, E'\n') || E'\n' || array_to_string(source_ips, E'\n')`,
      );
      await c.query('RESET search_path');
      assert.deepEqual(await migrate(c, schema), [5]);
      const r = await c.query(`SELECT field, value FROM "${schema}".terms ORDER BY field, value`);
      const terms = r.rows.map((x) => `${x.field}=${x.value}`);
      for (const t of ['user=Carol', 'user=dave', 'group=ops-team', 'sourceIP=192.0.2.7', 'namespace=payments'])
        assert.ok(terms.includes(t), `${t} in ${terms.join(', ')}`);
    });
    // a new store instance: nothing remembered from the appends before the migration
    const other = await openPostgresStore({ url: PG_URL, schema, poolSize: 2 });
    try {
      const audit = async (q: Parameters<PostgresStore['query']>[0]) =>
        (await other.query(q, { sort: 'asc', size: 10 })).items.map((e) => e.user.username);
      assert.deepEqual(await audit({ fuzzy: { user: ['ARO'] } }), ['Carol']);
      assert.deepEqual(await audit({ fuzzy: { group: ['OPS-'] } }), ['Carol']);
      assert.deepEqual(await audit({ fuzzy: { sourceIP: ['2.7'] } }), ['Carol']);
      assert.deepEqual(await audit({ fuzzy: { namespace: ['pay'] } }), ['dave']);
      assert.deepEqual(await audit({ text: ['PAYMENTS'] }), ['dave']);
      assert.deepEqual(await audit({ text: ['api-'] }), ['dave']);
      assert.deepEqual(await audit({ fuzzy: { user: ['nobody'] } }), []);
      // a value first seen after the migration is added to the dictionary by the append
      await other.append([makeEvent({ user: { username: 'erin' } }, t0 + 2)]);
      assert.deepEqual(await audit({ fuzzy: { user: ['RIN'] } }), ['erin']);
    } finally {
      await other.close();
    }
  });
});

test('retention removes dictionary values no stored event holds and no append brought for a day past its cutoff', async () => {
  await withStore(async (store, schema) => {
    const t0 = Date.parse('2026-03-01T12:00:00.000Z');
    await store.append([
      makeEvent({ user: { username: 'gone-user', groups: ['gone-group'] } }, t0),
      makeEvent({ user: { username: 'kept-user', groups: ['kept-group'] } }, t0 + DAY * 3),
    ]);
    const terms = () =>
      withAdmin(async (c) =>
        (await c.query(`SELECT field || '=' || value AS t FROM "${schema}".terms ORDER BY 1`)).rows.map((r) => r.t),
      );
    await withAdmin(async (c) => {
      await c.query(`INSERT INTO "${schema}".terms (field, value, seen) VALUES ('user', 'recent-user', $1)`, [
        Date.now(),
      ]);
      // nothing brought these values for a long time
      await c.query(`UPDATE "${schema}".terms SET seen = 0 WHERE value <> 'recent-user'`);
    });
    assert.equal(await store.deleteBefore(t0 + DAY, 100), 1);
    const left = await terms();
    assert.ok(!left.includes('user=gone-user') && !left.includes('group=gone-group'), left.join(', '));
    // still held by a stored event, or brought lately (another collector may be about to store an event with it)
    for (const t of ['user=kept-user', 'group=kept-group', 'user=recent-user', 'verb=list'])
      assert.ok(left.includes(t), `${t} in ${left.join(', ')}`);
    assert.equal((await store.query({ fuzzy: { user: ['KEPT'] } }, { sort: 'asc', size: 5 })).total, 1);
  });
});

test('an auditID holding U+0000 is refused with a QueryError naming it (PostgreSQL text cannot hold it)', async () => {
  await withStore(async (store) => {
    await assert.rejects(store.append([makeEvent(), makeEvent({ auditID: 'a\u0000b' })]), {
      name: 'QueryError',
      message: /auditID "a\\u0000b" contains U\+0000/,
    });
    assert.equal((await store.query({}, { sort: 'asc', size: 1 })).total, 0, 'the batch stored nothing');
  });
});
