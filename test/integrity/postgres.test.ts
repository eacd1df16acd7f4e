// Tamper evidence on the PostgreSQL store, against the real server (each test its own schema, dropped after): two
// stores appending at once keep one chain that verifies; `vigil verify` names each kind of tampering done straight
// in the database; retention's partition drops and row deletes are not tampering, but putting back or removing
// what they vouch for is; export verifies offline; collectors sign checkpoints with the configured key.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { chainHash, loadSigningKey, type SigningKey } from '../../src/integrity/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/index.ts';
import { writePostgresCheckpoint } from '../../src/store/postgres/index.ts';
import { startRetention } from '../../src/store/retention.ts';
import { vigil } from '../helpers/cli.ts';
import { waitFor } from '../helpers/net.ts';
import { dropSchema, PG_URL, randomSchema, withAdmin } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/temp.ts';
import { makeEvent } from '../store/contract.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const DAY = 86_400_000;

interface Fixture {
  schema: string;
  dir: string;
  /** vigil.yaml naming the schema and the signing key. */
  config: string;
  key: SigningKey;
  store: PostgresStore;
  checkpoint(): Promise<void>;
  /** Runs SQL in the test's schema. */
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  verify(...more: string[]): Promise<{ code: number; report: Report }>;
}

interface Report {
  ok: boolean;
  first?: { kind: string; eventId?: number; seq?: number; detail: string };
  events: number;
  entries: number;
  unchained: number;
  unsigned: number;
  checkpoints: number;
}

/** A fresh schema with a store open on it and a signing key; everything removed after `fn`. */
async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const schema = randomSchema();
  const dir = tempDir('vigil-pgchain-');
  const keyPath = path.join(dir, 'signing.key');
  const key = loadSigningKey(keyPath, true);
  const config = path.join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    `storage: { type: postgres, url: "${PG_URL}", schema: ${schema} }\nintegrity: { signingKey: ${keyPath} }\n`,
  );
  const f: Fixture = {
    schema,
    dir,
    config,
    key,
    store: await openPostgresStore({ url: PG_URL, schema, poolSize: 4 }),
    checkpoint: async () => {
      await writePostgresCheckpoint({ url: PG_URL, schema }, key);
    },
    sql: (text, values) =>
      withAdmin(async (c) => {
        await c.query(`SET search_path TO "${schema}"`);
        return (await c.query(text, values)).rows;
      }),
    verify: async (...more) => {
      const r = await vigil(['verify', '--config', config, '--json', ...more]);
      assert.ok(r.out, r.err);
      return { code: r.code, report: JSON.parse(r.out) as Report };
    },
  };
  try {
    await fn(f);
  } finally {
    await f.store.close(); // the store the test left open (it may have reopened it)
    await dropSchema(schema);
  }
}

/** 20 events (ids 1–20) and a CADF call collapsed in place (id 21), then a checkpoint. */
async function fill(f: Fixture): Promise<void> {
  await f.store.append(Array.from({ length: 20 }, (_, i) => makeEvent({}, T0 + i * 1000)));
  const call = makeEvent({ stage: 'RequestReceived', source: 'cadf' }, T0 + 30_000);
  await f.store.append([call], { collapseStages: true });
  await f.store.append([{ ...call, stage: 'ResponseComplete' }], { collapseStages: true });
  await f.checkpoint();
}

