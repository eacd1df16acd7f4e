// Several collectors on one PostgreSQL: live tail across instances, jobs that run once, concurrent writers, and
// appends that survive killed backends.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/index.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { dropSchema, PG_URL, randomSchema, waitFor, withAdmin } from '../helpers/postgres.ts';
import { counts, makeEvent } from './contract.ts';

async function withCollectors(
  n: number,
  fn: (stores: PostgresStore[], schema: string, app: string) => Promise<void>,
): Promise<void> {
  const schema = randomSchema();
  const app = `vigil-test-${randomBytes(4).toString('hex')}`;
  const stores: PostgresStore[] = [];
  try {
    for (let i = 0; i < n; i++)
      stores.push(await openPostgresStore({ url: PG_URL, schema, poolSize: 3, applicationName: app }));
    await fn(stores, schema, app);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await dropSchema(schema);
  }
}

test('live tail crosses collectors: a subscriber sees batches another collector stored, once, with ids', async () => {
  await withCollectors(2, async ([a, b]) => {
    const got: StoredEvent[][] = [];
    let arrived: (() => void) | undefined;
    a!.subscribe((events) => {
      got.push(events);
      arrived?.();
    });
    await a!.listening();
    const batch = [makeEvent(), makeEvent()];
    const wait = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    await b!.append(batch);
    await Promise.race([
      wait,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no notification within 10 s')), 10_000).unref()),
    ]);
    assert.equal(got.length, 1);
    assert.deepEqual(
      got[0]!.map((e) => e.auditID),
      batch.map((e) => e.auditID),
    );
    const stored = (await a!.query({}, { sort: 'asc', size: 10 })).items;
    assert.deepEqual(got[0], stored);
    // own appends are delivered once, directly (not again through NOTIFY)
    await a!.append([makeEvent()]);
    assert.equal(got.length, 2);
    await b!.append([makeEvent()]);
    await waitFor('the third batch', async () => got.length === 3);
    assert.equal(got.flat().length, 4);
  });
});

test('runExclusive: a job runs on one collector at a time; others skip it while it runs', async () => {
  await withCollectors(2, async ([a, b]) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const first = a!.runExclusive('retention', async () => {
      started();
      await gate;
      return 'a';
    });
    await running;
    assert.deepEqual(await b!.runExclusive('retention', async () => 'b'), { ran: false });
    assert.deepEqual(await b!.runExclusive('partitions', async () => 'b'), { ran: true, value: 'b' });
    release();
    assert.deepEqual(await first, { ran: true, value: 'a' });
    assert.deepEqual(await b!.runExclusive('retention', async () => 'b'), { ran: true, value: 'b' });
    // a job that throws releases its lock too
    await assert.rejects(
      a!.runExclusive('retention', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await b!.runExclusive('retention', async () => 1), { ran: true, value: 1 });
  });
});

test('two collectors appending overlapping batches at once: no deadlock, every event stored once', async () => {
  await withCollectors(2, async ([a, b]) => {
    const events = Array.from({ length: 600 }, (_, i) => makeEvent({}, Date.now() - i));
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => {
        const store = i % 2 === 0 ? a! : b!;
        // each batch overlaps the next one by half, in the opposite order every other time
        const slice = events.slice(i * 100, i * 100 + 200);
        return store.append(i % 2 === 0 ? slice : slice.reverse());
      }),
    );
    assert.equal(
      results.reduce((n, r) => n + r.inserted, 0),
      600,
    );
    const all = await a!.query({}, { sort: 'asc', size: 1000 });
    assert.equal(all.total, 600);
    assert.equal(new Set(all.items.map((e) => e.auditID)).size, 600);
  });
});

/** Appends with retry, as a producer does: a rejected append is sent again until it succeeds. */
async function appendWithRetry(store: PostgresStore, batch: AuditEvent[], failures: { n: number }): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await store.append(batch);
      return;
    } catch (err) {
      failures.n++;
      if (attempt >= 20) throw err;
    }
  }
}

async function terminate(app: string): Promise<number> {
  return withAdmin(async (c) => {
    const r = await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
      [app],
    );
    return r.rowCount ?? 0;
  });
}

test('a backend killed in the middle of an append: the append fails cleanly, nothing half-stored, the next succeeds', async () => {
  await withCollectors(1, async ([store], schema, app) => {
    await store!.append([makeEvent()]);
    const batch = Array.from({ length: 50 }, () => makeEvent());
    // hold a lock the append needs, so that it is certainly in flight when its backend is killed
    await withAdmin(async (admin) => {
      await admin.query('BEGIN');
      await admin.query(`LOCK TABLE "${schema}".batches IN ACCESS EXCLUSIVE MODE`);
      const pending = store!.append(batch, { batchKey: 'delivery-7' });
      pending.catch(() => {});
      await waitFor('the append to wait for the lock', async () => {
        const r = await withAdmin((c) =>
          c.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [app]),
        );
        return (r.rowCount ?? 0) > 0;
      });
      assert.ok((await terminate(app)) >= 1);
      await assert.rejects(pending, /terminat/);
      await admin.query('COMMIT');
    });
    assert.equal((await store!.size()).events, 1, 'nothing of the failed batch is stored');
    assert.deepEqual(counts(await store!.append(batch, { batchKey: 'delivery-7' })), { inserted: 50, duplicates: 0 });
    assert.equal((await store!.size()).events, 51);
  });
});

test('backends killed repeatedly during a stream of appends: the producer retries and every event lands once', async () => {
  await withCollectors(2, async (stores, _schema, app) => {
    const batches = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 100 }, (_, j) => makeEvent({}, Date.now() - i * 100 - j)),
    );
    const failures = { n: 0 };
    let done = 0;
    const producer = (async () => {
      // two writers, as two collectors would be
      await Promise.all(
        [0, 1].map(async (w) => {
          for (let i = w; i < batches.length; i += 2) {
            await appendWithRetry(stores[w]!, batches[i]!, failures);
            done++;
          }
        }),
      );
    })();
    let kills = 0;
    for (const at of [5, 15, 25]) {
      await waitFor(`${at} batches`, async () => done >= at, 30_000);
      kills += await terminate(app);
    }
    await producer;
    assert.ok(kills > 0, 'backends were killed');
    const stored = await stores[0]!.query({}, { sort: 'asc', size: 5000 });
    assert.equal(stored.total, 4000);
    assert.equal(new Set(stored.items.map((e) => e.auditID)).size, 4000, 'no event stored twice');
    // the stores still work normally afterwards
    assert.deepEqual(counts(await stores[1]!.append([makeEvent()])), { inserted: 1, duplicates: 0 });
  });
});
