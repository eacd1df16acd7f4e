import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertRecords, openSqliteAlertStore } from '../../src/alerts/index.ts';
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

alertStoreContract('sqlite', async () => {
  const { store, path, cleanup } = tempAlertStore();
  return { store, reopen: async () => openSqliteAlertStore(path), cleanup };
});