test('PostgreSQL: an untouched store verifies (collapsed stages included), by config and by --storage-url', async () => {
  await withFixture(async (f) => {
    await fill(f);
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.deepEqual([report.entries, report.events, report.checkpoints], [23, 21, 1]);
    // --storage-url replaces the file's URL and keeps its schema; --public-key from a copy of the .pub
    const other = path.join(f.dir, 'other.yaml');
    writeFileSync(
      other,
      `storage: { type: postgres, url: "postgres://nobody@127.0.0.1:1/none", schema: ${f.schema} }\n`,
    );
    const r = await vigil([
      'verify',
      '--config',
      other,
      '--storage-url',
      PG_URL,
      '--public-key',
      path.join(f.dir, 'signing.pub'),
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /trail intact: 23 chain entries, 21 events, 1 checkpoints/);
    // without a key anywhere: a clear error
    const none = await vigil(['verify', '--config', other, '--storage-url', PG_URL]);
    assert.equal(none.code, 2);
    assert.match(none.err, /no public key: give --public-key/);
    // a schema without a chain: a clear error
    const empty = path.join(f.dir, 'empty.yaml');
    writeFileSync(empty, `storage: { type: postgres, url: "${PG_URL}", schema: ${f.schema}_none }\n`);
    const noChain = await vigil(['verify', '--config', empty, '--public-key', path.join(f.dir, 'signing.pub')]);
    assert.equal(noChain.code, 1);
    assert.match(noChain.err, new RegExp(`schema ${f.schema}_none: no hash chain`));
  });
});

test('PostgreSQL: two stores appending at once keep one chain; it verifies and checkpoints count every event', async () => {
  await withFixture(async (f) => {
    const b = await openPostgresStore({ url: PG_URL, schema: f.schema, poolSize: 4 });
    try {
      const batches = (k: number) =>
        Array.from({ length: 15 }, (_, i) => makeEvent({ user: { username: `u${k}` } }, T0 + k * 100_000 + i));
      const mine = Array.from({ length: 12 }, (_, k) => batches(k));
      // each batch appended by both stores at once, several batches in flight: every event lands once
      await Promise.all(mine.flatMap((batch) => [f.store.append(batch), b.append(batch)]));
      const calls = Array.from({ length: 6 }, (_, i) =>
        makeEvent({ stage: 'RequestReceived', source: 'cadf' }, T0 + 5_000_000 + i),
      );
      await Promise.all([f.store.append(calls, { collapseStages: true }), b.append(calls.slice(0, 3))]);
      await Promise.all(
        calls.map((c, i) =>
          (i % 2 ? f.store : b).append([{ ...c, stage: 'ResponseComplete' }], { collapseStages: true }),
        ),
      );
      await f.checkpoint();
      await Promise.all([f.store.append(batches(50)), b.append(batches(51))]);
    } finally {
      await b.close();
    }
    const stored = Number((await f.sql('SELECT count(*) AS n FROM events'))[0]!.n);
    assert.equal(stored, 12 * 15 + 6 + 30);
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.events, stored);
    assert.equal(report.unsigned, 30); // the last two batches came after the checkpoint
    const seqs = (await f.sql('SELECT seq FROM chain_log ORDER BY seq')).map((r) => Number(r.seq));
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
    );
  });
});

test('PostgreSQL: an edited field is caught as changed, a deleted row as removed, an inserted row as inserted', async () => {
  await withFixture(async (f) => {
    await fill(f);
    await f.sql(`UPDATE events SET body = replace(body, '"admin"', '"mallory"') WHERE id = 5`);
    let r = await f.verify();
    assert.equal(r.code, 1);
    assert.deepEqual([r.report.first?.kind, r.report.first?.eventId], ['changed', 5]);
    const text = await vigil(['verify', '--config', f.config]);
    assert.equal(text.code, 1);
    assert.match(text.err, /first break: changed at event 5/);

    await f.sql(`UPDATE events SET body = replace(body, '"mallory"', '"admin"') WHERE id = 5`);
    assert.equal((await f.verify()).code, 0);
    await f.sql('DELETE FROM events WHERE id = 7');
    r = await f.verify();
    assert.deepEqual([r.code, r.report.first?.kind, r.report.first?.eventId], [1, 'removed', 7]);

    await f.sql(
      `INSERT INTO events SELECT 500, received + 1, 'forged', stage, verb, level, username, namespace, workspace,
         cluster, devops, resource, subresource, name, code, status, source, groups, source_ips, search, body
       FROM events WHERE id = 3`,
    );
    r = await f.verify();
    assert.equal(r.code, 1);
    assert.ok(
      (r.report as Report & { breaks: { kind: string; eventId?: number }[] }).breaks.some(
        (b) => b.kind === 'inserted' && b.eventId === 500,
      ),
    );
  });
});

test('PostgreSQL: swapped bodies are caught as reordered, a replaced checkpoint as bad-checkpoint', async () => {
  await withFixture(async (f) => {
    await fill(f);
    await f.sql(`UPDATE events e SET body = o.body FROM events o WHERE (e.id, o.id) IN ((4, 6), (6, 4))`);
    let r = await f.verify();
    assert.deepEqual([r.code, r.report.first?.kind, r.report.first?.eventId], [1, 'reordered', 4]);
    await f.sql(`UPDATE events e SET body = o.body FROM events o WHERE (e.id, o.id) IN ((4, 6), (6, 4))`);
    assert.equal((await f.verify()).code, 0);
    await f.sql(`UPDATE checkpoints SET signature = decode(repeat('00', 64), 'hex')`);
    r = await f.verify();
    assert.deepEqual([r.code, r.report.first?.kind], [1, 'bad-checkpoint']);
  });
});

