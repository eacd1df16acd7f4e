import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { openSqliteStore, openStore } from '../../src/store/index.ts';
import { DICT_COLUMNS, SCHEMA_VERSION } from '../../src/store/sqlite/schema.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { makeEvent, storeContract } from './contract.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const path = join(dir, 'events.db');
  return {
    store: await openSqliteStore({ path }),
    reopen: () => openSqliteStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

test('sqlite: a listener that subscribes while an append is in flight gets that batch, read back as stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const store = await openSqliteStore({ path: join(dir, 'events.db') });
  try {
    const got: StoredEvent[][] = [];
    // no listener when the append starts: the store does not hold the batch while the writer thread commits it
    const pending = store.append([makeEvent(), makeEvent()]);
    store.subscribe((events) => got.push(events));
    const r = await pending;
    assert.equal(got.length, 1);
    assert.deepEqual(
      got[0]!.map((e) => e.id),
      r.ids,
    );
    for (const e of got[0]!) assert.deepEqual(e, await store.get(e.id));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: an in-memory store works too', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  try {
    await store.append([makeEvent()]);
    assert.equal((await store.size()).events, 1);
  } finally {
    await store.close();
  }
});

test('openStore opens the configured store and rejects unknown types', async () => {
  const store = await openStore({ type: 'sqlite', path: ':memory:' });
  await store.close();
  await assert.rejects(openStore({ type: 'mongo' } as never), /unknown store type "mongo"/);
});

test('sqlite: a closed store refuses calls', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  await store.close();
  await assert.rejects(store.append([makeEvent()]), /closed/);
});

