// KubeSphere's `notificationmanager` receiver: alerts posted in the shape notification manager reads (what
// Alertmanager's webhook sends it), from a Webhook resource as from code, checked against what a real Alertmanager
// sends and against a receiver that decodes the documented shape.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  alertmanagerReceiver,
  alertRecords,
  createAlertDispatcher,
  notificationManagerReceiver,
  receiverFor,
} from '../../src/alerts/index.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { parseWebhook } from '../../src/rules/index.ts';
import { startAlertmanager } from '../helpers/alertmanager.ts';
import { waitFor } from '../helpers/net.ts';
import { event } from '../server/fixtures.ts';
import { startTestServer } from '../server/helpers.ts';
import { storedEvent, tempAlertStore } from './fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: bodies are walked as arbitrary JSON
type Json = any;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/**
 * A stand-in for notification manager's intake (`POST /api/v2/alerts`): it decodes Alertmanager's template.Data —
 * `alerts[]` of string-to-string `labels` and `annotations` — and answers 400 to anything else, as it does.
 */
async function notificationManager(): Promise<{ url: string; alerts: Json[]; bodies: Json[]; server: Server }> {
  const alerts: Json[] = [];
  const bodies: Json[] = [];
  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    let data: Json;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    const stringMap = (m: unknown) =>
      typeof m === 'object' && m !== null && Object.values(m).every((v) => typeof v === 'string');
    const ok =
      req.method === 'POST' &&
      req.url === '/api/v2/alerts' &&
      Array.isArray(data?.alerts) &&
      data.alerts.every((a: Json) => stringMap(a.labels) && stringMap(a.annotations));
    if (!ok) {
      res.writeHead(400).end('{"Status":400,"Message":"bad request"}');
      return;
    }
    bodies.push(data);
    alerts.push(...data.alerts);
    res.writeHead(200).end('{"Status":200,"Message":"Notification request accepted"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/alerts`, alerts, bodies, server };
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

test('a notificationmanager receiver of the Webhook resource gets the alerts of the running collector', async () => {
  const nm = await notificationManager();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nm-'));
  const file = join(dir, 'webhook.yaml');
  writeFileSync(
    file,
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Webhook
metadata: {name: kube-auditing-webhook}
spec:
  receivers:
    - {name: notification, type: notificationmanager, config: {url: "${nm.url}"}}
`,
  );
  const s = await startTestServer(`rules: { enabled: true, webhook: "${file}" }\nexternalURL: http://vigil.example`);
  try {
    const pod: AuditEvent = event({
      auditID: 'nm-1',
      verb: 'create',
      requestURI: '/api/v1/namespaces/demo/pods',
      user: { username: 'mallory', groups: ['system:authenticated'] },
      objectRef: { resource: 'pods', namespace: 'demo', name: 'web-1', apiVersion: 'v1' },
      level: 'Request',
      requestObject: { kind: 'Pod', spec: { hostNetwork: true } },
      responseStatus: { metadata: {}, code: 201 },
    });
    const { source: _s, ...wire } = pod;
    const r = await s.post('/audit/webhook/event', JSON.stringify({ kind: 'EventList', items: [wire] }));
    assert.equal(r.status, 200);
    await waitFor('the alert at notification manager', () => nm.alerts.length > 0);
    assert.equal(nm.alerts.length, 1);
    const [a] = nm.alerts;
    assert.equal(a.labels.alertname, 'CreateHostnetworkPod');
    assert.equal(a.labels.alerttype, 'auditing');
    assert.equal(a.labels.namespace, 'demo');
    assert.equal(a.labels.user, 'mallory');
    assert.equal(a.annotations.message, 'mallory create HostNetwork Pod web-1 in Namespace demo.');
    assert.match(a.generatorURL, /^http:\/\/vigil\.example\/api\/v1\/events\/\d+$/);
  } finally {
    await s.stop();
    await close(nm.server);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the body is Alertmanager's own webhook payload: the same members, of the same types, as a real one sends", async () => {
  // A real Alertmanager forwards what it gets to a webhook; Vigil posts the same alert to notification manager.
  const got: Record<string, Json> = {};
  const sink = createServer(async (req, res) => {
    got[req.url ?? ''] = JSON.parse(await readBody(req));
    res.end();
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const am = await startAlertmanager(
    undefined,
    `route: {receiver: hook, group_wait: 0s, group_by: ['...']}
receivers:
  - name: hook
    webhook_configs: [{url: "${base}/from-alertmanager", send_resolved: false}]
`,
  );
  try {
    const [record] = alertRecords(
      storedEvent({ id: '5' }),
      [{ rule: 'r.Demo', name: 'Demo', group: 'r', priority: 'WARNING', message: 'alice did it' }],
      Date.now(),
    );
    const alert = { ...record, id: '1', repeats: 1 };
    await alertmanagerReceiver({ name: 'am', url: am.url, externalURL: 'http://vigil.example' }).send([alert]);
    await notificationManagerReceiver({
      name: 'hook',
      url: `${base}/from-vigil`,
      externalURL: 'http://vigil.example',
    }).send([alert]);
    await waitFor("Alertmanager's webhook", () => got['/from-alertmanager'] !== undefined, 15_000);
    const fromAm = got['/from-alertmanager'];
    const fromVigil = got['/from-vigil'];
    const shape = (v: Json): Json =>
      Array.isArray(v)
        ? v.map(shape)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [
                  k,
                  ['labels', 'annotations', 'groupLabels', 'commonLabels', 'commonAnnotations'].includes(k)
                    ? 'map'
                    : shape(v[k]),
                ]),
            )
          : typeof v;
    assert.deepEqual(shape(fromVigil), shape(fromAm));
    assert.equal(fromVigil.version, fromAm.version);
    assert.deepEqual(fromVigil.alerts[0].labels, fromAm.alerts[0].labels);
    assert.deepEqual(fromVigil.alerts[0].annotations, fromAm.alerts[0].annotations);
    assert.equal(fromVigil.alerts[0].status, 'firing');
    assert.equal(fromVigil.alerts[0].generatorURL, fromAm.alerts[0].generatorURL);
    assert.equal(fromVigil.alerts[0].endsAt, '0001-01-01T00:00:00Z');
    assert.deepEqual(fromVigil.commonLabels, fromAm.commonLabels);
  } finally {
    await am.stop();
    await close(sink);
  }
});

test('an https receiver with a caBundle trusts that CA, and only with it', async () => {
  const tls = fileURLToPath(new URL('../sinks/fixtures/tls/', import.meta.url));
  const received: Json[] = [];
  const server = createHttpsServer(
    { cert: readFileSync(join(tls, 'server.crt')), key: readFileSync(join(tls, 'server.key')) },
    async (req, res) => {
      received.push(JSON.parse(await readBody(req)));
      res.end();
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/alerts`;
  const caBundle = readFileSync(join(tls, 'ca.crt')).toString('base64');
  const webhook = parseWebhook(
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Webhook
metadata: {name: w}
spec:
  receivers:
    - {name: trusted, type: notificationmanager, config: {url: "${url}", caBundle: ${caBundle}}}
    - {name: untrusted, type: notificationmanager, config: {url: "${url}"}}
`,
    'w.yaml',
  );
  const { store, cleanup } = tempAlertStore();
  const dispatcher = createAlertDispatcher({
    store,
    receivers: webhook.receivers.map((r) => receiverFor(r, undefined)),
    backoff: { initialMs: 60_000, factor: 1, maxMs: 60_000 },
  });
  try {
    dispatcher.start();
    await dispatcher.raise(
      alertRecords(storedEvent(), [{ rule: 'r.x', name: 'x', priority: 'WARNING', message: 'm' }], Date.now()),
    );
    await waitFor('one delivered, one failed', () => dispatcher.counters.delivered + dispatcher.counters.failed === 2);
    assert.equal(dispatcher.counters.delivered, 1);
    assert.equal(received.length, 1);
    assert.equal(received[0].alerts[0].labels.alertname, 'x');
  } finally {
    await dispatcher.stop();
    await cleanup();
    await close(server as unknown as Server);
  }
});