test('PostgreSQL: a chain block whose arrays no longer line up is caught', async () => {
  await withFixture(async (f) => {
    await fill(f);
    await f.sql('UPDATE chain_blocks SET days = days[1:3] WHERE seq = 2');
    const r = await f.verify();
    assert.equal(r.code, 1);
    assert.ok(
      (r.report as Report & { breaks: { kind: string; detail: string }[] }).breaks.some(
        (b) => b.kind === 'changed' && /chain block of entries from 2 is malformed/.test(b.detail),
      ),
    );
  });
});

test('PostgreSQL: a consistently rewritten chain fails the signed checkpoint', async () => {
  await withFixture(async (f) => {
    await fill(f);
    await f.sql(`UPDATE events SET body = replace(body, '"list"', '"get"') WHERE id = 9`);
    const { bodyHash } = await import('../../src/integrity/chain.ts');
    const body = String((await f.sql('SELECT body FROM events WHERE id = 9'))[0]!.body);
    // every entry's hash recomputed with the new body hash, written back into the blocks
    const bodies = new Map<number, Buffer>();
    const hashes = new Map<number, Buffer>();
    let prev: Buffer = Buffer.alloc(32);
    for (const e of await f.sql('SELECT * FROM chain_log ORDER BY seq')) {
      const seq = Number(e.seq);
      const bh = Number(e.event_id) === 9 && Number(e.op) === 1 ? bodyHash(body) : (e.body_hash as Buffer);
      prev = chainHash(prev, Number(e.op), seq, Number(e.event_id), bh);
      bodies.set(seq, bh);
      hashes.set(seq, prev);
    }
    for (const b of await f.sql('SELECT seq, ops FROM chain_blocks')) {
      const seqs = (b.ops as number[]).map((_, i) => Number(b.seq) + i);
      await f.sql('UPDATE chain_blocks SET body_hashes = $1, hashes = $2 WHERE seq = $3', [
        Buffer.concat(seqs.map((q) => bodies.get(q)!)),
        Buffer.concat(seqs.map((q) => hashes.get(q)!)),
        b.seq,
      ]);
    }
    const r = await f.verify();
    assert.deepEqual([r.code, r.report.first?.kind], [1, 'bad-checkpoint']);
  });
});

