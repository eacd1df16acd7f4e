// Several clusters in one collector: where an event's cluster comes from (the caller's token or client certificate
// binding first, then the event's own KubeSphere `Cluster`, then `vigil ship --cluster`), KubeSphere's multi-cluster
// path, tenants limited to clusters on every endpoint, and rules on the cluster (KubeSphere's `Cluster`, Falco's
// `ka.cluster.name`) with the rules that matched filterable (`rule_filter`).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sseEvents } from '../../src/cli/tail.ts';
import { loadConfig, parseConfig } from '../../src/config/index.ts';
import { type AuditEvent, formatKubernetesJSON } from '../../src/event/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { Shipper } from '../../src/ship/agent.ts';
import { readTarget } from '../../src/ship/target.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { Pki } from '../helpers/pki.ts';
import { event } from './fixtures.ts';
import { startTestServer, type TestServer, until } from './helpers.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ ...JSON_HEADERS, authorization: `Bearer ${token}` });

const eventList = (items: AuditEvent[]) =>
  JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: items.map(({ source: _s, ...e }) => e) });

/** KubeSphere's kube-auditing webhook batch: PascalCase members, `Cluster` set on member clusters. */
function kubesphereBatch(items: { auditID: string; cluster?: string; namespace?: string }[]): string {
  return JSON.stringify({
    Items: items.map((i) => ({
      ...(i.cluster && { Cluster: i.cluster }),
      Level: 'Metadata',
      AuditID: i.auditID,
      Stage: 'ResponseComplete',
      RequestURI: `/api/v1/namespaces/${i.namespace ?? 'default'}/pods`,
      Verb: 'create',
      User: { username: 'alice', groups: ['system:authenticated'] },
      SourceIPs: ['10.0.0.1'],
      ObjectRef: { Resource: 'pods', Namespace: i.namespace ?? 'default', Name: `p-${i.auditID}` },
      ResponseStatus: { code: 201 },
      RequestReceivedTimestamp: '2024-05-01T10:00:00.000000Z',
      StageTimestamp: '2024-05-01T10:00:00.100000Z',
    })),
  });
}

/** A create of a privileged pod: KubeSphere's and Falco's rules below both flag it. */
function privilegedPod(auditID: string, namespace = 'ns-a'): AuditEvent {
  return event({
    auditID,
    verb: 'create',
    level: 'RequestResponse',
    requestURI: `/api/v1/namespaces/${namespace}/pods`,
    objectRef: { resource: 'pods', namespace, name: `p-${auditID}`, apiVersion: 'v1' },
    requestObject: {
      kind: 'Pod',
      spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] },
    },
    responseStatus: { metadata: {}, code: 201 },
  });
}

const AUTH = `
auth:
  rateLimit: { ingestPerSecond: 0, queryPerSecond: 0 }
  tokens:
    - { name: ops, token: ops-token, role: admin }
    - { name: eu-agent, token: eu-token, role: ingest, cluster: prod-eu }
    - { name: us-agent, token: us-token, role: ingest, cluster: prod-us }
    - { name: relay, token: relay-token, role: ingest }
    - { name: eu-ops, token: eu-ops-token, role: tenant, clusters: [prod-eu] }
    - { name: eu-team-a, token: eu-a-token, role: tenant, clusters: [prod-eu], workspaces: [wa] }
    - { name: team-a, token: a-token, role: tenant, workspaces: [wa] }
    - { name: nobody, token: none-token, role: tenant, workspaces: [wa], clusters: [] }
workspaces:
  wa: [ns-a]
`;

async function clusterOf(s: TestServer, auditID: string): Promise<string | undefined> {
  const r = await s.get(`/api/v1/events?audit_id_filter=${auditID}`, 'ops-token');
  assert.equal(r.status, 200);
  assert.equal(r.body.total, 1, auditID);
  return r.body.items[0].cluster;
}

