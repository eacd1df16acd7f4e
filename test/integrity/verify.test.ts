// Tamper evidence end to end: a store written through the Store API, checkpoints signed, then the SQLite file is
// tampered with directly; `vigil verify` must name the right kind of break and exit 1, and pass (exit 0) when the
// only changes are the store's own (collapsed stages, retention).
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { bodyHash, chainHash, checkpointMessage, defaultKeyPath, loadSigningKey } from '../../src/integrity/index.ts';
import { openSqliteStore, startRetention } from '../../src/store/index.ts';
import { writeSqliteCheckpoint } from '../../src/store/sqlite/index.ts';
import { vigil } from '../helpers/cli.ts';
import { makeEvent } from '../store/contract.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test('the chain step is sha256(prev ‖ "vigil-chain/1" ‖ op ‖ seq ‖ id ‖ bodyHash), ids and seqs as int64 BE', () => {
  // Written out independently of src/integrity/chain.ts: chains and exports of earlier versions must still verify.
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  const body = '{"kind":"Event","auditID":"a-1","verb":"get"}';
  const bh = createHash('sha256').update(body).digest();
  assert.deepEqual(bodyHash(body), bh);
  const prev = createHash('sha256').update('previous').digest();
  for (const [op, seq, id] of [
    [1, 2, 1],
    [3, 2 ** 32 + 7, 2 ** 40 + 3],
    [2, Number.MAX_SAFE_INTEGER, 4_294_967_295],
  ] as const) {
    const expected = createHash('sha256')
      .update(prev)
      .update('vigil-chain/1')
      .update(Buffer.of(op))
      .update(u64(seq))
      .update(u64(id))
      .update(bh)
      .digest();
    assert.deepEqual(chainHash(prev, op, seq, id, bh), expected, `op ${op} seq ${seq} id ${id}`);
  }
});

/** Runs `vigil verify --json` on the data dir; returns the exit code and the report. */
async function verify(dir: string, ...more: string[]) {
  const r = await vigil(['verify', '--data', dir, '--json', ...more]);
  const report = JSON.parse(r.out) as {
    ok: boolean;
    first?: { kind: string; eventId?: number; detail: string };
    events: number;
    unchained: number;
  };
  return { code: r.code, report };
}

/** A store of 20 events (ids 1–20) plus a CADF call collapsed in place (id 21), checkpointed. */
async function setup(): Promise<{ dir: string; db: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-integrity-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  const store = await openSqliteStore({ path: db });
  await store.append(Array.from({ length: 20 }, (_, i) => makeEvent({}, T0 + i * 1000)));
  const call = makeEvent({ stage: 'RequestReceived', source: 'cadf' }, T0 + 30_000);
  await store.append([call], { collapseStages: true });
  await store.append([{ ...call, stage: 'ResponseComplete' }], { collapseStages: true });
  await store.close();
  writeSqliteCheckpoint(db, loadSigningKey(defaultKeyPath(db), true));
  return { dir, db };
}

function tamper(db: string, sql: string, ...params: (string | number)[]): void {
  const d = new DatabaseSync(db);
  d.prepare(sql).run(...params);
  d.close();
}

test('an untouched store verifies, collapsed stages included (exit 0)', async () => {
  const { dir } = await setup();
  const { code, report } = await verify(dir);
  assert.equal(code, 0, JSON.stringify(report));
  assert.equal(report.ok, true);
  assert.equal(report.events, 21);
  const text = await vigil(['verify', '--data', dir]);
  assert.equal(text.code, 0);
  assert.match(text.out, /trail intact: 23 chain entries, 21 events, 1 checkpoints/);
});