test('PostgreSQL: retention (partition drops and row deletes) verifies; putting back or removing what it vouches for does not', async () => {
  await withFixture(async (f) => {
    // three days with their own partitions, and events of a day without one (in DEFAULT)
    const d0 = Date.UTC(2026, 1, 10);
    await f.store.createPartitions(d0 * 1000, (d0 + 2 * DAY) * 1000);
    const at = (day: number, i: number) => d0 + day * DAY + 3_600_000 + i * 1000;
    const events: AuditEvent[] = [];
    for (let day = 0; day < 3; day++) for (let i = 0; i < 5; i++) events.push(makeEvent({}, at(day, i)));
    for (let i = 0; i < 3; i++) events.push(makeEvent({}, d0 + 5 * DAY + i * 1000)); // DEFAULT
    await f.store.append(events);
    await f.checkpoint();
    // later arrivals for day 0 (ids after the others)
    await f.store.append([makeEvent({}, at(0, 10)), makeEvent({}, at(0, 11))]);
    // cutoff inside day 2 at its 3rd event: days 0 and 1 dropped whole, two rows of day 2 deleted
    const deleted = await f.store.deleteBefore(at(2, 2), 100);
    assert.equal(deleted, 5 + 2 + 5 + 2);
    await f.checkpoint();
    const drops = await f.sql('SELECT event_id, day FROM chain_log WHERE op = 4 ORDER BY seq');
    assert.deepEqual(
      drops.map((d) => Number(d.event_id)),
      [7, 5],
    );
    let r = await f.verify();
    assert.equal(r.code, 0, JSON.stringify(r.report));
    assert.equal(r.report.events, 3 + 3);
    // a partial walk from a checkpoint before the drops
    r = await f.verify('--since', new Date(at(2, 3)).toISOString());
    assert.equal(r.code, 0, JSON.stringify(r.report));
    // a new day-0 event after the drop lands in DEFAULT and is live
    await f.store.append([makeEvent({}, at(0, 20))]);
    assert.equal((await f.verify()).code, 0);

    // an event a drop took, put back
    await f.sql(
      `INSERT INTO events SELECT 2, received - 5 * 86400000000 + 3600000000 * 0, audit_id || 'x', stage, verb, level,
         username, namespace, workspace, cluster, devops, resource, subresource, name, code, status, source, groups,
         source_ips, search, body FROM events WHERE id = (SELECT min(id) FROM events WHERE received >= $1)`,
      [(d0 + 5 * DAY) * 1000],
    );
    r = await f.verify();
    assert.deepEqual([r.code, r.report.first?.kind, r.report.first?.eventId], [1, 'inserted', 2]);
    await f.sql('DELETE FROM events WHERE id = 2');
    assert.equal((await f.verify()).code, 0);

    // a live event removed and its chain entries moved to a dropped day to pass for dropped: the drop's digest
    const victim = Number(
      (await f.sql(`SELECT min(id) AS id FROM events WHERE received >= $1`, [(d0 + 5 * DAY) * 1000]))[0]!.id,
    );
    await f.sql('DELETE FROM events WHERE id = $1', [victim]);
    await f.sql(
      'UPDATE chain_blocks SET days[array_position(event_ids, $2::bigint)] = $1 WHERE ops[1] = 1 AND $2::bigint = ANY(event_ids)',
      [Number(drops[0]!.day), victim],
    );
    r = await f.verify();
    assert.equal(r.code, 1);
    assert.equal(r.report.first?.kind, 'changed');
    assert.match(r.report.first?.detail ?? '', /drops 7 events of day 2026-02-10, the chain holds 8/);
  });
});

test('PostgreSQL: a schema from before the chain is upgraded: its events unchained, new ones chained', async () => {
  await withFixture(async (f) => {
    await f.store.append([makeEvent({}, T0), makeEvent({}, T0 + 1)]);
    await f.store.close();
    await f.sql(
      `DROP VIEW chain_log; DROP TABLE chain_blocks, chain_head, checkpoints; DROP FUNCTION chain_step;
       DELETE FROM vigil_migrations WHERE version = 3`,
    );
    f.store = await openPostgresStore({ url: PG_URL, schema: f.schema, poolSize: 2 });
    await f.store.append([makeEvent({}, T0 + 2)]);
    await f.checkpoint();
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.deepEqual([report.unchained, report.events, report.entries], [2, 1, 2]);
    // retention of an unchained event is no break either
    assert.equal(await f.store.deleteBefore(T0 + 1, 10), 1);
    await f.checkpoint();
    assert.equal((await f.verify()).code, 0);
  });
});

test('PostgreSQL: export verifies offline with the public key (drops included); an edited line is caught', async () => {
  await withFixture(async (f) => {
    const d0 = Date.UTC(2026, 1, 10);
    await f.store.createPartitions(d0 * 1000, (d0 + DAY) * 1000);
    await f.store.append(Array.from({ length: 6 }, (_, i) => makeEvent({}, d0 + i * 1000)));
    await fill(f);
    assert.equal(await f.store.deleteBefore(d0 + DAY, 10), 6);
    const out = path.join(f.dir, 'export.jsonl');
    const exported = await vigil(['export', '--config', f.config, '--out', out]);
    assert.equal(exported.code, 0, exported.err);
    const pub = path.join(f.dir, 'signing.pub');
    const ok = await vigil(['verify', '--file', out, '--public-key', pub]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /trail intact: 30 chain entries, 21 events, 2 checkpoints/);
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(out, 'utf8').split('\n');
    assert.ok(lines.some((l) => l.includes('"op":4') && l.includes('"day":')));
    const i = lines.findIndex((l) => l.includes('"id":12,'));
    lines[i] = lines[i]!.replace('\\"admin\\"', '\\"mallory\\"');
    writeFileSync(out, lines.join('\n'));
    const bad = await vigil(['verify', '--file', out, '--public-key', pub, '--json']);
    assert.equal(bad.code, 1);
    assert.equal((JSON.parse(bad.out) as Report).first?.kind, 'changed');
  });
});

