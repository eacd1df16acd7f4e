// The append log and the forwarding cursors, the same on both stores: entries in commit order, cursors that only move
// from where the mover saw them, retention's deletions as a counted gap, and with PostgreSQL one collector at a time
// driving a destination.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Delivery, Destination } from '../../src/forward/index.ts';
import { Forwarder, forwardMetrics, startForwarding } from '../../src/forward/index.ts';
import { Registry } from '../../src/metrics/registry.ts';
import { openPostgresStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import { waitFor } from '../helpers/net.ts';
import { dropSchema, PG_URL } from '../helpers/postgres.ts';
import { event, sqliteStore } from './helpers.ts';

/** A destination that keeps what it is sent (the forwarder's logic under test, not a protocol). */
class Kept implements Destination {
  readonly got: Delivery[] = [];
  failNext = 0;
  async send(batch: Delivery[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('down');
    }
    this.got.push(...batch);
  }
  async close(): Promise<void> {}
}

const schemas: string[] = [];
const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close().catch(() => {});
  for (const s of schemas) await dropSchema(s);
});

const kinds: [string, () => Promise<{ open: () => Promise<Store> }>][] = [
  [
    'sqlite',
    async () => {
      const s = await sqliteStore();
      opened.push(s);
      return { open: async () => s };
    },
  ],
  [
    'postgres',
    async () => {
      const schema = `vigil_forward_${Math.random().toString(36).slice(2, 10)}`;
      schemas.push(schema);
      return {
        open: async () => {
          const s = await openPostgresStore({ url: PG_URL, schema, poolSize: 4 });
          opened.push(s);
          return s;
        },
      };
    },
  ],
];

for (const [kind, make] of kinds) {
  describe(`append log: ${kind}`, () => {
    test('reads entries in commit order after a position; cursors move only from where they were seen', async () => {
      const store = await (await make()).open();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(...(await store.append([event(), event(), event()])).ids.map(String));
      const all = await store.readLog(undefined, 100);
      assert.deepEqual(
        all.entries.map((e) => e.event?.id),
        ids,
      );
      assert.equal(all.skipped, 0);
      assert.equal(all.upTo, all.head);
      const rest = await store.readLog(all.entries[3]!.position, 4);
      assert.deepEqual(
        rest.entries.map((e) => e.event?.id),
        ids.slice(4, 8),
      );
      assert.deepEqual(await store.readLog(all.head, 10), { entries: [], upTo: all.head, skipped: 0, head: all.head });

      assert.deepEqual(await store.forwardCursors(), []);
      assert.equal(await store.saveForwardCursor('a', 5, null), true);
      assert.equal(await store.saveForwardCursor('a', 6, null), false, 'created once');
      assert.equal(await store.saveForwardCursor('a', 7, 4), false, 'moved by someone else meanwhile');
      assert.equal(await store.saveForwardCursor('a', 7, 5), true);
      assert.equal(await store.saveForwardCursor('a', 2), true, 'a reset moves it whatever it was');
      const [c] = await store.forwardCursors();
      assert.equal(c!.name, 'a');
      assert.equal(c!.position, 2);
      assert.ok(Math.abs(c!.updated - Date.now()) < 60_000);
    });

    test('logPositionAt: replays from the first event received since a time', async () => {
      const store = await (await make()).open();
      const t0 = Date.now() - 3_600_000;
      await store.append([event(t0), event(t0 + 1000)]);
      const later = (await store.append([event(t0 + 10_000), event(t0 + 11_000)])).ids.map(String);
      const from = await store.logPositionAt(t0 + 5_000);
      const r = await store.readLog(from, 100);
      assert.deepEqual(
        r.entries.map((e) => e.event?.id),
        later,
      );
      assert.equal(await store.logPositionAt(Date.now() + 3_600_000), r.head, 'nothing since: the head');
    });

    test('events retention deleted before delivery are a counted gap; the rest arrives', async () => {
      const store = await (await make()).open();
      const old = Date.now() - 10 * 86_400_000;
      await store.append([event(old), event(old + 1)]);
      const kept = (await store.append([event(), event()])).ids.map(String);
      await store.deleteBefore(Date.now() - 86_400_000, 100);
      const registry = new Registry();
      const dest = new Kept();
      const f = new Forwarder(store, {
        name: 'late',
        type: 'test',
        target: 'memory',
        format: 'kubernetes',
        destination: dest,
        metrics: forwardMetrics(registry),
      });
      assert.equal(await f.step(), 'idle');
      assert.deepEqual(
        dest.got.map((d) => d.event.id),
        kept,
      );
      assert.equal(f.status().gap, 2);
      assert.match(registry.render(), /vigil_forward_gap_events_total\{destination="late"\} 2\n/);
    });

    test('a failed send is retried from the cursor: nothing lost, nothing skipped', async () => {
      const store = await (await make()).open();
      const ids = (await store.append([event(), event(), event(), event(), event()])).ids.map(String);
      const dest = new Kept();
      dest.failNext = 2;
      const f = new Forwarder(store, {
        name: 'flaky',
        type: 'test',
        target: 'memory',
        format: 'ocsf',
        destination: dest,
        batchSize: 2,
        pollMs: 10,
        minBackoffMs: 10,
      });
      f.start();
      try {
        await waitFor('every event', () => dest.got.length >= 5);
        assert.deepEqual(
          dest.got.map((d) => d.event.id),
          ids,
        );
        assert.equal(dest.got[0]!.body.class_uid, 6003);
        assert.equal(f.status().failed, 2);
      } finally {
        await f.stop();
      }
    });
  });
}