describe('where an event’s cluster comes from', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer(AUTH);
  });
  after(() => s.stop());

  test('a token bound to a cluster stores every event as its cluster, whatever the event claims', async () => {
    const r = await s.post(
      '/audit/webhook/event',
      eventList([event({ auditID: 'b1' }), event({ auditID: 'b2', cluster: 'prod-us' })]),
      bearer('eu-token'),
    );
    assert.equal(r.status, 200);
    assert.equal(await clusterOf(s, 'b1'), 'prod-eu');
    assert.equal(await clusterOf(s, 'b2'), 'prod-eu', 'the binding wins over the claim');
    // KubeSphere's batch with a member cluster's name, through a bound token: the binding still wins
    assert.equal(
      (
        await s.post(
          '/audit/webhook/event',
          kubesphereBatch([{ auditID: 'b3', cluster: 'member' }]),
          bearer('us-token'),
        )
      ).status,
      200,
    );
    assert.equal(await clusterOf(s, 'b3'), 'prod-us');
    // every ingest path, e.g. Vigil's own events
    const lines = `${JSON.stringify(event({ auditID: 'b4', cluster: 'prod-us' }))}\n`;
    const r2 = await s.post('/ingest/events', lines, {
      'content-type': 'application/x-ndjson',
      authorization: 'Bearer eu-token',
    });
    assert.equal(r2.status, 200);
    assert.equal(await clusterOf(s, 'b4'), 'prod-eu');
  });

  test("an unbound caller: KubeSphere's Cluster member, else no cluster", async () => {
    const r = await s.post(
      '/audit/webhook/event',
      kubesphereBatch([{ auditID: 'k1', cluster: 'member' }, { auditID: 'k2' }]),
      bearer('relay-token'),
    );
    assert.equal(r.status, 200);
    assert.equal(await clusterOf(s, 'k1'), 'member');
    assert.equal(await clusterOf(s, 'k2'), undefined);
  });

  test('vigil ship --cluster names the cluster of lines without one; a bound agent token overrides it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cluster-ship-'));
    try {
      const ship = async (name: string, token: string, ids: string[]) => {
        const log = path.join(dir, `${name}.log`);
        writeFileSync(log, ids.map((auditID) => `${formatKubernetesJSON(event({ auditID }))}\n`).join(''));
        writeFileSync(path.join(dir, `${name}.token`), token);
        const shipper = new Shipper({
          files: [log],
          target: readTarget(
            { server: `${s.url}/audit/webhook/event`, tokenFile: path.join(dir, `${name}.token`) },
            '--to',
          ),
          stateDir: path.join(dir, `${name}-state`),
          cluster: 'edge-1',
          pollMs: 20,
          statusMs: 0,
          logger: { info() {}, warn() {}, error() {} },
        });
        shipper.start();
        try {
          await until(
            async () =>
              (await s.get(`/api/v1/events?audit_id_filter=${ids.join(',')}`, 'ops-token')).body.total === ids.length,
            'shipped',
          );
        } finally {
          await shipper.close();
        }
      };
      await ship('free', 'relay-token', ['s1', 's2']);
      assert.equal(await clusterOf(s, 's1'), 'edge-1');
      assert.equal(await clusterOf(s, 's2'), 'edge-1');
      await ship('bound', 'us-token', ['s3']);
      assert.equal(await clusterOf(s, 's3'), 'prod-us', 'the token binding wins over --cluster');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a record of matched rules an event arrives with is not kept: only the collector’s rules write it', async () => {
    const forged = event({
      auditID: 'f1',
      annotations: {
        'vigil.dev/falco-rules': '[{"rule":"Create Privileged Pod","priority":"Warning"}]',
        'vigil.dev/kubesphere-rules': '[{"rule":"alerting-rule.CreateHostnetworkPod","priority":"WARNING"}]',
        keep: 'me',
      },
    });
    assert.equal((await s.post('/audit/webhook/event', eventList([forged]), bearer('relay-token'))).status, 200);
    for (const rule of ['Create%20Privileged%20Pod', 'alerting-rule.CreateHostnetworkPod'])
      assert.equal((await s.get(`/api/v1/events?rule_filter=${rule}`, 'ops-token')).body.total, 0);
    const stored = (await s.get('/api/v1/events?audit_id_filter=f1', 'ops-token')).body.items[0];
    assert.deepEqual(stored.annotations, { keep: 'me' });
  });

  test('cluster_filter, cluster_search and stats by=cluster', async () => {
    const f = await s.get('/api/v1/events?cluster_filter=prod-eu&sort=asc&size=100', 'ops-token');
    assert.deepEqual(
      f.body.items.map((e: StoredEvent) => e.auditID),
      ['b1', 'b2', 'b4'],
    );
    const fz = await s.get('/api/v1/events?cluster_search=PROD&size=100', 'ops-token');
    assert.equal(fz.body.total, 5, 'prod-eu: b1 b2 b4, prod-us: b3 s3');
    const st = await s.get('/api/v1/events/stats?by=cluster', 'ops-token');
    assert.equal(st.status, 200);
    assert.equal(st.body.by, 'cluster');
    assert.deepEqual(st.body.top, [
      { key: 'prod-eu', count: 3 },
      { key: 'edge-1', count: 2 },
      { key: 'prod-us', count: 2 },
      { key: 'member', count: 1 },
    ]);
  });
});

