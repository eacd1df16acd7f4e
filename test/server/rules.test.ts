// Rules and alerts in the running collector: what is stored, what alerts, where alerts go.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { startAlertmanager } from '../helpers/alertmanager.ts';
import { waitFor } from '../helpers/net.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };

function hostNetworkPod(auditID: string, namespace = 'demo'): AuditEvent {
  return event({
    auditID,
    verb: 'create',
    requestURI: `/api/v1/namespaces/${namespace}/pods`,
    user: { username: 'mallory', groups: ['system:authenticated'] },
    objectRef: { resource: 'pods', namespace, name: `web-${auditID}`, apiVersion: 'v1' },
    level: 'Request',
    requestObject: { kind: 'Pod', spec: { hostNetwork: true, containers: [{ name: 'c', image: 'nginx' }] } },
    responseStatus: { metadata: {}, code: 201 },
  });
}

const eventList = (items: AuditEvent[]) =>
  JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: items.map(({ source: _s, ...e }) => e) });

describe('the shipped KubeSphere rules decide what the collector keeps', () => {
  let s: TestServer;
  let hook: Server;
  const received: { headers: Record<string, unknown>; body: { items: { rule: string; message: string }[] } }[] = [];
  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(body) });
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    s = await startTestServer(
      [
        'rules:',
        '  enabled: true',
        'receivers:',
        `  - { name: hook, type: webhook, url: "${url}", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }`,
        'workspaces: { ws-a: [demo], ws-b: [other] }',
        'auth:',
        '  tokens:',
        '    - { name: ops, token: ops-token, role: admin }',
        '    - { name: team-a, token: a-token, role: tenant, workspaces: [ws-a] }',
        '    - { name: team-b, token: b-token, role: tenant, workspaces: [ws-b] }',
        '    - { name: sender, token: ingest-token, role: ingest }',
      ].join('\n'),
    );
  });
  after(async () => {
    await s.stop();
    await new Promise((r) => hook.close(r));
  });

  const ingest = (items: AuditEvent[]) =>
    s.post('/audit/webhook/event', eventList(items), { ...JSON_HEADERS, authorization: 'Bearer ingest-token' });

  test('reads are ignored, changes are archived, and the answer says so', async () => {
    const r = await ingest([
      event({ auditID: 'r-get', verb: 'get', objectRef: { resource: 'pods', namespace: 'demo', name: 'x' } }),
      event({ auditID: 'r-list', verb: 'list' }),
      event({ auditID: 'r-watch', verb: 'watch' }),
      event({ auditID: 'r-delete', verb: 'delete', objectRef: { resource: 'pods', namespace: 'demo', name: 'x' } }),
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { accepted: 4, inserted: 1, duplicates: 0, ignored: 3 });
    const list = await s.get('/api/v1/events?audit_id_filter=r-get,r-list,r-watch,r-delete', 'ops-token');
    const ids = (list.body as { items: AuditEvent[] }).items.map((e) => e.auditID);
    assert.deepEqual(ids, ['r-delete']);
    const metrics = (await s.get('/metrics')).body as string;
    assert.match(metrics, /vigil_rules_ignored_total\{path="kubernetes"\} 3/);
  });

  test('a hostNetwork pod raises one alert, stored and delivered, signed, to the webhook receiver', async () => {
    const pod = hostNetworkPod('alert-1');
    assert.equal((await ingest([pod])).status, 200);
    // A retried batch stores nothing new and raises nothing new.
    assert.equal((await ingest([pod])).status, 200);
    await waitFor('the alert at the receiver', () => received.length > 0);
    const items = received.flatMap((r) => r.body.items);
    assert.equal(items.length, 1);
    assert.equal(items[0]!.rule, 'alerting-rule.CreateHostnetworkPod');
    assert.equal(items[0]!.message, 'mallory create HostNetwork Pod web-alert-1 in Namespace demo.');
    assert.ok(received[0]!.headers['webhook-signature']);

    const alerts = (await s.get('/api/v1/alerts', 'ops-token')).body as {
      total: number;
      items: { rule: string; eventId: string; labels: Record<string, string> }[];
    };
    assert.equal(alerts.total, 1);
    assert.equal(alerts.items[0]!.rule, 'alerting-rule.CreateHostnetworkPod');
    assert.equal(alerts.items[0]!.labels.alertname, 'CreateHostnetworkPod');
    assert.equal(alerts.items[0]!.labels.rule_group, 'alerting-rule');
    assert.equal(alerts.items[0]!.labels.severity, 'warning');
    const stored = (await s.get(`/api/v1/events/${alerts.items[0]!.eventId}`, 'ops-token')).body as AuditEvent;
    assert.equal(stored.auditID, 'alert-1');
    const byEvent = (await s.get(`/api/v1/alerts?event_id=${alerts.items[0]!.eventId}`, 'ops-token')).body as {
      total: number;
    };
    assert.equal(byEvent.total, 1);
  });

  test('a tenant sees the alerts of its own workspace only', async () => {
    assert.equal((await ingest([hostNetworkPod('alert-b', 'other')])).status, 200);
    const a = (await s.get('/api/v1/alerts', 'a-token')).body as { items: { auditID: string }[] };
    const b = (await s.get('/api/v1/alerts', 'b-token')).body as { items: { auditID: string }[] };
    assert.deepEqual(
      a.items.map((x) => x.auditID),
      ['alert-1'],
    );
    assert.deepEqual(
      b.items.map((x) => x.auditID),
      ['alert-b'],
    );
    assert.equal((await s.get('/api/v1/alerts', 'ingest-token')).status, 403);
    assert.equal((await s.get('/api/v1/alerts')).status, 401);
    const bad = await s.get('/api/v1/alerts?size=0', 'ops-token');
    assert.equal(bad.status, 400);
  });
});