test('postgres: two collectors, one destination: one drives at a time, the other takes over when it stops', async () => {
  const pg = await kinds[1]![1]();
  const a = await pg.open();
  const b = await pg.open();
  const ids = (await a.append(Array.from({ length: 30 }, () => event()))).ids.map(String);
  const dest = new Kept();
  const opts = {
    name: 'shared',
    type: 'test',
    target: 'memory',
    format: 'kubernetes' as const,
    batchSize: 5,
    pollMs: 20,
  };
  const fa = new Forwarder(a, { ...opts, destination: dest });
  const fb = new Forwarder(b, { ...opts, destination: dest });
  fa.start();
  fb.start();
  await waitFor('the first events', () => dest.got.length >= 10);
  await fa.stop();
  ids.push(...(await b.append(Array.from({ length: 10 }, () => event()))).ids.map(String));
  await waitFor('every event', () => new Set(dest.got.map((d) => d.event.id)).size >= ids.length);
  await fb.stop();
  // at least once, in order, and a batch at most sent twice (the one in flight when the driver changed)
  const seen: string[] = [];
  for (const d of dest.got) if (!seen.includes(d.event.id)) seen.push(d.event.id);
  assert.deepEqual(seen, ids);
  assert.ok(dest.got.length - ids.length <= 5, `${dest.got.length - ids.length} duplicates`);
  assert.ok(fb.status().driving || fb.status().delivered > 0);
});

test('postgres: the status of a collector that is not driving reads the shared cursor from the store', async () => {
  const pg = await kinds[1]![1]();
  const a = await pg.open();
  const b = await pg.open();
  await a.append(Array.from({ length: 12 }, () => event()));
  const dest = new Kept();
  const fa = new Forwarder(a, {
    name: 'shared',
    type: 'test',
    target: 'memory',
    format: 'kubernetes',
    destination: dest,
  });
  assert.equal(await fa.step(), 'idle');
  // b's forwarding has done nothing itself (unreachable destination, never driven here)
  const fb = startForwarding(b, [{ type: 'syslog', name: 'shared', url: 'tcp://127.0.0.1:9' } as never], {
    pollMs: 60_000,
  });
  try {
    const [st] = await fb.report();
    assert.equal(st!.delivered, 0);
    assert.equal(st!.position, fa.status().position);
    assert.equal(st!.lagEvents, 0);
  } finally {
    await fb.stop();
    await fa.stop();
  }
});
