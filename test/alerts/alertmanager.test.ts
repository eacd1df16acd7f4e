import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertmanagerReceiver, alertRecords, createAlertDispatcher } from '../../src/alerts/index.ts';
import { buildRuleSet, createRuleEngine, loadDefaultRules } from '../../src/rules/index.ts';
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

test("a KubeSphere rule's alert is named by the rule's own name, as KubeSphere names it, its Rule resource beside", async () => {
  const am = await startAlertmanager();
  const { store, cleanup } = tempAlertStore();
  const dispatcher = createAlertDispatcher({
    store,
    receivers: [alertmanagerReceiver({ name: 'am', url: am.url })],
    backoff: { initialMs: 20, factor: 1.5, maxMs: 200 },
  });
  try {
    dispatcher.start();
    // Two Rule resources with a rule of the same name: both alert on one event, and stay two alerts.
    const mine = buildRuleSet([
      {
        file: 'mine.yaml',
        text: `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: { name: my.rules, labels: { type: alerting } }
spec:
  rules:
    - { name: CreateHostnetworkPod, type: rule, enable: true, priority: WARNING, condition: 'Verb = "create"' }
`,
      },
    ]);
    const engines = [createRuleEngine({ rules: await loadDefaultRules() }), createRuleEngine({ rules: mine })];
    const event = storedEvent({
      id: '9',
      requestReceivedTimestamp: '2026-11-23T10:00:00.120000Z',
      requestObject: { kind: 'Pod', spec: { hostNetwork: true } },
    });
    const raised = engines.flatMap((e) => e.evaluate(event).alerts);
    assert.deepEqual(
      raised.map((a) => a.rule),
      ['alerting-rule.CreateHostnetworkPod', 'my.rules.CreateHostnetworkPod'],
    );
    await dispatcher.raise(alertRecords(event, raised, Date.now()));
    await waitFor('both alerts in Alertmanager', async () => (await alertsIn(am.url)).length === 2);
    const labels = (await alertsIn(am.url)).map((a) => a.labels).sort((a, b) => (a.rule_group < b.rule_group ? -1 : 1));
    assert.deepEqual(labels[0], {
      alertname: 'CreateHostnetworkPod',
      alerttype: 'auditing',
      rule_group: 'alerting-rule',
      namespace: 'demo',
      resource: 'pods',
      name: 'web-1',
      user: 'alice',
      group: '["system:authenticated","dev"]',
      verb: 'create',
      // Go's time.Time String(), as KubeSphere prints it
      requestReceivedTimestamp: '2026-11-23 10:00:00.12 +0000 UTC',
      workspace: 'team-a',
      severity: 'warning',
    });
    assert.equal(labels[1].alertname, 'CreateHostnetworkPod');
    assert.equal(labels[1].rule_group, 'my.rules');
  } finally {
    await dispatcher.stop();
    await cleanup();
    await am.stop();
  }
});
