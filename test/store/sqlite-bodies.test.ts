// SQLite bodies in compressed blocks (src/store/sqlite/bodies.ts): a store written before schema 6 opens, its plain
// bodies are packed step by step, and `vigil verify` passes before, during and after; events read back byte for
// byte; collapsed stages, retention and a damaged block behave.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, test } from 'node:test';
import { defaultKeyPath, loadSigningKey } from '../../src/integrity/index.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import { TRAIN_AT } from '../../src/store/sqlite/bodies.ts';
import { writeSqliteCheckpoint } from '../../src/store/sqlite/index.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { vigil } from '../helpers/cli.ts';
import { makeEvent } from './contract.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function verify(dir: string): Promise<{ code: number; report: { ok: boolean; events: number } }> {
  const r = await vigil(['verify', '--data', dir, '--json']);
  return { code: r.code, report: JSON.parse(r.out) };
}

function count(db: string, sql: string): number {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    return (d.prepare(sql).get() as { n: number }).n;
  } finally {
    d.close();
  }
}

/** Events of some variety (compression must not depend on them being alike). */
function events(n: number, from: number): ReturnType<typeof makeEvent>[] {
  return Array.from({ length: n }, (_, i) =>
    makeEvent(
      {
        verb: ['get', 'list', 'create', 'delete'][i % 4],
        requestURI: `/api/v1/namespaces/ns-${i % 17}/pods/p-${from + i}`,
        objectRef: { resource: 'pods', namespace: `ns-${i % 17}`, name: `p-${from + i}`, apiVersion: 'v1' },
        annotations: { 'authorization.k8s.io/decision': 'allow', n: String(from + i) },
      },
      T0 + (from + i) * 1000,
    ),
  );
}

const strip = ({ id: _id, ...rest }: StoredEvent) => rest;

test('a store of plain bodies from before schema 6 is compressed in steps; verify passes before, during and after', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bodies-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  const sent = events(TRAIN_AT + 500, 0);
  let store = await openSqliteStore({ path: db, packInBackground: false });
  for (let i = 0; i < sent.length; i += 300) await store.append(sent.slice(i, i + 300));
  await store.close();
  // what schema 5 left behind: no blocks, every body a plain row, the call key instead of the audit ID index
  const d = new DatabaseSync(db);
  d.exec(`DROP TABLE body_blocks; DROP TABLE body_dicts; ALTER TABLE events DROP COLUMN block;
    DROP INDEX events_audit; CREATE UNIQUE INDEX events_call ON events (received, audit_id, stage);
    PRAGMA user_version = 5`);
  d.close();
  writeSqliteCheckpoint(db, loadSigningKey(defaultKeyPath(db), true));
  const before = await verify(dir);
  assert.equal(before.code, 0, JSON.stringify(before.report));
  const plainBytes = count(db, 'SELECT sum(length(body)) AS n FROM event_bodies');

  store = await openSqliteStore({ path: db, packInBackground: false });
  try {
    assert.equal((await verify(dir)).code, 0, 'opened (upgraded), nothing packed yet');
    // bounded steps: the first trains the dictionary from the store's own bodies
    assert.equal(await store.compact!(400), 400);
    assert.equal(count(db, 'SELECT count(*) AS n FROM body_dicts'), 1);
    const during = await verify(dir);
    assert.equal(during.code, 0, JSON.stringify(during.report));
    assert.equal(during.report.events, sent.length);
    let steps = 1;
    while ((await store.compact!(400)) > 0) assert.ok(++steps < 20, 'packing ends');
    assert.equal(count(db, 'SELECT count(*) AS n FROM event_bodies'), 0);
    const packed = count(db, 'SELECT sum(length(data)) AS n FROM body_blocks');
    assert.ok(packed < plainBytes / 4, `blocks take ${packed} B for ${plainBytes} B of JSON`);
    // every event reads back as sent, by id and through queries
    const page = await store.query({}, { sort: 'asc', size: 2000 });
    assert.equal(page.total, sent.length);
    assert.deepEqual(page.items.map(strip), sent);
    assert.deepEqual(strip((await store.get(page.items[777]!.id))!), sent[777]);
    // new events go straight into blocks
    const more = events(100, sent.length);
    await store.append(more);
    assert.equal(count(db, 'SELECT count(*) AS n FROM event_bodies'), 0);
    assert.deepEqual((await store.query({}, { sort: 'desc', size: 1 })).items.map(strip), [more[99]]);
  } finally {
    await store.close();
  }
  writeSqliteCheckpoint(db, loadSigningKey(defaultKeyPath(db), true));
  const after = await verify(dir);
  assert.equal(after.code, 0, JSON.stringify(after.report));
  assert.equal(after.report.events, sent.length + 100);
  // export writes the original JSON, which verifies on its own
  const out = path.join(dir, 'trail.jsonl');
  const exported = await vigil(['export', '--data', dir, '--out', out]);
  assert.equal(exported.code, 0, exported.err);
  assert.ok(readFileSync(out, 'utf8').includes(JSON.stringify(JSON.stringify(sent[777]))), 'a body as stored');
  const pub = path.join(dir, 'vigil-signing.pub');
  const checked = await vigil(['verify', '--file', out, '--public-key', pub]);
  assert.equal(checked.code, 0, checked.err);
});