test('an untouched store verifies after retention ran, and after more appends', async () => {
  const { dir, db } = await setup();
  const key = loadSigningKey(defaultKeyPath(db), false);
  const store = await openSqliteStore({ path: db });
  let steps = 0;
  const retention = startRetention(store, {
    maxAgeMs: 60_000,
    stepLimit: 3,
    intervalMs: 3_600_000,
    now: () => T0 + 60_000 + 10_500, // deletes the 11 events received before T0 + 10.5 s
    onStep: () => {
      steps++;
      writeSqliteCheckpoint(db, key);
    },
  });
  assert.equal(await retention.runOnce(), 11);
  await retention.stop();
  assert.equal(steps, 4);
  await store.append([makeEvent({}, T0 + 40_000)]);
  await store.close();
  const { code, report } = await verify(dir);
  assert.equal(code, 0, JSON.stringify(report));
  assert.equal(report.events, 11);
  const { code: c2, report: r2 } = await verify(dir, '--since', new Date(T0 + 15_000).toISOString());
  assert.equal(c2, 0, JSON.stringify(r2));
  // an event retention deleted, put back, is not vouched for
  tamper(db, `INSERT INTO event_bodies (id, body) VALUES (2, '{}')`);
  const back = await verify(dir);
  assert.equal(back.code, 1);
  assert.deepEqual([back.report.first?.kind, back.report.first?.eventId], ['inserted', 2]);
});

test('an edited field is caught as changed, naming the event', async () => {
  const { dir, db } = await setup();
  tamper(db, `UPDATE event_bodies SET body = replace(body, '"admin"', '"mallory"') WHERE id = 5`);
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.equal(report.first?.kind, 'changed');
  assert.equal(report.first?.eventId, 5);
  const text = await vigil(['verify', '--data', dir]);
  assert.equal(text.code, 1);
  assert.match(text.err, /first break: changed at event 5/);
});

test('a deleted row is caught as removed', async () => {
  const { dir, db } = await setup();
  tamper(db, 'DELETE FROM event_bodies WHERE id = 7');
  tamper(db, 'DELETE FROM events WHERE id = 7');
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.deepEqual([report.first?.kind, report.first?.eventId], ['removed', 7]);
});

test('an inserted row is caught as inserted', async () => {
  const { dir, db } = await setup();
  const forged = JSON.stringify(makeEvent({ verb: 'delete' }, T0 + 5_500));
  tamper(
    db,
    `INSERT INTO events (id, received, audit_id, stage, verb, level, username, namespace, workspace, cluster, devops,
       resource, subresource, name, status, source, request_uri, user_agent, code, multi)
     SELECT 500, received + 1, 'forged', stage, verb, level, username, namespace, workspace, cluster, devops, resource,
       subresource, name, status, source, request_uri, user_agent, code, multi FROM events WHERE id = 3`,
  );
  tamper(db, 'INSERT INTO event_bodies (id, body) VALUES (500, ?)', forged);
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.deepEqual([report.first?.kind, report.first?.eventId], ['inserted', 500]);
});

test('two swapped rows are caught as reordered', async () => {
  const { dir, db } = await setup();
  const d = new DatabaseSync(db);
  const a = (d.prepare('SELECT body FROM event_bodies WHERE id = 4').get() as { body: string }).body;
  const b = (d.prepare('SELECT body FROM event_bodies WHERE id = 6').get() as { body: string }).body;
  d.prepare('UPDATE event_bodies SET body = ? WHERE id = 4').run(b);
  d.prepare('UPDATE event_bodies SET body = ? WHERE id = 6').run(a);
  d.close();
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.deepEqual([report.first?.kind, report.first?.eventId], ['reordered', 4]);
});

test('a replaced checkpoint signature is caught as bad-checkpoint', async () => {
  const { dir, db } = await setup();
  tamper(db, 'UPDATE checkpoints SET signature = zeroblob(64)');
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.equal(report.first?.kind, 'bad-checkpoint');
});

test('a checkpoint re-signed with another key over another head is caught', async () => {
  const { dir, db } = await setup();
  const d = new DatabaseSync(db);
  const c = d.prepare('SELECT * FROM checkpoints WHERE seq = 1').get() as Record<string, number | string>;
  const other = generateKeyPairSync('ed25519').privateKey;
  const unsigned = {
    seq: 1,
    at: Number(c.at),
    lastSeq: Number(c.last_seq),
    count: Number(c.count),
    head: Buffer.alloc(32, 7),
    keyId: String(c.key_id),
  };
  d.prepare('UPDATE checkpoints SET head = ?, signature = ?').run(
    unsigned.head,
    sign(null, checkpointMessage(unsigned), other),
  );
  d.close();
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.equal(report.first?.kind, 'bad-checkpoint');
});