test('PostgreSQL collectors sign checkpoints with the configured key: at start, after retention and at shutdown', async () => {
  await withFixture(async (f) => {
    const yaml = `rules: { enabled: false }\nretention: 1m\nstorage: { type: postgres, url: "${PG_URL}", schema: ${f.schema}, poolSize: 2 }\nintegrity: { signingKey: ${path.join(f.dir, 'signing.key')}, checkpointInterval: 1h }\n`;
    const now = () => T0 + 60_000 + 5_500;
    const a = await startServer(parseConfig(yaml, 'a.yaml', { listen: '127.0.0.1:0' }), { logger: false, now });
    const b = await startServer(parseConfig(yaml, 'b.yaml', { listen: '127.0.0.1:0' }), { logger: false, now });
    try {
      await a.store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, T0 + i * 1000)));
      await b.store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, T0 + 5000 + i * 1000)));
      assert.equal(await a.retention.runOnce(), 6);
      // the checkpoint of the retention step is written in the background
      await waitFor(
        'the checkpoint after retention',
        async () => (await f.sql('SELECT 1 FROM checkpoints')).length > 1,
      );
      await f.store.append([makeEvent({}, T0 + 20_000)]);
    } finally {
      await a.close();
      await b.close();
    }
    const cps = await f.sql('SELECT last_seq, count FROM checkpoints ORDER BY seq');
    // at the first start (the second finds it fresh), after the retention step, then at the first shutdown (the
    // second finds the head signed)
    assert.deepEqual(
      cps.map((c) => [Number(c.last_seq), Number(c.count)]),
      [
        [1, 0],
        [17, 4],
        [18, 5],
      ],
    );
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.unsigned, 0);
  });
});

/** Seq of the first chain block after the genesis one (where retention cut the chain: one past the cut). */
async function firstBlock(f: Fixture): Promise<number> {
  return Number((await f.sql('SELECT min(seq) AS s FROM chain_blocks WHERE seq > 1'))[0]!.s);
}

const D0 = Date.UTC(2026, 1, 10);
/** The `i`th event of day `day` after D0 (one a second from 01:00). */
const onDay = (day: number, i: number) => D0 + day * DAY + 3_600_000 + i * 1000;

/**
 * Five days with their own partitions, 10 events each (ids 1–50) appended in two blocks, a checkpoint after each day;
 * then a retention pass to the 6th event of day 3, steps of 3 with a checkpoint after each (as collectors do): days
 * 0–2 dropped, five events of day 3 deleted, the chain cut at the checkpoint after day 2 (entry 31).
 */
async function prunedFixture(f: Fixture): Promise<void> {
  await f.store.createPartitions(D0 * 1000, (D0 + 4 * DAY) * 1000);
  for (let day = 0; day < 5; day++) {
    for (const half of [0, 5])
      await f.store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, onDay(day, half + i))));
    await f.store.checkpoint(f.key);
  }
  const retention = startRetention(f.store, {
    maxAgeMs: DAY,
    stepLimit: 3,
    intervalMs: 3_600_000,
    now: () => onDay(3, 5) + DAY,
    onStep: async () => {
      await f.store.checkpoint(f.key);
    },
  });
  assert.equal(await retention.runOnce(), 30 + 5);
  await retention.stop();
}

