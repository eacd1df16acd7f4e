import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { alertRecords, alertsPathFor, openSqliteAlertStore } from '../../src/alerts/index.ts';
import { alertStoreContract } from './contract.ts';
import { storedEvent, tempAlertStore } from './fixtures.ts';

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
    requestReceivedTimestamp: '2026-11-23 10:00:00 +0000 UTC',
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
  assert.deepEqual(Object.keys(bare.labels).sort(), [
    'alertname',
    'alerttype',
    'requestReceivedTimestamp',
    'severity',
    'verb',
    'workspace',
  ]);
});

alertStoreContract('sqlite', async () => {
  const { store, path, cleanup } = tempAlertStore();
  return { store, reopen: async () => openSqliteAlertStore(path), cleanup };
});

test('sqlite: alerts live beside the events in a file of their own; alerts kept in the events file move there once', async () => {
  assert.equal(alertsPathFor('/data/vigil.db'), '/data/vigil-alerts.db');
  assert.equal(alertsPathFor('/data/audit'), '/data/audit-alerts');
  assert.equal(alertsPathFor(':memory:'), ':memory:');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-move-'));
  try {
    const events = join(dir, 'vigil.db');
    // an earlier version: the alert tables in the events' file, one alert with a pending delivery
    const old = openSqliteAlertStore(events);
    const [added] = await old.add(
      alertRecords(storedEvent(), [{ rule: 'r', priority: 'WARNING', message: 'm' }], 1000),
      ['hook'],
      0,
    );
    assert.ok(added);
    await old.close();
    const moved = openSqliteAlertStore(alertsPathFor(events), events);
    const page = await moved.query({ size: 10 });
    assert.deepEqual(
      page.items.map((a) => [a.rule, a.message]),
      [['r', 'm']],
    );
    assert.equal((await moved.claimDue(Date.now() + 60_000, 10, 1000)).length, 1, 'the pending delivery moved with it');
    await moved.close();
    const check = new DatabaseSync(events, { readOnly: true });
    assert.equal(check.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE name LIKE 'alert%'`).get()?.n, 0);
    check.close();
    // opening again moves nothing twice
    const again = openSqliteAlertStore(alertsPathFor(events), events);
    assert.equal((await again.query({ size: 10 })).items.length, 1);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
