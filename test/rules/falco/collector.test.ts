// Falco's ruleset in the running collector: events it fires on are stored with the rules recorded on them, and
// its alerts reach every receiver — Alertmanager-style webhooks as before, and a `falco` receiver posting Falco's
// own JSON alert, the body falcosidekick takes.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { falcoAlertJson } from '../../../src/alerts/index.ts';
import { FALCO_RULES_ANNOTATION } from '../../../src/rules/index.ts';
import { waitFor } from '../../helpers/net.ts';
import { startTestServer, type TestServer } from '../../server/helpers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/falco/${name}`, import.meta.url));
const lines = readFileSync(fixture('k8saudit-events.jsonl'), 'utf8').trim().split('\n');
/** Events of the fixture by 1-based line. */
const line = (n: number) => JSON.parse(lines[n - 1]) as Record<string, unknown>;

describe("Falco's ruleset in the collector", () => {
  let s: TestServer;
  let sidekick: Server;
  let rulesDir: string;
  const posts: { type: string; body: string }[] = [];
  before(async () => {
    sidekick = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        posts.push({ type: String(req.headers['content-type']), body });
        res.end();
      });
    });
    await new Promise<void>((r) => sidekick.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(sidekick.address() as AddressInfo).port}/`;
    rulesDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-falco-rules-'));
    copyFileSync(fixture('k8s_audit_rules.yaml'), path.join(rulesDir, 'k8s_audit_rules.yaml'));
    s = await startTestServer(
      [
        'rules:',
        `  dir: "${rulesDir}"`,
        '  falco: { minimumPriority: warning }',
        'receivers:',
        `  - { name: sidekick, type: falco, url: "${url}" }`,
      ].join('\n'),
    );
  });
  after(async () => {
    await s.stop();
    await new Promise((r) => sidekick.close(r));
    rmSync(rulesDir, { recursive: true, force: true });
  });

  test('a privileged pod: stored with the rule recorded, alerted in Falco JSON; an unflagged event is not stored', async () => {
    const privileged = line(23); // create_nginx_pod_privileged.json
    const unprivileged = line(27); // create_nginx_pod_unprivileged.json
    const r = await s.post(
      '/audit/webhook/event',
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [privileged, unprivileged] }),
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const stored = (await s.get(`/api/v1/events?audit_id_filter=${privileged.auditID},${unprivileged.auditID}`))
      .body as { items: { auditID: string; annotations: Record<string, string> }[] };
    assert.deepEqual(
      stored.items.map((e) => e.auditID),
      [privileged.auditID],
    );
    const recorded = JSON.parse(stored.items[0].annotations[FALCO_RULES_ANNOTATION]);
    assert.deepEqual(recorded, [{ rule: 'Create Privileged Pod', priority: 'Warning' }]);
    await waitFor('the alert at the falco receiver', () => posts.length > 0);
    assert.equal(posts.length, 1);
    assert.equal(posts[0].type, 'application/json');
    const alert = JSON.parse(posts[0].body);
    assert.deepEqual(Object.keys(alert), [
      'time',
      'rule',
      'priority',
      'output',
      'output_fields',
      'source',
      'tags',
      'hostname',
    ]);
    assert.equal(alert.rule, 'Create Privileged Pod');
    assert.equal(alert.priority, 'Warning');
    assert.equal(alert.source, 'k8s_audit');
    assert.deepEqual(alert.tags, ['k8s']);
    assert.equal(alert.hostname, os.hostname());
    assert.equal(alert.time, '2018-10-25T14:09:12.581541000Z');
    assert.match(
      alert.output,
      /^14:09:12\.581541000: Warning Pod started with privileged container \(user=system:serviceaccount:kube-system:replicaset-controller pod=nginx-deployment-5cdcc99dbf-rgw6z /,
    );
    assert.equal(alert.output_fields['ka.req.pod.containers.image'][0], 'nginx');
    assert.equal(alert.output_fields['ka.req.pod.initContainers.image'], null);
    // evt.time is Falco's integer nanoseconds, exact.
    assert.match(posts[0].body, /"evt\.time":1540476552581541000[,}]/);
  });

  test("any alert speaks Falco's JSON to a falco receiver: a KubeSphere rule's is described from its labels", () => {
    const body = JSON.parse(
      falcoAlertJson(
        {
          id: '1',
          createdAt: 0,
          rule: 'alerting-rule.CreateHostnetworkPod',
          priority: 'WARNING',
          message: 'alice create HostNetwork Pod web in Namespace demo.',
          eventId: 'e1',
          auditID: 'a1',
          labels: { alertname: 'alerting-rule.CreateHostnetworkPod', user: 'alice', verb: 'create', namespace: 'demo' },
          annotations: { message: 'm', auditID: 'a1', requestReceivedTimestamp: '2020-06-12T09:23:28.359896Z' },
          fingerprint: 'f',
          repeats: 0,
        },
        'h',
      ),
    );
    assert.deepEqual(body, {
      time: '2020-06-12T09:23:28.359896000Z',
      rule: 'alerting-rule.CreateHostnetworkPod',
      priority: 'Warning',
      output: '09:23:28.359896000: Warning alice create HostNetwork Pod web in Namespace demo.',
      output_fields: {
        'ka.user.name': 'alice',
        'ka.verb': 'create',
        'ka.target.resource': null,
        'ka.target.namespace': 'demo',
        'ka.target.name': null,
        'ka.auditid': 'a1',
      },
      source: 'k8s_audit',
      tags: [],
      hostname: 'h',
    });
  });
});