describe('rules from a folder, reloaded on change', () => {
  const rule = (resource: string) => `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: { name: custom, labels: { type: archiving } }
spec:
  rules:
    - { name: keep, type: rule, enable: true, priority: INFO, condition: 'ObjectRef.Resource = "${resource}"' }
`;
  let s: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-rules-dir-'));
    writeFileSync(path.join(dir, 'custom.yaml'), rule('secrets'));
    s = await startTestServer(`rules: { enabled: true, dir: "${dir}" }`);
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  const stored = async (resource: string) => {
    const auditID = `${resource}-${n++}`;
    const e = event({ auditID, verb: 'get', objectRef: { resource, namespace: 'default', name: 'x' } });
    assert.equal((await s.post('/audit/webhook/event', eventList([e]), JSON_HEADERS)).status, 200);
    const found = (await s.get(`/api/v1/events?audit_id_filter=${auditID}`)).body as { total: number };
    return found.total === 1;
  };

  test("only what the folder's rules archive is stored; an edit takes effect without a restart", async () => {
    assert.equal(await stored('secrets'), true);
    assert.equal(await stored('configmaps'), false);
    writeFileSync(path.join(dir, 'custom.yaml'), rule('configmaps'));
    await waitFor('the edited rules to be in force', () => stored('configmaps'));
    assert.equal(await stored('secrets'), false);
  });

  test('a file that does not load leaves the last good rules in force', async () => {
    writeFileSync(path.join(dir, 'custom.yaml'), rule('configmaps').replace('= "configmaps"', 'AND'));
    writeFileSync(path.join(dir, 'other.yaml'), rule('secrets').replace('name: custom', 'name: other'));
    // The folder as a whole does not load, so neither file's change applies: configmaps still, secrets not.
    for (let i = 0; i < 5; i++) assert.equal(await stored('configmaps'), true);
    assert.equal(await stored('secrets'), false);
  });
});

describe('alerts reach a real Alertmanager from the running collector', () => {
  test('one matching event gives exactly one alert with KubeSphere labels', async () => {
    const am = await startAlertmanager();
    const s = await startTestServer(
      [
        'rules: { enabled: true }',
        'receivers:',
        `  - { name: am, type: alertmanager, url: "${am.url}" }`,
        'externalURL: http://vigil.example',
      ].join('\n'),
    );
    try {
      const r = await s.post('/audit/webhook/event', eventList([hostNetworkPod('am-1')]), JSON_HEADERS);
      assert.equal(r.status, 200);
      const fetchAlerts = async () =>
        (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as {
          labels: Record<string, string>;
          annotations: Record<string, string>;
          generatorURL: string;
        }[];
      await waitFor('the alert in Alertmanager', async () => (await fetchAlerts()).length > 0);
      const alerts = await fetchAlerts();
      assert.equal(alerts.length, 1);
      assert.deepEqual(alerts[0]!.labels, {
        alertname: 'CreateHostnetworkPod',
        alerttype: 'auditing',
        rule_group: 'alerting-rule',
        namespace: 'demo',
        resource: 'pods',
        name: 'web-am-1',
        user: 'mallory',
        group: '["system:authenticated"]',
        verb: 'create',
        requestReceivedTimestamp: alerts[0]!.labels.requestReceivedTimestamp!,
        severity: 'warning',
      });
      assert.match(alerts[0]!.labels.requestReceivedTimestamp!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
      assert.equal(alerts[0]!.annotations.message, 'mallory create HostNetwork Pod web-am-1 in Namespace demo.');
      assert.match(alerts[0]!.generatorURL, /^http:\/\/vigil\.example\/api\/v1\/events\/\d+$/);
    } finally {
      await s.stop();
      await am.stop();
    }
  });
});
