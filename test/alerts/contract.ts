// The AlertStore contract, run against every implementation (SQLite, PostgreSQL).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AlertStore, alertRecords } from '../../src/alerts/index.ts';
import { storedEvent } from './fixtures.ts';

const HOUR = 3_600_000;

export interface OpenedAlertStore {
  store: AlertStore;
  /** Another handle on the same data (a restart, or a second collector). */
  reopen(): Promise<AlertStore>;
  cleanup(): Promise<void>;
}

export function alertStoreContract(name: string, open: () => Promise<OpenedAlertStore>): void {
  test(`${name}: adding is idempotent per (auditID, stage, rule) and creates one delivery per receiver`, async () => {
    const { store, cleanup } = await open();
    try {
      const recs = alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'm' }], 1000);
      const first = await store.add(recs, ['am', 'hook'], 60_000);
      assert.equal(first.length, 1);
      // what add answers is what the store holds
      assert.deepEqual(first, (await store.query({ size: 10 })).items);
      assert.deepEqual(await store.add(recs, ['am', 'hook'], 60_000), []);
      const due = await store.claimDue(1000, 10, 30_000);
      assert.deepEqual(due.map((d) => d.receiver).sort(), ['am', 'hook']);
      assert.equal(due[0].alert.id, first[0].id);
      // Leased: a second claim before the lease ends gets nothing.
      assert.deepEqual(await store.claimDue(1000, 10, 30_000), []);
      await store.delivered(due.map((d) => d.id));
      assert.equal(await store.nextDue(), undefined);
    } finally {
      await cleanup();
    }
  });

  test(`${name}: identical alerts within the group window are kept but sent once`, async () => {
    const { store, cleanup } = await open();
    try {
      const raise = (auditID: string, at: number) =>
        store.add(
          alertRecords(storedEvent({ auditID }), [{ rule: 'R', priority: 'WARNING', message: 'm' }], at),
          ['am'],
          60_000,
        );
      const [a] = await raise('e1', 1000);
      const [b] = await raise('e2', 20_000);
      const [c] = await raise('e3', 100_000); // outside the window: a new group
      assert.equal(a.groupedWith, undefined);
      assert.equal(b.groupedWith, a.id);
      assert.equal(c.groupedWith, undefined);
      const due = await store.claimDue(200_000, 10, 1000);
      assert.deepEqual(due.map((d) => d.alert.id).sort(), [a.id, c.id].sort());
      assert.equal(due.find((d) => d.alert.id === a.id)?.alert.repeats, 1);
      const all = await store.query({ size: 10 });
      assert.equal(all.total, 3);
      assert.deepEqual(
        all.items.find((x) => x.id === b.id),
        b,
      );
    } finally {
      await cleanup();
    }
  });

  test(`${name}: a failed delivery is due again at the given time; old ones expire`, async () => {
    const { store, cleanup } = await open();
    try {
      await store.add(alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'm' }], 0), ['am'], 1);
      const [d] = await store.claimDue(0, 10, 1000);
      await store.failed(d.id, 5000, 'connection refused');
      assert.equal(await store.nextDue(), 5000);
      assert.deepEqual(await store.claimDue(4999, 10, 1000), []);
      const [again] = await store.claimDue(5000, 10, 1000);
      assert.equal(again.attempts, 1);
      await store.failed(again.id, 9000, 'still down');
      assert.equal(await store.expire(1), 1);
      assert.equal(await store.nextDue(), undefined);
      // The alert itself stays queryable.
      assert.equal((await store.query({ size: 10 })).total, 1);
    } finally {
      await cleanup();
    }
  });

  test(`${name}: queries filter by rule, time and event, and a tenant scope hides other tenants alerts`, async () => {
    const { store, cleanup } = await open();
    try {
      await store.add(
        alertRecords(storedEvent({ id: '1', auditID: 'x1' }), [{ rule: 'A', priority: 'WARNING', message: '' }], 10),
        [],
        1,
      );
      await store.add(
        alertRecords(
          storedEvent({
            id: '2',
            auditID: 'x2',
            workspace: 'team-b',
            objectRef: { resource: 'pods', namespace: 'other' },
          }),
          [{ rule: 'B', priority: 'INFO', message: '' }],
          20,
        ),
        [],
        1,
      );
      assert.deepEqual(
        (await store.query({ size: 10, rule: ['B'] })).items.map((a) => a.eventId),
        ['2'],
      );
      assert.deepEqual(
        (await store.query({ size: 10, start: 15 })).items.map((a) => a.eventId),
        ['2'],
      );
      assert.deepEqual(
        (await store.query({ size: 10, eventId: '1' })).items.map((a) => a.rule),
        ['A'],
      );
      assert.deepEqual(
        (await store.query({ size: 10, scope: { workspaces: ['team-a'], namespaces: [] } })).items.map((a) => a.rule),
        ['A'],
      );
      assert.deepEqual(
        (await store.query({ size: 10, scope: { workspaces: [], namespaces: ['other'] } })).items.map((a) => a.rule),
        ['B'],
      );
      assert.equal((await store.query({ size: 10, scope: { workspaces: [], namespaces: [] } })).total, 0);
      assert.deepEqual(
        (await store.query({ size: 10, sort: 'asc' })).items.map((a) => a.rule),
        ['A', 'B'],
      );
    } finally {
      await cleanup();
    }
  });

  test(`${name}: pending deliveries survive reopening the database`, async () => {
    const { store, reopen, cleanup } = await open();
    try {
      await store.add(alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'm' }], HOUR), ['am'], 1);
      const reopened = await reopen();
      const due = await reopened.claimDue(HOUR, 10, 1000);
      assert.equal(due.length, 1);
      await reopened.close();
    } finally {
      await cleanup();
    }
  });

  test(`${name}: two handles adding the same alerts store them once; their claims never overlap`, async () => {
    const { store, reopen, cleanup } = await open();
    const other = await reopen();
    try {
      const recs = Array.from({ length: 40 }, (_, i) =>
        alertRecords(storedEvent({ auditID: `c${i}` }), [{ rule: `R${i}`, priority: 'WARNING', message: 'm' }], 1000),
      ).flat();
      const [x, y] = await Promise.all([store.add(recs, ['am'], 60_000), other.add(recs, ['am'], 60_000)]);
      assert.equal(x.length + y.length, 40, 'each alert added by exactly one handle');
      assert.equal((await other.query({ size: 100 })).total, 40);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).claimDue(2000, 7, 60_000)),
      );
      const ids = claims.flat().map((d) => d.id);
      assert.equal(new Set(ids).size, ids.length, 'no delivery claimed twice');
      assert.equal(ids.length, 40);
      assert.deepEqual(await store.claimDue(2000, 100, 60_000), []);
    } finally {
      await other.close();
      await cleanup();
    }
  });
}
