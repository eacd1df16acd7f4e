import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertRecords, openSqliteAlertStore } from '../../src/alerts/index.ts';
import { storedEvent, tempAlertStore } from './fixtures.ts';

const HOUR = 3_600_000;

test('alert records carry KubeSphere labels and the rendered message', () => {
  const [r] = alertRecords(
    storedEvent(),
    [{ rule: 'CreateHostNetworkPod', priority: 'WARNING', message: 'alice create a pod' }],
    1000,
  );
  assert.deepEqual(r.labels, {
    alertname: 'CreateHostNetworkPod',
    alerttype: 'auditing',
    namespace: 'demo',
    resource: 'pods',
    name: 'web-1',
    user: 'alice',
    group: '["system:authenticated","dev"]',
    verb: 'create',
    workspace: 'team-a',
    severity: 'warning',
  });
  assert.equal(r.annotations.message, 'alice create a pod');
  assert.equal(r.key, 'a1b2c3/ResponseComplete/CreateHostNetworkPod');
  // Labels that are empty are left out rather than sent empty.
  const [bare] = alertRecords(
    storedEvent({ objectRef: undefined, user: {} }),
    [{ rule: 'r', priority: 'INFO', message: '' }],
    1,
  );
  assert.deepEqual(Object.keys(bare.labels).sort(), ['alertname', 'alerttype', 'severity', 'verb', 'workspace']);
});

test('adding is idempotent per (auditID, stage, rule) and creates one delivery per receiver', async () => {
  const { store, cleanup } = tempAlertStore();
  try {
    const recs = alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'm' }], 1000);
    const first = await store.add(recs, ['am', 'hook'], 60_000);
    assert.equal(first.length, 1);
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

test('identical alerts within the group window are kept but sent once', async () => {
  const { store, cleanup } = tempAlertStore();
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
  } finally {
    await cleanup();
  }
});

test('a failed delivery is due again at the given time; old ones expire', async () => {
  const { store, cleanup } = tempAlertStore();
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

test('queries filter by rule, time and event, and a tenant scope hides other tenants alerts', async () => {
  const { store, cleanup } = tempAlertStore();
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

test('pending deliveries survive reopening the database', async () => {
  const { store, path, cleanup } = tempAlertStore();
  try {
    await store.add(alertRecords(storedEvent(), [{ rule: 'R', priority: 'WARNING', message: 'm' }], HOUR), ['am'], 1);
    const reopened = openSqliteAlertStore(path);
    const due = await reopened.claimDue(HOUR, 10, 1000);
    assert.equal(due.length, 1);
    await reopened.close();
  } finally {
    await cleanup();
  }
});