test('PostgreSQL: retention cuts the chain prefix at a signed checkpoint; the trail still verifies, and export with it', async () => {
  // no checkpoint to cut at: nothing is cut
  await withFixture(async (f) => {
    await f.store.append([makeEvent({}, T0 - DAY)]);
    await f.store.append([makeEvent({}, T0)]);
    assert.equal(await f.store.deleteBefore(T0 - DAY + 1, 10), 1);
    assert.equal(await firstBlock(f), 2);
  });
  await withFixture(async (f) => {
    await prunedFixture(f);
    // 1 genesis + 50 inserts, 3 drops + 5 deletes: the blocks up to the checkpoint after day 2 are gone, the
    // genesis block stays
    assert.equal(await firstBlock(f), 32);
    assert.equal((await f.sql('SELECT count(*) AS n FROM chain_blocks WHERE seq = 1'))[0]!.n, '1');
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.deepEqual([report.events, report.entries, report.unsigned], [15, 59 - 31, 0]);
    // a partial walk from before the cut starts at the cut
    const since = await f.verify('--since', new Date(onDay(0, 0)).toISOString());
    assert.equal(since.code, 0, JSON.stringify(since.report));
    assert.equal(since.report.entries, 59 - 31);
    const out = path.join(f.dir, 'export.jsonl');
    const exported = await vigil(['export', '--config', f.config, '--out', out]);
    assert.equal(exported.code, 0, exported.err);
    const { readFileSync } = await import('node:fs');
    assert.match(readFileSync(out, 'utf8').split('\n')[1]!, /"type":"anchor","seq":31,/);
    const offline = await vigil(['verify', '--file', out, '--public-key', path.join(f.dir, 'signing.pub')]);
    assert.equal(offline.code, 0, offline.err);
    // more days, retention past day 4 (day 3's rest dropped) with another collector appending meanwhile: the cut
    // moves on and the trail still verifies
    const b = await openPostgresStore({ url: PG_URL, schema: f.schema, poolSize: 2 });
    try {
      await f.store.createPartitions((D0 + 5 * DAY) * 1000, (D0 + 6 * DAY) * 1000);
      await b.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, onDay(5, i))));
      await f.store.checkpoint(f.key);
      const [deleted] = await Promise.all([
        f.store.deleteBefore(onDay(4, 0), 100),
        b.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, onDay(6, i)))),
      ]);
      assert.equal(deleted, 5);
    } finally {
      await b.close();
    }
    assert.ok((await firstBlock(f)) > 32);
    const again = await f.verify();
    assert.equal(again.code, 0, JSON.stringify(again.report));
    assert.equal(again.report.events, 10 + 10);
  });
});

test('PostgreSQL: after the prefix was cut, a removed event with its entries, an event put back, one passed off as dropped, and a cut without a checkpoint are caught', async () => {
  // the live events (36–50) removed together with every entry up to the checkpoint after their inserts, as if
  // retention had cut the chain there: only the checkpoint's count still knows them
  await withFixture(async (f) => {
    await prunedFixture(f);
    const cut = Number((await f.sql('SELECT last_seq FROM checkpoints WHERE seq = 5'))[0]!.last_seq);
    await f.sql('DELETE FROM events');
    await f.sql('DELETE FROM chain_blocks WHERE seq > 1 AND seq <= $1', [cut]);
    const { code, report } = await f.verify();
    assert.equal(code, 1);
    assert.equal(report.first?.kind, 'removed', JSON.stringify(report.first));
    assert.match(report.first?.detail ?? '', /the chain counts 15 stored events, its entries vouch for 0/);
  });
  // an event a drop took (its entries cut with the prefix), put back
  await withFixture(async (f) => {
    await prunedFixture(f);
    await f.sql(
      `INSERT INTO events SELECT 3, $1, audit_id || 'x', stage, verb, level, username, namespace, workspace, cluster,
         devops, resource, subresource, name, code, status, source, groups, source_ips, search, body
       FROM events WHERE id = 45`,
      [onDay(0, 2) * 1000],
    );
    const { code, report } = await f.verify();
    assert.equal(code, 1);
    assert.deepEqual([report.first?.kind, report.first?.eventId], ['inserted', 3]);
  });
  // a live event removed and its insert entry moved to a dropped day whose other events were cut: the count
  await withFixture(async (f) => {
    await prunedFixture(f);
    await f.sql('DELETE FROM events WHERE id = 45');
    await f.sql(
      'UPDATE chain_blocks SET days[array_position(event_ids, 45::bigint)] = $1 WHERE ops[1] = 1 AND 45 = ANY(event_ids)',
      [Math.floor(onDay(0, 0) / DAY)],
    );
    const { code, report } = await f.verify();
    assert.equal(code, 1);
    assert.equal(report.first?.kind, 'removed', JSON.stringify(report.first));
    assert.match(report.first?.detail ?? '', /the chain counts 15 stored events, its entries vouch for 14/);
  });
  // entries cut where no checkpoint stands (the first block's end): the gap is named
  await withFixture(async (f) => {
    await prunedFixture(f);
    await f.sql('DELETE FROM chain_blocks WHERE seq = 32');
    const r = await vigil(['verify', '--config', f.config, '--json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as { breaks: { kind: string; detail: string }[] };
    assert.ok(
      report.breaks.some((b) => b.kind === 'removed' && b.detail === 'chain entries 2..36 are missing'),
      JSON.stringify(report.breaks.slice(0, 3)),
    );
  });
});

test('PostgreSQL: the cut keeps the entries of stored events that another collector chained out of id order', async () => {
  await withFixture(async (f) => {
    await f.store.createPartitions(D0 * 1000, (D0 + 2 * DAY) * 1000);
    await f.store.append([makeEvent({}, onDay(0, 0))]); // id 1, entry 2
    await f.store.checkpoint(f.key);
    const b = await openPostgresStore({ url: PG_URL, schema: f.schema, poolSize: 2 });
    try {
      await withAdmin(async (admin) => {
        // the first append draws ids 2–6, then waits to write day 1's partition; the second (ids 7–11) is chained first
        await admin.query('BEGIN');
        await admin.query(`LOCK TABLE "${f.schema}".events_p20260211 IN SHARE MODE`);
        const first = f.store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, onDay(1, i))));
        await waitFor('the first append to wait for the partition', async () => {
          const r = await admin.query(
            `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = 'events_p20260211' AND NOT l.granted`,
            [f.schema],
          );
          return r.rows.length > 0;
        });
        await b.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, onDay(2, i))));
        await f.store.checkpoint(f.key);
        await admin.query('COMMIT');
        await first;
      });
    } finally {
      await b.close();
    }
    await f.store.checkpoint(f.key);
    const inserts = await f.sql('SELECT seq, event_ids FROM chain_blocks WHERE seq > 2 ORDER BY seq');
    assert.deepEqual(
      inserts.map((r) => [Number(r.seq), (r.event_ids as string[]).map(Number)]),
      [
        [3, [7, 8, 9, 10, 11]],
        [8, [2, 3, 4, 5, 6]],
      ],
    );
    // day 0 dropped: the oldest stored event (2) was chained after the checkpoint at 7, but events 7–11 before it
    assert.equal(await f.store.deleteBefore(D0 + DAY, 10), 1);
    assert.equal(await firstBlock(f), 3);
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.events, 10);
  });
});

