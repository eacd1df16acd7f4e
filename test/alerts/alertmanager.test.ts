import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertmanagerReceiver, alertRecords, createAlertDispatcher } from '../../src/alerts/index.ts';
import { startAlertmanager } from '../helpers/alertmanager.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { storedEvent, tempAlertStore } from './fixtures.ts';

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorURL?: string;
}

async function alertsIn(url: string): Promise<AmAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts`);
  assert.equal(res.status, 200);
  return (await res.json()) as AmAlert[];
}

test('a raised alert reaches a real Alertmanager exactly once, with KubeSphere labels', async () => {
  const am = await startAlertmanager();
  const { store, cleanup } = tempAlertStore();
  const dispatcher = createAlertDispatcher({
    store,
    receivers: [alertmanagerReceiver({ name: 'am', url: am.url, externalURL: 'http://vigil.example:8080' })],
    backoff: { initialMs: 20, factor: 1.5, maxMs: 200 },
  });
  try {
    dispatcher.start();
    const event = storedEvent({ id: '7' });
    const records = alertRecords(
      event,
      [{ rule: 'CreateHostNetworkPod', priority: 'WARNING', message: 'msg' }],
      Date.now(),
    );
    await dispatcher.raise(records);
    // A retried ingest raises the same alert again: it must not be sent twice.
    await dispatcher.raise(records);
    await waitFor('the alert in Alertmanager', async () => (await alertsIn(am.url)).length > 0);
    await waitFor('no delivery pending', async () => (await store.nextDue()) === undefined);
    const alerts = await alertsIn(am.url);
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0].labels, records[0].labels);
    assert.equal(alerts[0].labels.alertname, 'CreateHostNetworkPod');
    assert.equal(alerts[0].labels.alerttype, 'auditing');
    assert.equal(alerts[0].labels.severity, 'warning');
    assert.equal(alerts[0].annotations.message, 'msg');
    assert.equal(alerts[0].generatorURL, 'http://vigil.example:8080/api/v1/events/7');
    assert.equal(dispatcher.counters.delivered, 1);
  } finally {
    await dispatcher.stop();
    await cleanup();
    await am.stop();
  }
});

test('an alert sent while Alertmanager is down arrives after it comes back', async () => {
  const port = await freePort();
  const { store, cleanup } = tempAlertStore();
  const dispatcher = createAlertDispatcher({
    store,
    receivers: [alertmanagerReceiver({ name: 'am', url: `http://127.0.0.1:${port}` })],
    backoff: { initialMs: 50, factor: 1.5, maxMs: 300 },
  });
  let am: Awaited<ReturnType<typeof startAlertmanager>> | undefined;
  try {
    dispatcher.start();
    await dispatcher.raise(
      alertRecords(storedEvent(), [{ rule: 'DeleteSecret', priority: 'WARNING', message: 'gone' }], Date.now()),
    );
    await waitFor('a failed attempt', () => dispatcher.counters.failed > 0);
    am = await startAlertmanager(port);
    const url = am.url;
    await waitFor('the alert in Alertmanager', async () => (await alertsIn(url)).length === 1, 15_000);
    assert.equal((await alertsIn(url))[0].labels.alertname, 'DeleteSecret');
  } finally {
    await dispatcher.stop();
    await cleanup();
    await am?.stop();
  }
});