test('a consistently rewritten chain (hashes recomputed after an edit) fails the signed checkpoint', async () => {
  const { dir, db } = await setup();
  const d = new DatabaseSync(db);
  d.prepare(`UPDATE event_bodies SET body = replace(body, '"list"', '"get"') WHERE id = 9`).run();
  const body = (d.prepare('SELECT body FROM event_bodies WHERE id = 9').get() as { body: string }).body;
  const { bodyHash } = await import('../../src/integrity/chain.ts');
  d.prepare('UPDATE chain_log SET body_hash = ? WHERE event_id = 9').run(bodyHash(body));
  let prev: Buffer = Buffer.alloc(32);
  for (const r of d.prepare('SELECT * FROM chain_log ORDER BY seq').all() as Record<string, never>[]) {
    const h = chainHash(prev, r.op, r.seq, r.event_id, r.body_hash);
    d.prepare('UPDATE chain_log SET hash = ? WHERE seq = ?').run(h, r.seq);
    prev = h;
  }
  d.close();
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.equal(report.first?.kind, 'bad-checkpoint');
});

test('removed checkpoints are caught as gaps in their numbering (CloudTrail aws-cli#7054)', async () => {
  const { dir, db } = await setup();
  const key = loadSigningKey(defaultKeyPath(db), false);
  for (let i = 0; i < 3; i++) writeSqliteCheckpoint(db, key, { force: true });
  tamper(db, 'DELETE FROM checkpoints WHERE seq IN (2, 3)');
  let r = await verify(dir);
  assert.equal(r.code, 1);
  assert.equal(r.report.first?.kind, 'bad-checkpoint');
  assert.match(r.report.first?.detail ?? '', /checkpoints 2\.\.3 are missing/);
  tamper(db, 'DELETE FROM checkpoints WHERE seq = 1');
  r = await verify(dir);
  assert.equal(r.code, 1);
  assert.match(r.report.first?.detail ?? '', /checkpoints 1\.\.3 are missing/);
});

test('a removed chain tail is caught by the checkpoint covering it', async () => {
  const { dir, db } = await setup();
  tamper(db, 'DELETE FROM chain_log WHERE seq > 20');
  tamper(db, 'DELETE FROM event_bodies WHERE id > 19');
  tamper(db, 'DELETE FROM events WHERE id > 19');
  const { code, report } = await verify(dir);
  assert.equal(code, 1);
  assert.equal(report.first?.kind, 'removed');
});

test('export verifies offline with the public key, and an edited export line is caught', async () => {
  const { dir } = await setup();
  const out = path.join(dir, 'export.jsonl');
  const pub = path.join(dir, 'vigil-signing.pub');
  const keyCopy = path.join(mkdtempSync(path.join(os.tmpdir(), 'vigil-key-')), 'trusted.pub');
  dirs.push(path.dirname(keyCopy));
  writeFileSync(keyCopy, readFileSync(pub));
  assert.equal((await vigil(['export', '--data', dir, '--out', out])).code, 0);
  const ok = await vigil(['verify', '--file', out, '--public-key', keyCopy]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /trail intact: 23 chain entries, 21 events/);

  const lines = readFileSync(out, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes('"id":12,'));
  lines[i] = lines[i]!.replace('\\"admin\\"', '\\"mallory\\"');
  writeFileSync(out, lines.join('\n'));
  const bad = await vigil(['verify', '--file', out, '--public-key', keyCopy, '--json']);
  assert.equal(bad.code, 1);
  const r = JSON.parse(bad.out) as { first: { kind: string; eventId: number } };
  assert.deepEqual([r.first.kind, r.first.eventId], ['changed', 12]);

  // a different trusted key rejects the export's checkpoints
  const stranger = path.join(path.dirname(keyCopy), 'stranger.pub');
  writeFileSync(stranger, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  assert.equal((await vigil(['verify', '--file', out, '--public-key', stranger])).code, 1);
});

test('export --since starts at a signed checkpoint and verifies offline', async () => {
  const { dir, db } = await setup();
  const store = await openSqliteStore({ path: db });
  await store.append([makeEvent({}, T0 + 50_000), makeEvent({}, T0 + 51_000)]);
  await store.close();
  const out = path.join(dir, 'since.jsonl');
  assert.equal(
    (await vigil(['export', '--data', dir, '--out', out, '--since', new Date(T0 + 50_000).toISOString()])).code,
    0,
  );
  const text = readFileSync(out, 'utf8');
  assert.match(text.split('\n')[1]!, /"type":"anchor","seq":23/);
  const r = await vigil(['verify', '--file', out, '--public-key', path.join(dir, 'vigil-signing.pub')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /2 chain entries, 2 events/);
});

test('a schema-1 database is upgraded: its old events are unchained, new ones chained', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-integrity-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  let store = await openSqliteStore({ path: db });
  await store.append([makeEvent({}, T0), makeEvent({}, T0 + 1)]);
  await store.close();
  // make it what Vigil before the chain left behind
  const d = new DatabaseSync(db);
  d.exec('DROP TABLE chain_log; DROP TABLE checkpoints; PRAGMA user_version = 1');
  d.close();
  store = await openSqliteStore({ path: db });
  await store.append([makeEvent({}, T0 + 2)] as AuditEvent[]);
  await store.close();
  writeSqliteCheckpoint(db, loadSigningKey(defaultKeyPath(db), true));
  const { code, report } = await verify(dir);
  assert.equal(code, 0, JSON.stringify(report));
  assert.equal(report.unchained, 2);
  assert.equal(report.events, 1);
});

test('--print-public-key prints the key the collector signs with', async () => {
  const { dir } = await setup();
  const r = await vigil(['verify', '--data', dir, '--print-public-key']);
  assert.equal(r.code, 0);
  assert.equal(r.out, readFileSync(path.join(dir, 'vigil-signing.pub'), 'utf8'));
});

test('verify without a public key or store fails with a clear error (exit 2)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-integrity-'));
  dirs.push(dir);
  const r = await vigil(['verify', '--data', dir]);
  assert.equal(r.code, 2);
  assert.match(r.err, /no such store/);
});

