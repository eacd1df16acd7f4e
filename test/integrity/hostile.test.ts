// Tamper evidence against someone who can write the database (issue 15, item 2), on SQLite and PostgreSQL: an event
// edited and the chain recomputed, with all or only the newest checkpoints deleted; the newest event deleted with
// its chain entry; a rolled back database. Each must exit 1 with the reason: by the age of the unsigned tail (a
// checkpoint is signed every interval, so a missing one is evidence) and, where that cannot see it, by the external
// checkpoint log (integrity.checkpointLog, `vigil verify --checkpoints`).
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import {
  appendCheckpointLog,
  bodyHash,
  type Checkpoint,
  chainHash,
  defaultKeyPath,
  loadSigningKey,
  type SigningKey,
} from '../../src/integrity/index.ts';
import { openPostgresStore, openSqliteStore, type Store } from '../../src/store/index.ts';
import { writePostgresCheckpoint } from '../../src/store/postgres/index.ts';
import { writeSqliteCheckpoint } from '../../src/store/sqlite/index.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL, withAdmin } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/temp.ts';
import { makeEvent } from '../store/contract.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** What an attacker with write access to the database does, per store. */
interface Backend {
  name: string;
  open(dir: string): Promise<{ store: Store; storage: string; key: SigningKey }>;
  checkpoint(now: number): Promise<Checkpoint | undefined>;
  /** Edits event `id`'s stored JSON and recomputes every chain hash after it. */
  editAndRechain(id: number): Promise<void>;
  deleteCheckpoints(fromSeq: number): Promise<void>;
  /** Deletes the newest event and its chain entry (appended alone, so its entry is the last). */
  deleteNewest(): Promise<void>;
  /** Puts the database back as it was at `snapshot()` (a restored backup). */
  snapshot(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
}

function sqlite(): Backend {
  let db = '';
  let key: SigningKey;
  const run = <T>(fn: (d: DatabaseSync) => T): T => {
    const d = new DatabaseSync(db);
    try {
      return fn(d);
    } finally {
      d.close();
    }
  };
  return {
    name: 'SQLite',
    async open(dir) {
      db = path.join(dir, 'vigil.db');
      key = loadSigningKey(defaultKeyPath(db), true);
      return { store: await openSqliteStore({ path: db }), storage: `storage: { type: sqlite, path: ${db} }`, key };
    },
    checkpoint: async (now) => writeSqliteCheckpoint(db, key, { now, force: true }),
    async editAndRechain(id) {
      run((d) => {
        d.prepare(`UPDATE event_bodies SET body = replace(body, '"list"', '"delete"') WHERE id = ?`).run(id);
        const body = (d.prepare('SELECT body FROM event_bodies WHERE id = ?').get(id) as { body: string }).body;
        d.prepare('UPDATE chain_log SET body_hash = ? WHERE event_id = ? AND op = 1').run(bodyHash(body), id);
        let prev: Buffer = Buffer.alloc(32);
        for (const r of d.prepare('SELECT * FROM chain_log ORDER BY seq').all() as Record<string, never>[]) {
          prev = chainHash(prev, r.op, r.seq, r.event_id, r.body_hash);
          d.prepare('UPDATE chain_log SET hash = ? WHERE seq = ?').run(prev, r.seq);
        }
      });
    },
    deleteCheckpoints: async (fromSeq) =>
      run((d) => void d.prepare('DELETE FROM checkpoints WHERE seq >= ?').run(fromSeq)),
    async deleteNewest() {
      run((d) => {
        const { id } = d.prepare('SELECT max(id) AS id FROM events').get() as { id: number };
        d.prepare('DELETE FROM chain_log WHERE seq = (SELECT max(seq) FROM chain_log)').run();
        d.prepare('DELETE FROM event_bodies WHERE id = ?').run(id);
        d.prepare('DELETE FROM events WHERE id = ?').run(id);
      });
    },
    snapshot: async () => copyFileSync(db, `${db}.backup`),
    async rollback() {
      rmSync(`${db}-wal`, { force: true });
      rmSync(`${db}-shm`, { force: true });
      copyFileSync(`${db}.backup`, db);
    },
    close: async () => {},
  };
}

function postgres(): Backend {
  const schema = `vigil_hostile_trust_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let key: SigningKey;
  let saved: { lastSeq: number; maxId: number; head: Record<string, unknown> } | undefined;
  const sql = (text: string, values?: unknown[]) =>
    withAdmin(async (c) => {
      await c.query(`SET search_path TO "${schema}"`);
      return (await c.query(text, values)).rows as Record<string, unknown>[];
    });
  return {
    name: 'PostgreSQL',
    async open(dir) {
      key = loadSigningKey(path.join(dir, 'signing.key'), true);
      return {
        store: await openPostgresStore({ url: PG_URL, schema, poolSize: 2 }),
        storage: `storage: { type: postgres, url: "${PG_URL}", schema: ${schema} }\nintegrity: { signingKey: ${path.join(dir, 'signing.key')} }`,
        key,
      };
    },
    checkpoint: (now) => writePostgresCheckpoint({ url: PG_URL, schema }, key, { now, force: true }),
    async editAndRechain(id) {
      await sql(`UPDATE events SET body = replace(body, '"list"', '"delete"') WHERE id = $1`, [id]);
      const body = String((await sql('SELECT body FROM events WHERE id = $1', [id]))[0]!.body);
      const bodies = new Map<number, Buffer>();
      const hashes = new Map<number, Buffer>();
      let prev: Buffer = Buffer.alloc(32);
      for (const e of await sql('SELECT * FROM chain_log ORDER BY seq')) {
        const seq = Number(e.seq);
        const bh = Number(e.event_id) === id && Number(e.op) === 1 ? bodyHash(body) : (e.body_hash as Buffer);
        prev = chainHash(prev, Number(e.op), seq, Number(e.event_id), bh);
        bodies.set(seq, bh);
        hashes.set(seq, prev);
      }
      for (const b of await sql('SELECT seq, ops FROM chain_blocks')) {
        const seqs = (b.ops as number[]).map((_, i) => Number(b.seq) + i);
        await sql('UPDATE chain_blocks SET body_hashes = $1, hashes = $2 WHERE seq = $3', [
          Buffer.concat(seqs.map((q) => bodies.get(q)!)),
          Buffer.concat(seqs.map((q) => hashes.get(q)!)),
          b.seq,
        ]);
      }
      await sql('UPDATE chain_head SET hash = $1', [prev]);
    },
    deleteCheckpoints: async (fromSeq) => void (await sql('DELETE FROM checkpoints WHERE seq >= $1', [fromSeq])),
    async deleteNewest() {
      await sql('DELETE FROM events WHERE id = (SELECT max(id) FROM events)');
      await sql('DELETE FROM chain_blocks WHERE seq = (SELECT max(seq) FROM chain_blocks)');
      await sql(`UPDATE chain_head SET seq = seq - 1, count = count - 1,
                   hash = (SELECT hash FROM chain_log ORDER BY seq DESC LIMIT 1)`);
    },
    async snapshot() {
      const head = (await sql('SELECT * FROM chain_head'))[0]!;
      const maxId = Number((await sql('SELECT max(id) AS id FROM events'))[0]!.id);
      saved = { lastSeq: Number(head.seq), maxId, head };
    },
    async rollback() {
      // what a restored backup holds: nothing after the snapshot
      const s = saved!;
      await sql('DELETE FROM events WHERE id > $1', [s.maxId]);
      await sql('DELETE FROM chain_blocks WHERE seq > $1', [s.lastSeq]);
      await sql('DELETE FROM checkpoints WHERE last_seq > $1', [s.lastSeq]);
      await sql('UPDATE chain_head SET seq = $1, hash = $2, count = $3', [s.head.seq, s.head.hash, s.head.count]);
    },
    close: () => dropSchema(schema),
  };
}

interface Fixture {
  b: Backend;
  /** The checkpoint log outside the data directory. */
  log: string;
  /** Opens the store again (the attacker's changes are made with it closed). */
  reopen(): Promise<{ store: Store; key: SigningKey }>;
  /** `vigil verify --config … --json [more]`: exit code and the report. */
  verify(...more: string[]): Promise<{ code: number; first?: string; details: string[] }>;
}

/**
 * A store of three batches of events signed 40, 20 and 1 minutes ago (checkpoints 1–3, also in the log), as a
 * collector running with the default 5 minute interval leaves it; then `attack` and the checks.
 */
async function scenario(make: () => Backend, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const b = make();
  const dir = tempDir('vigil-hostile-trust-');
  const outside = tempDir('vigil-hostile-trust-log-');
  const log = path.join(outside, 'checkpoints.jsonl');
  const { store, storage, key } = await b.open(dir);
  try {
    const config = path.join(dir, 'vigil.yaml');
    writeFileSync(config, `${storage}\n`);
    const now = Date.now();
    let t = T0;
    const next = () => {
      t += 1000;
      return makeEvent({ verb: 'list' }, t);
    };
    for (const age of [40, 20, 1]) {
      await store.append(Array.from({ length: 5 }, next));
      await store.append([next()]); // alone: the batch's last chain entry
      const c = await b.checkpoint(now - age * MIN);
      assert.ok(c);
      await appendCheckpointLog(log, c, key.publicKey);
    }
    await store.close();
    const f: Fixture = {
      b,
      log,
      reopen: () => b.open(dir),
      async verify(...more) {
        const r = await vigil(['verify', '--config', config, '--json', ...more]);
        assert.ok(r.out, r.err);
        const report = JSON.parse(r.out) as { first?: { kind: string; detail: string }; breaks: { detail: string }[] };
        return {
          code: r.code,
          first: report.first && `${report.first.kind}: ${report.first.detail}`,
          details: report.breaks.map((x) => x.detail),
        };
      },
    };
    const clean = await f.verify('--checkpoints', log);
    assert.equal(clean.code, 0, clean.first);
    await fn(f);
  } finally {
    await b.close();
  }
}

for (const make of [sqlite, postgres]) {
  const name = make().name;

  test(`${name}: an edited event, the chain recomputed and every checkpoint deleted fails (with and without the log)`, async () => {
    await scenario(make, async (f) => {
      await f.b.editAndRechain(3);
      await f.b.deleteCheckpoints(1);
      const alone = await f.verify();
      assert.equal(alone.code, 1);
      assert.match(
        alone.first ?? '',
        /^removed: no checkpoint signs the chain's \d+ entries .*checkpoints were removed/,
      );
      const logged = await f.verify('--checkpoints', f.log);
      assert.equal(logged.code, 1);
      assert.ok(
        logged.details.some((d) => /checkpoint 1 of .*checkpoints\.jsonl .* is missing from the store/.test(d)),
      );
      assert.ok(logged.details.some((d) => /the chain does not pass through its head/.test(d)));
    });
  });

  test(`${name}: an edited event, the chain recomputed and only the newest checkpoint deleted fails`, async () => {
    await scenario(make, async (f) => {
      await f.b.editAndRechain(15); // in the last batch: checkpoints 1 and 2 still hold
      await f.b.deleteCheckpoints(3);
      const alone = await f.verify();
      assert.equal(alone.code, 1);
      assert.match(
        alone.first ?? '',
        /after the last checkpoint .* have waited 20m( \d+s)? for a signature.*removed/,
        alone.details.join('\n'),
      );
      const logged = await f.verify('--checkpoints', f.log);
      assert.equal(logged.code, 1);
      assert.ok(
        logged.details.some((d) => /checkpoint 3 of .* is missing from the store/.test(d)),
        logged.first,
      );
    });
  });

  test(`${name}: the newest event deleted with its chain entry fails (its checkpoint deleted too, or never signed)`, async () => {
    await scenario(make, async (f) => {
      // the newest checkpoint went with it: the rest of its batch waits unsigned since checkpoint 2
      await f.b.deleteNewest();
      await f.b.deleteCheckpoints(3);
      const alone = await f.verify();
      assert.equal(alone.code, 1);
      assert.match(alone.first ?? '', /after the last checkpoint .* have waited 20m/);
      const logged = await f.verify('--checkpoints', f.log);
      assert.equal(logged.code, 1);
      assert.ok(
        logged.details.some((d) => /checkpoint 3 of .* covers chain entries up to \d+, the chain ends at/.test(d)),
      );
    });
  });

  test(`${name}: the newest, unsigned event deleted with its chain entry fails once its tail is overdue`, async () => {
    await scenario(make, async (f) => {
      await f.b.deleteCheckpoints(3); // as if the collector had stopped 20 minutes ago without its last checkpoint
      const before = await f.verify();
      assert.match(before.first ?? '', /have waited 20m/);
      await f.b.deleteNewest();
      const alone = await f.verify();
      assert.equal(alone.code, 1);
      assert.match(
        alone.first ?? '',
        /the 5 chain entries from entry \d+ after the last checkpoint .* have waited 20m/,
      );
    });
  });

  test(`${name}: a rolled back database passes alone but fails against the checkpoint log`, async () => {
    await scenario(make, async (f) => {
      await f.b.snapshot();
      const { store, key } = await f.reopen();
      await store.append([makeEvent({ verb: 'list' }, T0 + 3_600_000)]);
      await store.close();
      await appendCheckpointLog(f.log, (await f.b.checkpoint(Date.now()))!, key.publicKey);
      await f.b.rollback();
      // what the store holds is consistent and signed a minute ago: only the external copy knows checkpoint 4
      assert.equal((await f.verify()).code, 0);
      const logged = await f.verify('--checkpoints', f.log);
      assert.equal(logged.code, 1);
      assert.match(logged.first ?? '', /checkpoint 4 of .* is missing from the store: .*rolled back/);
    });
  });
}

test('the checkpoint log: a torn last line is skipped; a bad line is an error with file:line (exit 2)', async () => {
  const dir = tempDir('vigil-hostile-trust-');
  const log = path.join(dir, 'cp.jsonl');
  writeFileSync(path.join(dir, 'vigil.yaml'), `storage: { type: sqlite, path: ${path.join(dir, 'vigil.db')} }\n`);
  const store = await openSqliteStore({ path: path.join(dir, 'vigil.db') });
  await store.append([makeEvent({}, T0)]);
  await store.close();
  const key = loadSigningKey(defaultKeyPath(path.join(dir, 'vigil.db')), true);
  const c = writeSqliteCheckpoint(path.join(dir, 'vigil.db'), key)!;
  await appendCheckpointLog(log, c, key.publicKey);
  writeFileSync(log, `${readFileSync(log, 'utf8')}{"type":"checkpoint","seq":2,"at":`); // a crash mid-append
  let r = await vigil(['verify', '--config', path.join(dir, 'vigil.yaml'), '--checkpoints', log]);
  assert.equal(r.code, 0, r.err);
  await appendCheckpointLog(
    log,
    writeSqliteCheckpoint(path.join(dir, 'vigil.db'), key, { force: true })!,
    key.publicKey,
  );
  r = await vigil(['verify', '--config', path.join(dir, 'vigil.yaml'), '--checkpoints', log]);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"type":"checkpoint","seq":2,"at":1')).length,
    1,
  );
  writeFileSync(log, `${readFileSync(log, 'utf8')}{"type":"checkpoint","seq":3}\n`);
  r = await vigil(['verify', '--config', path.join(dir, 'vigil.yaml'), '--checkpoints', log]);
  assert.equal(r.code, 2);
  assert.match(r.err, /cp\.jsonl:5: head is not 64 hex digits/);
});

test('vigil import signs what it stored, so verify does not later read its tail as an overdue one', async () => {
  const dir = tempDir('vigil-hostile-trust-');
  const file = path.join(dir, 'audit.log');
  writeFileSync(
    file,
    `${Array.from({ length: 3 }, (_, i) => JSON.stringify({ ...makeEvent({ verb: 'create' }, T0 + i), kind: 'Event', apiVersion: 'audit.k8s.io/v1' })).join('\n')}\n`,
  );
  const r = await vigil(['import', '--data', dir, file]);
  assert.equal(r.code, 0, r.err);
  const d = new DatabaseSync(path.join(dir, 'vigil.db'), { readOnly: true });
  const head = (d.prepare('SELECT max(seq) AS s FROM chain_log').get() as { s: number }).s;
  const signed = (d.prepare('SELECT max(last_seq) AS s FROM checkpoints').get() as { s: number }).s;
  d.close();
  assert.equal(signed, head);
  const v = await vigil(['verify', '--data', dir, '--json']);
  assert.equal(v.code, 0, v.out);
  assert.equal((JSON.parse(v.out) as { unsigned: number }).unsigned, 0);
});