test('PostgreSQL: a late event written to a partition after retention read its ids is in the drop entry all the same', async () => {
  await withFixture(async (f) => {
    await f.store.createPartitions(D0 * 1000, (D0 + DAY) * 1000);
    await f.store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, onDay(0, i))));
    await f.store.append([makeEvent({}, onDay(1, 0))]);
    await withAdmin(async (admin) => {
      await admin.query('BEGIN');
      await admin.query(`SET LOCAL search_path TO "${f.schema}"`);
      await admin.query('SELECT 1 FROM events LIMIT 1'); // holds `events`: the retention step reads, then waits
      const step = f.store.deleteBefore(D0 + DAY, 10);
      await waitFor('the retention step to wait for its lock on events', async () => {
        const r = await admin.query(
          `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE c.oid = 'events'::regclass AND l.mode = 'AccessExclusiveLock' AND NOT l.granted`,
        );
        return r.rows.length > 0;
      });
      // an append of a late event of day 0 (its chain step as the store's), ahead of the waiting step: it already
      // holds a lock on `events` the step waits for
      const { bodyHash, OP_INSERT } = await import('../../src/integrity/chain.ts');
      const { chainStepSql, dayOf } = await import('../../src/store/postgres/chain.ts');
      const late = (
        await admin.query<{ id: string; body: string }>(
          `INSERT INTO events SELECT nextval('event_ids'), received + 100000000, audit_id || '-late', stage, verb, level,
             username, namespace, workspace, cluster, devops, resource, subresource, name, code, status, source, groups,
             source_ips, search, body FROM events WHERE id = 1 RETURNING id, body`,
        )
      ).rows[0]!;
      const receivedUs = (onDay(0, 0) + 100_000) * 1000;
      await admin.query(
        chainStepSql(
          [{ op: OP_INSERT, id: Number(late.id), day: dayOf(receivedUs), bodyHash: bodyHash(late.body) }],
          0,
        )!,
      );
      await admin.query('COMMIT');
      assert.equal(await step, 6);
    });
    const drop = (await f.sql('SELECT event_id FROM chain_log WHERE op = 4'))[0]!;
    assert.equal(Number(drop.event_id), 6);
    await f.checkpoint();
    const { code, report } = await f.verify();
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.events, 1);
  });
});