test('sqlite: retention also drops dictionary values no stored event uses any more', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const path = join(dir, 'events.db');
  const store = await openSqliteStore({ path });
  try {
    const at = Date.parse('2026-01-01T00:00:00Z');
    const old = Array.from({ length: 30 }, (_, i) => makeEvent({ requestURI: `/api/v1/pods/p-${i}?rv=${i}` }, at));
    await store.append([...old, makeEvent({ requestURI: '/kept' }, at + 10_000)]);
    while ((await store.deleteBefore(at + 5_000, 7)) > 0);
    const probe = new DatabaseSync(path, { readOnly: true });
    try {
      const uris = probe.prepare("SELECT value FROM terms WHERE value LIKE '/%'").all() as { value: string }[];
      assert.deepEqual(
        uris.map((u) => u.value),
        ['/kept'],
      );
    } finally {
      probe.close();
    }
    assert.equal((await store.query({ text: ['pods/p-1'] }, { sort: 'asc', size: 1 })).total, 0);
    await store.append([old[1]!]);
    assert.equal((await store.query({ text: ['pods/p-1'] }, { sort: 'asc', size: 1 })).total, 1);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: histograms and totals from the per-minute counts agree with the events, after retention and upgrade', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const path = join(dir, 'events.db');
  const T = Date.parse('2026-03-01T10:00:00Z');
  // spread over ~3 hours with microsecond fractions, some in the same minute
  const times: number[] = [];
  for (let i = 0; i < 300; i++) times.push(T + ((i * 7919) % 10_800_000) + (i % 3) * 17);
  const micro = (ms: number, i: number) =>
    `${new Date(ms).toISOString().slice(0, -1)}${String(i % 1000).padStart(3, '0')}Z`;
  const expect = (ts: number[], start: number | undefined, end: number | undefined, interval: number) => {
    const m = new Map<number, number>();
    for (const t of ts)
      if ((start === undefined || t >= start) && (end === undefined || t <= end))
        m.set(Math.floor(t / interval), (m.get(Math.floor(t / interval)) ?? 0) + 1);
    const keys = [...m.keys()].sort((a, b) => a - b);
    const buckets = [];
    for (let b = keys[0]!; keys.length > 0 && b <= keys[keys.length - 1]!; b++)
      buckets.push({ time: b * interval, count: m.get(b) ?? 0 });
    return { total: [...m.values()].reduce((a, b) => a + b, 0), buckets };
  };
  const check = async (store: Awaited<ReturnType<typeof openSqliteStore>>, ts: number[]) => {
    for (const [start, end, interval] of [
      [undefined, undefined, 3_600_000],
      [undefined, undefined, 60_000],
      [T + 95_123, T + 7_300_456, 900_000],
      [T + 61_000, T + 61_999, 60_000],
      [T - 100_000, T + 5_000_000, 7_200_000],
    ] as [number | undefined, number | undefined, number][]) {
      const q = { ...(start === undefined ? {} : { start }), ...(end === undefined ? {} : { end }) };
      assert.deepEqual(await store.histogram(q, interval), expect(ts, start, end, interval), JSON.stringify(q));
    }
    assert.equal((await store.query({}, { sort: 'desc', size: 1 })).total, ts.length);
  };
  try {
    let store = await openSqliteStore({ path });
    await store.append(times.map((t, i) => makeEvent({ requestReceivedTimestamp: micro(t, i) }, t)));
    await check(store, times);
    // retention subtracts what it deletes
    const cutoff = T + 3_600_000;
    await store.deleteBefore(cutoff, 10_000);
    const kept = times.filter((t) => t >= cutoff);
    await check(store, kept);
    await store.close();
    // a version 1 database (no per-minute counts) is counted once on open
    const db = new DatabaseSync(path);
    db.exec('DROP TABLE event_minutes; PRAGMA user_version = 1');
    db.close();
    store = await openSqliteStore({ path });
    await check(store, kept);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: a version 2 database loses its low-cardinality indexes on open and still answers filters on those fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sqlite-v2-'));
  const path = join(dir, 'v.db');
  try {
    let store = await openSqliteStore({ path });
    await store.append([
      makeEvent({ level: 'Metadata', responseStatus: { code: 200, status: 'Success' } }),
      makeEvent({ level: 'Request', responseStatus: { code: 403, status: 'Failure' }, cluster: 'c2' }),
    ]);
    await store.close();
    const db = new DatabaseSync(path);
    db.exec(
      'CREATE INDEX events_level ON events (level, received); CREATE INDEX events_status ON events (status, received)',
    );
    db.exec(
      'CREATE INDEX events_cluster ON events (cluster, received); CREATE INDEX events_source ON events (source, received)',
    );
    db.exec('PRAGMA user_version = 2');
    db.close();
    store = await openSqliteStore({ path });
    const check = new DatabaseSync(path);
    const left = check
      .prepare(
        `SELECT name FROM sqlite_schema WHERE type = 'index' AND name IN ('events_level', 'events_status', 'events_cluster', 'events_source')`,
      )
      .all();
    assert.deepEqual(left, []);
    assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION);
    check.close();
    assert.equal((await store.query({ exact: { level: ['Request'] } }, { sort: 'desc', size: 10 })).total, 1);
    assert.equal((await store.query({ exact: { status: ['Failure'] } }, { sort: 'desc', size: 10 })).total, 1);
    assert.equal((await store.query({ fuzzy: { cluster: ['C2'] } }, { sort: 'desc', size: 10 })).total, 1);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: a version 3 database gets the verb and resource into its indexes; verb + resource counts from an index alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sqlite-v3-'));
  const path = join(dir, 'v.db');
  const columns = (db: DatabaseSync, idx: string) =>
    (db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(idx) as { name: string }[]).map(
      (r) => r.name,
    );
  try {
    let store = await openSqliteStore({ path });
    const verbs = ['get', 'list', 'delete'];
    const resources = ['pods', 'secrets'];
    await store.append(
      Array.from({ length: 60 }, (_, i) =>
        makeEvent({ verb: verbs[i % 3], objectRef: { resource: resources[i % 2], namespace: 'a' } }, T0 + i),
      ),
    );
    await store.close();
    // what schema 3 left behind
    const db = new DatabaseSync(path);
    db.exec(`DROP INDEX events_verb; CREATE INDEX events_verb ON events (verb, received);
      DROP INDEX events_resource; CREATE INDEX events_resource ON events (resource, received);
      DROP INDEX events_username; CREATE INDEX events_username ON events (username, received);
      PRAGMA user_version = 3`);
    db.close();
    store = await openSqliteStore({ path });
    const check = new DatabaseSync(path);
    assert.deepEqual(columns(check, 'events_verb'), ['verb', 'received', 'resource']);
    assert.deepEqual(columns(check, 'events_resource'), ['resource', 'received', 'verb']);
    assert.deepEqual(columns(check, 'events_username'), ['username', 'received', 'verb', 'resource']);
    assert.deepEqual(columns(check, 'events_namespace'), ['namespace', 'received', 'verb', 'resource']);
    const plan = (
      check
        .prepare('EXPLAIN QUERY PLAN SELECT count(*) FROM events e WHERE e.verb IN (?) AND e.resource IN (?)')
        .all(1, 2) as { detail: string }[]
    )
      .map((r) => r.detail)
      .join(' ');
    assert.match(plan, /COVERING INDEX events_(verb|resource)/);
    check.close();
    for (const [v, r, n] of [
      ['get', 'pods', 10],
      ['delete', 'secrets', 10],
      ['list', 'pods', 10],
    ] as const) {
      const q = { exact: { verb: [v], resource: [r] } };
      assert.equal((await store.query(q, { sort: 'desc', size: 5 })).total, n);
      assert.equal((await store.histogram(q, 60_000)).total, n);
    }
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: planner statistics come from the per-minute counts, the dictionary and a sample, without counting tables', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sqlite-stats-'));
  const path = join(dir, 'v.db');
  try {
    let store = await openSqliteStore({ path });
    await store.append(
      Array.from({ length: 200 }, (_, i) =>
        makeEvent(
          {
            verb: ['get', 'list'][i % 2],
            user: { username: `u${i % 10}`, groups: ['system:authenticated', `team-${i % 4}`] },
            objectRef: { resource: 'pods', namespace: `ns-${i % 50}` },
          },
          T0 + i,
        ),
      ),
    );
    await store.close();
    store = await openSqliteStore({ path }); // statistics are refreshed on open
    await store.close();
    const db = new DatabaseSync(path, { readOnly: true });
    const stat = (idx: string) =>
      (db.prepare('SELECT stat FROM sqlite_stat1 WHERE idx = ?').get(idx) as { stat: string } | undefined)?.stat;
    assert.equal(stat('events_username'), '200 20 1 1 1');
    assert.equal(stat('events_namespace'), '200 4 1 1 1');
    assert.equal(stat('events_verb'), '200 100 1 1');
    assert.equal(stat('events_name'), '200 200 1');
    // three list values per event (two groups, makeEvent's one source IP) over 5 + 1 distinct values
    assert.equal(stat('event_values'), '600 100 1');
    const plan = (
      db
        .prepare('EXPLAIN QUERY PLAN SELECT count(*) FROM events e WHERE e.verb IN (?) AND e.namespace IN (?)')
        .all(1, 2) as { detail: string }[]
    )
      .map((r) => r.detail)
      .join(' ');
    assert.match(plan, /INDEX events_namespace/);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: a version 5 database (unique key on received, audit ID, stage) gets the audit ID index; calls stored twice stay, new repeats do not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sqlite-v5-'));
  const path = join(dir, 'v.db');
  try {
    let store = await openSqliteStore({ path });
    const a = makeEvent({ requestReceivedTimestamp: '2026-03-01T12:00:00.000001Z' });
    await store.append([a]);
    await store.close();
    // what schema 5 left behind: the call key, and the same call stored again 1 µs later (it allowed that)
    const db = new DatabaseSync(path);
    db.exec(`DROP INDEX events_audit; CREATE UNIQUE INDEX events_call ON events (received, audit_id, stage);
      INSERT INTO events (received, audit_id, ${DICT_COLUMNS}, code, multi)
        SELECT received + 1, audit_id, ${DICT_COLUMNS}, code, multi FROM events;
      INSERT INTO event_bodies (id, body) SELECT max(id), (SELECT body FROM event_bodies) FROM events;
      PRAGMA user_version = 5`);
    db.close();
    store = await openSqliteStore({ path });
    const check = new DatabaseSync(path);
    const indexes = check.prepare(`SELECT name FROM sqlite_schema WHERE name IN ('events_call', 'events_audit')`).all();
    assert.deepEqual(
      indexes.map((r) => r.name),
      ['events_audit'],
    );
    const plan = (
      check.prepare('EXPLAIN QUERY PLAN SELECT id FROM events e WHERE e.audit_id IN (?)').all('x') as {
        detail: string;
      }[]
    )
      .map((r) => r.detail)
      .join(' ');
    assert.match(plan, /USING (COVERING )?INDEX events_audit/);
    check.close();
    const q = { exact: { auditID: [a.auditID] } };
    assert.equal((await store.query(q, { sort: 'asc', size: 10 })).total, 2, 'both rows of the old store stay');
    const again = await store.append([{ ...a, requestReceivedTimestamp: '2026-03-01T12:00:00.000003Z' }]);
    assert.equal(again.inserted, 0);
    assert.equal((await store.query(q, { sort: 'asc', size: 10 })).total, 2);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