/** Counts of the chain's entries and its first seq, read directly. */
function chainRows(db: string): { n: number; first: number } {
  const d = new DatabaseSync(db, { readOnly: true });
  const r = d.prepare('SELECT count(*) AS n, min(seq) AS first FROM chain_log').get() as { n: number; first: number };
  d.close();
  return r;
}

/** Batches of 10 events a second apart, each followed by a checkpoint, then retention of all but the last batch. */
async function prunedStore(
  batches: number,
): Promise<{ dir: string; db: string; key: ReturnType<typeof loadSigningKey> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-integrity-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  const key = loadSigningKey(defaultKeyPath(db), true);
  const store = await openSqliteStore({ path: db });
  for (let b = 0; b < batches; b++) {
    await store.append(Array.from({ length: 10 }, (_, i) => makeEvent({}, T0 + (b * 10 + i) * 1000)));
    await store.checkpoint(key);
  }
  const retention = startRetention(store, {
    maxAgeMs: 60_000,
    stepLimit: 7,
    intervalMs: 3_600_000,
    now: () => T0 + 60_000 + (batches - 1) * 10_000, // keeps the last batch
    onStep: async () => {
      await store.checkpoint(key);
    },
  });
  assert.equal(await retention.runOnce(), (batches - 1) * 10);
  await retention.stop();
  await store.close();
  return { dir, db, key };
}

test('retention cuts the chain prefix at a signed checkpoint; the trail still verifies, and export with it', async () => {
  const { dir, db } = await prunedStore(5);
  const { n, first } = chainRows(db);
  // 1 genesis + 50 inserts + 40 deletes were written; the prefix up to the checkpoint after the 4th batch is gone
  assert.ok(first > 41, `chain starts at ${first}`);
  assert.ok(n < 91 - 40, `${n} chain entries left`);
  const { code, report } = await verify(dir);
  assert.equal(code, 0, JSON.stringify(report));
  assert.equal(report.events, 10);
  const out = path.join(dir, 'export.jsonl');
  assert.equal((await vigil(['export', '--data', dir, '--out', out])).code, 0);
  assert.match(readFileSync(out, 'utf8').split('\n')[1]!, new RegExp(`"type":"anchor","seq":${first - 1},`));
  const offline = await vigil(['verify', '--file', out, '--public-key', path.join(dir, 'vigil-signing.pub')]);
  assert.equal(offline.code, 0, offline.err);
  // more retention and appends keep it verifiable
  const store = await openSqliteStore({ path: db });
  await store.append([makeEvent({}, T0 + 100_000)]);
  await store.close();
  assert.equal((await verify(dir)).code, 0);
});