describe('a client certificate bound to a cluster', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cluster-tls-'));
  const pki = new Pki(dir);
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("its subject CN's entry names the cluster of every event it sends", async () => {
    pki.ca('ca');
    pki.cert('server', '127.0.0.1', 'ca', 'IP:127.0.0.1');
    pki.cert('apiserver-us', 'apiserver-us', 'ca');
    const file = pki.file('vigil.yaml');
    writeFileSync(
      file,
      `tls: { cert: server.crt, key: server.key, clientCA: ca.crt, clientAuth: request }
rules: { enabled: false }
auth:
  tokens: [{ name: ops, token: ops-token, role: admin }]
  clientCerts: [{ subject: apiserver-us, role: ingest, cluster: prod-us }]
`,
    );
    const server = await startServer(loadConfig(file, { listen: '127.0.0.1:0', data: dir }), { logger: false });
    try {
      const send = (body: string) =>
        new Promise<number>((resolve, reject) => {
          const req = https.request(
            `${server.url}/audit/webhook/event`,
            {
              method: 'POST',
              headers: JSON_HEADERS,
              ca: readFileSync(pki.file('ca.crt')),
              cert: readFileSync(pki.file('apiserver-us.crt')),
              key: readFileSync(pki.file('apiserver-us.key')),
              agent: false,
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      assert.equal(await send(kubesphereBatch([{ auditID: 'c1', cluster: 'prod-eu' }])), 200);
      const r = await new Promise<StoredEvent[]>((resolve, reject) => {
        https
          .get(
            `${server.url}/api/v1/events?audit_id_filter=c1`,
            { headers: { authorization: 'Bearer ops-token' }, ca: readFileSync(pki.file('ca.crt')), agent: false },
            (res) => {
              let text = '';
              res.on('data', (d) => {
                text += d;
              });
              res.on('end', () => resolve(JSON.parse(text).items));
            },
          )
          .on('error', reject);
      });
      assert.equal(r[0]?.cluster, 'prod-us');
    } finally {
      await server.close();
    }
  });
});

describe("KubeSphere's multi-cluster path and tenants limited to clusters", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer(AUTH);
    const eu = [privilegedPod('m1'), event({ auditID: 'm2', objectRef: { resource: 'pods', namespace: 'ns-b' } })];
    const us = [privilegedPod('m3'), event({ auditID: 'm4' })];
    assert.equal((await s.post('/audit/webhook/event', eventList(eu), bearer('eu-token'))).status, 200);
    assert.equal((await s.post('/audit/webhook/event', eventList(us), bearer('us-token'))).status, 200);
  });
  after(() => s.stop());

  const KAPIS = (cluster: string, q: string) =>
    `/kapis/clusters/${cluster}/tenant.kubesphere.io/v1alpha2/auditing/events?${q}`;

  test('/kapis/clusters/{cluster}/… answers that cluster’s events for query, statistics and histogram', async () => {
    const q = await s.get(KAPIS('prod-us', 'operation=query&sort=asc'), 'ops-token');
    assert.equal(q.status, 200);
    assert.equal(q.body.query.total, 2);
    assert.deepEqual(
      q.body.query.records.map((r: { AuditID: string; Cluster: string }) => [r.AuditID, r.Cluster]),
      [
        ['m3', 'prod-us'],
        ['m4', 'prod-us'],
      ],
    );
    const st = await s.get(KAPIS('prod-us', 'operation=statistics'), 'ops-token');
    assert.deepEqual(st.body, { statistics: { resources: 2, events: 2 } });
    const h = await s.get(KAPIS('prod-eu', 'operation=histogram&interval=1h'), 'ops-token');
    assert.equal(h.body.histogram.total, 2);
    const none = await s.get(KAPIS('nowhere', 'operation=statistics'), 'ops-token');
    assert.deepEqual(none.body, { statistics: { resources: 0, events: 0 } });
    // a tenant of prod-eu asking for prod-us through the path sees nothing of it
    const t = await s.get(KAPIS('prod-us', 'operation=query'), 'eu-ops-token');
    assert.equal(t.body.query.total, 0);
  });

  test('a tenant with clusters sees only those clusters’ events on every endpoint', async () => {
    const ids = async (p: string, token: string) =>
      (await s.get(p, token)).body.items.map((e: StoredEvent) => e.auditID).sort();
    assert.deepEqual(await ids('/api/v1/events', 'eu-ops-token'), ['m1', 'm2']);
    assert.deepEqual(await ids('/api/v1/events', 'eu-a-token'), ['m1'], 'clusters and workspaces: both');
    assert.deepEqual(await ids('/api/v1/events', 'a-token'), ['m1', 'm3'], 'workspaces alone: every cluster');
    assert.deepEqual(await ids('/api/v1/events', 'none-token'), [], 'clusters: [] is no cluster');
    assert.deepEqual(await ids('/api/v1/events?cluster_filter=prod-us', 'eu-ops-token'), []);
    assert.equal((await s.get('/api/v1/events/stats?by=cluster', 'eu-ops-token')).body.total, 2);
    assert.deepEqual((await s.get('/api/v1/events/stats?by=cluster', 'eu-ops-token')).body.top, [
      { key: 'prod-eu', count: 2 },
    ]);
    assert.equal((await s.get('/api/v1/events/histogram?interval=1h', 'eu-a-token')).body.total, 1);
    const all = (await s.get('/api/v1/events', 'ops-token')).body.items as StoredEvent[];
    const m3 = all.find((e) => e.auditID === 'm3')!;
    assert.equal((await s.get(`/api/v1/events/${m3.id}`, 'eu-ops-token')).status, 404);
    assert.equal((await s.get(`/api/v1/events/${m3.id}`, 'a-token')).status, 200);
  });

  test('the live tail of a tenant with clusters carries only those clusters’ events', async () => {
    const ac = new AbortController();
    const res = await fetch(`${s.url}/api/v1/events/stream`, {
      headers: { authorization: 'Bearer eu-ops-token' },
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const received: StoredEvent[] = [];
    const reading = (async () => {
      try {
        for await (const e of sseEvents(res)) received.push(e);
      } catch {}
    })();
    try {
      // the subscription is live once the stream has answered; the us event first, so the eu one proves order
      await s.post('/audit/webhook/event', eventList([event({ auditID: 't-us' })]), bearer('us-token'));
      await s.post('/audit/webhook/event', eventList([event({ auditID: 't-eu' })]), bearer('eu-token'));
      await until(() => received.some((e) => e.auditID === 't-eu'), 'the prod-eu event on the tail');
      assert.deepEqual(
        received.map((e) => e.auditID),
        ['t-eu'],
      );
    } finally {
      ac.abort();
      await reading;
    }
  });
});

describe('rules on the cluster, and the rules that matched as a filter', () => {
  let s: TestServer;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cluster-rules-'));
  before(async () => {
    writeFileSync(
      path.join(dir, 'kubesphere.yaml'),
      `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: { name: cluster-rules, labels: { type: alerting, workspace: system-workspace } }
spec:
  rules:
    - name: ProdPodCreate
      type: rule
      condition: Cluster = "prod-eu" and Verb = "create" and ObjectRef.Resource = "pods"
      output: "pod created in %{Cluster}"
      priority: WARNING
      enable: true
`,
    );
    writeFileSync(
      path.join(dir, 'falco.yaml'),
      `- required_engine_version: 15
- rule: Pod In Prod US
  desc: a pod created in prod-us
  condition: ka.verb = create and ka.target.resource = pods and ka.cluster.name = prod-us
  output: pod created (cluster=%ka.cluster.name user=%ka.user.name)
  priority: WARNING
  source: k8s_audit
`,
    );
    s = await startTestServer(`rules:\n  enabled: true\n  dir: ${dir}\n${AUTH}`);
    await s.post('/audit/webhook/event', eventList([privilegedPod('r1')]), bearer('eu-token'));
    await s.post('/audit/webhook/event', eventList([privilegedPod('r2')]), bearer('us-token'));
    // an eu event annotated as if it were prod-us's: the binding is what ka.cluster.name reads
    const claim = { ...privilegedPod('r3'), annotations: { cluster_name: 'prod-us' } };
    await s.post('/audit/webhook/event', eventList([claim]), bearer('eu-token'));
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("KubeSphere's Cluster and Falco's ka.cluster.name see the bound cluster; rule_filter finds Falco's detections", async () => {
    const flagged = await s.get('/api/v1/events?rule_filter=Pod%20In%20Prod%20US', 'ops-token');
    assert.equal(flagged.status, 200);
    assert.deepEqual(
      flagged.body.items.map((e: StoredEvent) => [e.auditID, e.cluster]),
      [['r2', 'prod-us']],
    );
    const ks = await s.get('/api/v1/events?rule_filter=cluster-rules.ProdPodCreate&sort=asc', 'ops-token');
    const record = '[{"rule":"cluster-rules.ProdPodCreate","priority":"WARNING"}]';
    assert.deepEqual(
      ks.body.items.map((e: StoredEvent) => [e.auditID, e.annotations?.['vigil.dev/kubesphere-rules']]),
      [
        ['r1', record],
        ['r3', record],
      ],
      'r3 is prod-eu: its annotation cluster_name: prod-us claims otherwise',
    );
    const byRule = await s.get('/api/v1/events/stats?by=rule', 'ops-token');
    assert.deepEqual(byRule.body.top, [
      { key: 'cluster-rules.ProdPodCreate', count: 2 },
      { key: 'Pod In Prod US', count: 1 },
    ]);
    await until(async () => (await s.get('/api/v1/alerts', 'ops-token')).body.total >= 3, 'the three alerts');
    const alerts = (await s.get('/api/v1/alerts', 'ops-token')).body.items as {
      rule: string;
      labels: Record<string, string>;
    }[];
    assert.deepEqual(alerts.map((a) => [a.rule, a.labels.cluster]).sort(), [
      ['Pod In Prod US', 'prod-us'],
      ['cluster-rules.ProdPodCreate', 'prod-eu'],
      ['cluster-rules.ProdPodCreate', 'prod-eu'],
    ]);
    // a tenant of prod-eu sees the prod-eu alerts only
    const eu = (await s.get('/api/v1/alerts', 'eu-ops-token')).body.items as { rule: string }[];
    assert.deepEqual(
      eu.map((a) => a.rule),
      ['cluster-rules.ProdPodCreate', 'cluster-rules.ProdPodCreate'],
    );
  });
});

test('cluster on a tenant, or clusters on another role, is a configuration error, not a silent widening', () => {
  const bad: [string, RegExp][] = [
    [
      '{ name: t, token: x, role: tenant, cluster: prod-eu }',
      /auth.tokens\[0\] \("t"\): a tenant's clusters are `clusters: \[prod-eu\]`/,
    ],
    [
      '{ name: i, token: x, role: ingest, clusters: [prod-eu] }',
      /auth.tokens\[0\] \("i"\): `clusters` limits what a tenant sees/,
    ],
  ];
  for (const [token, error] of bad)
    assert.throws(() => parseConfig(`auth:\n  tokens:\n    - ${token}\n`, 'vigil.yaml'), error);
  const ok = parseConfig(
    'auth:\n  tokens:\n    - { name: t, token: x, role: tenant, clusters: [a] }\n    - { name: i, token: y, role: ingest, cluster: a }\n',
    'vigil.yaml',
  );
  assert.deepEqual(
    ok.auth.tokens.map((t) => [t.cluster, t.clusters]),
    [
      [undefined, ['a']],
      ['a', undefined],
    ],
  );
});