test('collapsed stages, retention and a damaged block: replaced bodies read back, unused blocks go, damage is named', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bodies-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  const store = await openSqliteStore({ path: db, packInBackground: false });
  try {
    await store.append(events(TRAIN_AT, 0));
    while ((await store.compact!()) > 0);
    const call = makeEvent({ stage: 'RequestReceived', source: 'cadf' }, T0 + 5_000_000);
    const [id] = (await store.append([call, ...events(40, TRAIN_AT)], { collapseStages: true })).ids;
    const response = { ...call, stage: 'ResponseComplete' as const, responseStatus: { metadata: {}, code: 201 } };
    await store.append([response], { collapseStages: true });
    assert.deepEqual(strip((await store.get(id!))!), response, 'the replaced body, not the block copy');
    while ((await store.compact!()) > 0);
    assert.deepEqual(strip((await store.get(id!))!), response, 'packed again');
    const blocks = count(db, 'SELECT count(*) AS n FROM body_blocks');
    // retention: the first 500 events go; the blocks holding only them go too
    assert.equal(await store.deleteBefore(T0 + 500 * 1000, 10_000), 500);
    const left = count(db, 'SELECT count(*) AS n FROM body_blocks');
    assert.ok(left < blocks && left >= blocks - Math.ceil(500 / 32), `${blocks} → ${left} blocks`);
  } finally {
    await store.close();
  }
  writeSqliteCheckpoint(db, loadSigningKey(defaultKeyPath(db), true));
  assert.equal((await verify(dir)).code, 0);
  // a block's bytes damaged: its events are reported, not a crash
  const d = new DatabaseSync(db);
  d.exec(`UPDATE body_blocks SET data = x'28b52ffd0000' WHERE id = (SELECT max(id) FROM body_blocks)`);
  d.close();
  const r = await verify(dir);
  assert.equal(r.code, 1);
  assert.equal(r.report.ok, false);
  // every event gone: every block too, also those all of whose events were replaced in place
  const again = await openSqliteStore({ path: db, packInBackground: false });
  try {
    await again.deleteBefore(T0 + 10_000_000, 10_000);
  } finally {
    await again.close();
  }
  assert.equal(count(db, 'SELECT count(*) AS n FROM body_blocks'), 0);
  assert.equal(count(db, 'SELECT count(*) AS n FROM event_bodies'), 0);
});

test('the writer packs by itself: plain bodies of a store opened for ingest end up in blocks, bounded steps between appends', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bodies-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  let store = await openSqliteStore({ path: db, packInBackground: false });
  const sent = events(TRAIN_AT + 200, 0);
  await store.append(sent);
  await store.close();
  assert.equal(count(db, 'SELECT count(*) AS n FROM event_bodies'), sent.length, 'all plain');
  store = await openSqliteStore({ path: db });
  try {
    await store.append(events(1, sent.length)); // starts the writer, which then packs in the background
    const deadline = Date.now() + 60_000;
    while (count(db, 'SELECT count(*) AS n FROM event_bodies') > 0) {
      assert.ok(Date.now() < deadline, 'the background packing did not finish within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await store.query({}, { sort: 'asc', size: 1 })).items.map(strip)[0]?.auditID, sent[0]!.auditID);
  } finally {
    await store.close();
  }
  writeSqliteCheckpoint(db, loadSigningKey(defaultKeyPath(db), true));
  assert.equal((await verify(dir)).code, 0);
});