test('after the prefix was cut, a removed event with its entries, a deleted event put back, and a cut without a checkpoint are caught', async () => {
  // the live events (41–50) removed together with every entry up to the checkpoint after their insert, as if
  // retention had cut the chain there: only the checkpoint's count still knows them
  {
    const { dir, db } = await prunedStore(5);
    const d = new DatabaseSync(db, { readOnly: true });
    const cut = (d.prepare('SELECT last_seq AS s FROM checkpoints WHERE seq = 5').get() as { s: number }).s;
    d.close();
    tamper(db, 'DELETE FROM events WHERE id >= 41');
    tamper(db, 'DELETE FROM event_bodies WHERE id >= 41');
    tamper(db, 'DELETE FROM chain_log WHERE seq <= ?', cut);
    const { code, report } = await verify(dir);
    assert.equal(code, 1);
    assert.equal(report.first?.kind, 'removed', JSON.stringify(report.first));
    assert.match(report.first?.detail ?? '', /the chain counts 10 stored events, its entries vouch for 0/);
  }
  // an event retention deleted (its entries cut with the prefix), put back
  {
    const { dir, db } = await prunedStore(5);
    tamper(db, `INSERT INTO event_bodies (id, body) VALUES (3, '{}')`);
    const { code, report } = await verify(dir);
    assert.equal(code, 1);
    assert.deepEqual([report.first?.kind, report.first?.eventId], ['inserted', 3]);
  }
  // entries cut where no checkpoint stands: the gap is named (and the events they vouched for are strays)
  {
    const { dir, db } = await prunedStore(5);
    const { first } = chainRows(db);
    tamper(db, 'DELETE FROM chain_log WHERE seq <= ?', first + 2);
    const r = await vigil(['verify', '--data', dir, '--json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as { breaks: { kind: string; detail: string }[] };
    assert.ok(
      report.breaks.some((b) => b.kind === 'removed' && b.detail === `chain entries 1..${first + 2} are missing`),
      JSON.stringify(report.breaks.slice(0, 3)),
    );
  }
});

test('an upgraded store whose unchained events retention deletes in the step that cuts the chain still verifies', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-integrity-'));
  dirs.push(dir);
  const db = path.join(dir, 'vigil.db');
  let store = await openSqliteStore({ path: db });
  await store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, T0 + i * 1000)));
  await store.close();
  // what Vigil before the chain left behind: 5 unchained events
  const d = new DatabaseSync(db);
  d.exec('DROP TABLE chain_log; DROP TABLE checkpoints; PRAGMA user_version = 1');
  d.close();
  const key = loadSigningKey(defaultKeyPath(db), true);
  store = await openSqliteStore({ path: db });
  for (let b = 0; b < 3; b++) {
    await store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, T0 + 10_000 + (b * 5 + i) * 1000)));
    await store.checkpoint(key);
  }
  // one step deletes the unchained events and the first chained batch, then cuts the chain
  const retention = startRetention(store, {
    maxAgeMs: 60_000,
    stepLimit: 100,
    intervalMs: 3_600_000,
    now: () => T0 + 60_000 + 14_500,
    onStep: async () => {
      await store.checkpoint(key);
    },
  });
  assert.equal(await retention.runOnce(), 10);
  await retention.stop();
  await store.append([makeEvent({}, T0 + 40_000)]);
  await store.checkpoint(key);
  const first = await verify(dir);
  assert.equal(first.code, 0, JSON.stringify(first.report));
  assert.equal(first.report.events, 11);
  // no cut yet: the deletions of the unchained events follow inserts of events still stored. Once those are gone
  // too, the next step cuts at the checkpoint after the deletions
  const later = startRetention(store, {
    maxAgeMs: 60_000,
    stepLimit: 100,
    intervalMs: 3_600_000,
    now: () => T0 + 60_000 + 25_000,
    onStep: async () => {
      await store.checkpoint(key);
    },
  });
  assert.equal(chainRows(db).first, 1);
  assert.equal(await later.runOnce(), 10);
  await later.stop();
  await store.close();
  assert.ok(chainRows(db).first > 1, 'the chain was cut');
  const { code, report } = await verify(dir);
  assert.equal(code, 0, JSON.stringify(report));
  assert.equal(report.events, 1);
});
