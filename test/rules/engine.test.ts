// Decisions: priorities, rule selectors, the Webhook resource, KubeSphere's default rules on real events,
// the seed's examples, runtime errors counted as "errored, not matched".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { decodeEvents } from '../../src/event/index.ts';
import {
  buildRuleSet,
  createRuleEngine,
  loadDefaultRules,
  parseWebhook,
  priorityRank,
  RuleLoadError,
} from '../../src/rules/index.ts';
import { podCreate } from './helpers.ts';

const falco = decodeEvents(readFileSync(new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8'));

const CR = (name: string, labels: string, rules: string) => `---
apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: ${name}, labels: ${labels}}
spec:
  rules:
${rules}`;

test('priorities rank DEBUG < INFO < WARNING; anything else below DEBUG', () => {
  assert.deepEqual(
    ['DEBUG', 'INFO', 'WARNING', 'warning', '', undefined, 'ERROR'].map(priorityRank),
    [1, 2, 3, 0, 0, 0, 0],
  );
});

describe('archive and alert per rule priority and resource role', () => {
  const rules = buildRuleSet([
    {
      file: 'p.yaml',
      text:
        CR(
          'arch',
          '{type: archiving}',
          `    - {name: dbg, type: rule, enable: true, priority: DEBUG, condition: 'Verb = "d"'}
    - {name: info, type: rule, enable: true, priority: INFO, condition: 'Verb = "i"'}
    - {name: warn, type: rule, enable: true, priority: WARNING, condition: 'Verb = "w"'}
    - {name: none, type: rule, enable: true, condition: 'Verb = "n"'}
    - {name: off, type: rule, priority: WARNING, condition: 'Verb = "o"'}
`,
        ) +
        CR(
          'alrt',
          '{type: alerting, extra: x}',
          `    - {name: info, type: rule, enable: true, priority: INFO, condition: 'Verb = "ai"'}
    - {name: warn, type: rule, enable: true, priority: WARNING, condition: 'Verb = "aw"'}
    - {name: lower, type: rule, enable: true, priority: warning, condition: 'Verb = "al"'}
`,
        ) +
        CR(
          'stray',
          '{type: other}',
          `    - {name: r, type: rule, enable: true, priority: WARNING, condition: 'Verb = "s"'}\n`,
        ),
    },
  ]);
  const e = (verb: string) => podCreate({ verb });
  const decide = (opts: Parameters<typeof createRuleEngine>[0], verb: string) => {
    const d = createRuleEngine(opts).evaluate(e(verb));
    return { archive: d.archive, alerts: d.alerts.map((a) => a.rule), matched: d.matched };
  };
  const rows: [string, object, { archive: boolean; alerts: string[]; matched: string[] }][] = [
    ['d', {}, { archive: true, alerts: [], matched: ['arch.dbg'] }],
    ['d', { archivingPriority: 'INFO' }, { archive: false, alerts: [], matched: ['arch.dbg'] }],
    ['i', { archivingPriority: 'INFO' }, { archive: true, alerts: [], matched: ['arch.info'] }],
    ['w', { archivingPriority: 'WARNING' }, { archive: true, alerts: [], matched: ['arch.warn'] }],
    // no priority ranks below DEBUG: never archived by an archiving resource
    ['n', {}, { archive: false, alerts: [], matched: ['arch.none'] }],
    // enable omitted: inactive
    ['o', {}, { archive: false, alerts: [], matched: [] }],
    // alerting resource: always archives, alerts from alertingPriority up
    ['ai', {}, { archive: true, alerts: [], matched: ['alrt.info'] }],
    ['ai', { alertingPriority: 'INFO' }, { archive: true, alerts: ['alrt.info'], matched: ['alrt.info'] }],
    ['aw', {}, { archive: true, alerts: ['alrt.warn'], matched: ['alrt.warn'] }],
    ['al', { alertingPriority: 'DEBUG' }, { archive: true, alerts: [], matched: ['alrt.lower'] }],
    // a resource neither selector picks has no effect
    ['s', {}, { archive: false, alerts: [], matched: [] }],
    ['zzz', {}, { archive: false, alerts: [], matched: [] }],
  ];
  for (const [verb, opts, want] of rows) {
    test(`verb ${verb} ${JSON.stringify(opts)}`, () => assert.deepEqual(decide({ rules, ...opts }, verb), want));
  }

  test('Webhook selectors choose the roles; only matchLabels count', () => {
    const webhook = parseWebhook(
      `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Webhook
metadata: {name: kube-auditing-webhook}
spec:
  archivingPriority: INFO
  alertingPriority: bogus
  auditSinkPolicy:
    alertingRuleSelector: {matchLabels: {type: other}}
    archivingRuleSelector: {matchLabels: {extra: x}, matchExpressions: [{key: a, operator: In, values: [b]}]}
  image: kubesphere/kube-auditing-webhook:v0.1.0
  replicas: 2
`,
      'w.yaml',
    );
    assert.equal(webhook.archivingPriority, 'INFO');
    // an unknown value falls back to the default, with a warning
    assert.equal(webhook.alertingPriority, 'WARNING');
    assert.match(webhook.warnings[0], /^w\.yaml:6:\d+: alertingPriority "bogus"/);
    assert.deepEqual(decide({ rules, webhook }, 's'), { archive: true, alerts: ['stray.r'], matched: ['stray.r'] });
    // alrt is now an archiving resource: INFO ≥ INFO archives, nothing alerts
    assert.deepEqual(decide({ rules, webhook }, 'aw'), { archive: true, alerts: [], matched: ['alrt.warn'] });
    assert.deepEqual(decide({ rules, webhook }, 'd'), { archive: false, alerts: [], matched: [] });
  });

  test('bad priority options are refused', () => {
    assert.throws(
      () => createRuleEngine({ rules, archivingPriority: 'debug' as 'DEBUG' }),
      /must be DEBUG, INFO or WARNING/,
    );
  });
});

describe("KubeSphere's default rules behave as their descriptions say", async () => {
  const rules = await loadDefaultRules();
  const engine = createRuleEngine({ rules });

  test('a hostNetwork pod create alerts with the right message', () => {
    const d = engine.evaluate(
      podCreate({ requestObject: { spec: { hostNetwork: true, containers: [{ name: 'a' }] } } }),
    );
    assert.equal(d.archive, true);
    assert.deepEqual(d.alerts, [
      {
        rule: 'alerting-rule.CreateHostnetworkPod',
        name: 'CreateHostnetworkPod',
        group: 'alerting-rule',
        priority: 'WARNING',
        message: 'alice create HostNetwork Pod nginx-1 in Namespace demo.',
      },
    ]);
    assert.deepEqual(d.matched, [
      'archiving-rule.archiving',
      'alerting-rule.ResourceChange',
      'alerting-rule.CreateHostnetworkPod',
    ]);
  });

  test('a host port on any container or init container alerts, even when the first container has no ports', () => {
    const d = engine.evaluate(podCreate({ requestObject: { spec: { hostNetwork: false } } }));
    assert.deepEqual(d.alerts, []);
    const d2 = engine.evaluate(podCreate());
    assert.deepEqual(
      d2.alerts.map((a) => a.rule),
      ['alerting-rule.CreateHostnetworkPod', 'alerting-rule.CreateHostportPod'],
    );
    assert.equal(d2.alerts[1].message, 'alice create HostNetPort Pod nginx-1 in Namespace demo.');
    const init = podCreate({
      requestObject: {
        spec: { containers: [{ name: 'a' }], initContainers: [{ name: 'i', ports: [{ hostPort: 9 }] }] },
      },
    });
    assert.deepEqual(
      engine.evaluate(init).alerts.map((a) => a.rule),
      ['alerting-rule.CreateHostportPod'],
    );
    assert.deepEqual(engine.errors(), {});
  });

  test('a get is ignored, a create of a configmap archived without alert, an update archived', () => {
    assert.deepEqual(engine.evaluate(podCreate({ verb: 'get' })), { matched: [], archive: false, alerts: [] });
    assert.deepEqual(engine.evaluate(podCreate({ verb: 'WATCH' })).archive, false);
    const cm = podCreate({ objectRef: { resource: 'configmaps', namespace: 'demo', name: 'c' }, requestObject: {} });
    assert.deepEqual(engine.evaluate(cm), {
      matched: ['archiving-rule.archiving', 'alerting-rule.ResourceChange'],
      archive: true,
      alerts: [],
    });
    const proxy = podCreate({ verb: 'proxy', requestObject: undefined });
    assert.deepEqual(engine.evaluate(proxy), { matched: ['archiving-rule.archiving'], archive: true, alerts: [] });
  });

  test('on the 51 real audit events: reads ignored, everything else archived, four alerts', () => {
    assert.equal(falco.length, 51);
    const alerts: string[] = [];
    for (const e of falco) {
      const d = engine.evaluate(e);
      assert.equal(d.archive, !['get', 'list', 'watch'].includes(e.verb), e.auditID);
      for (const a of d.alerts) alerts.push(`${a.rule}: ${a.message}`);
    }
    assert.deepEqual(alerts, [
      'alerting-rule.AttachOrExecPod: minikube-user attach Pod nginx-deployment-7998647bdf-phvq7 in Namespace default.',
      'alerting-rule.CreateHostnetworkPod: system:serviceaccount:kube-system:replicaset-controller create HostNetwork Pod  in Namespace default.',
      'alerting-rule.CreateNodeportService: minikube-user create NodePort Service nginx in Namespace default.',
      'alerting-rule.AttachOrExecPod: minikube-user exec Pod nginx-deployment-7998647bdf-phvq7 in Namespace default.',
    ]);
    assert.deepEqual(engine.errors(), {});
  });
});

describe("the seed's examples (KubeSphere's auditing documentation)", () => {
  const seedRules = `
apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata:
  labels: {type: archiving, workspace: system-workspace}
  name: archiving-rule
spec:
  rules:
  - {desc: all action not need to be audit, list: [get, list, watch], name: ignore-action, type: list}
  - {condition: 'Verb not in \${ignore-action}', desc: 'All audit event except get, list, watch event', enable: true, name: archiving, priority: DEBUG, type: rule}
---
apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata:
  labels: {type: alerting, workspace: system-workspace}
  name: alerting-rule
spec:
  rules:
  - {desc: all operator need to be audit, list: [create, delete, update, patch], name: action, type: list}
  - {condition: 'Verb in \${action}', desc: audit the change of resource, enable: true, name: ResourceChange, priority: INFO, type: rule}
  - {name: pod, type: macro, desc: pod, macro: 'ObjectRef.Resource="pods"'}
  - {name: namespace, type: alias, desc: the alias of the resource namespace, alias: ObjectRef.Namespace}
  - {name: user, type: alias, alias: User.username}
  - {name: verb, type: alias, alias: Verb}
  - {name: name, type: alias, alias: ObjectRef.Name}
  - {name: test-ns, type: rule, enable: true, priority: WARNING, condition: 'ObjectRef.Namespace = "test"'}
  - {name: test-like, type: rule, enable: true, priority: WARNING, condition: 'ObjectRef.Namespace like "test*"'}
  - name: last-hour
    type: rule
    enable: true
    priority: WARNING
    condition: RequestReceivedTimestamp >= "2020-06-12T09:23:28.359896Z" and RequestReceivedTimestamp <= "2020-06-12T10:23:28.359896Z"
  - {name: hostnet, type: rule, enable: true, priority: WARNING, condition: '\${pod} and RequestObject.spec.hostNetwork = true',
     output: '\${user} \${verb} a HostNetwork Pod \${name} in \${namespace}.'}
  - {name: cross, type: rule, enable: true, priority: WARNING, condition: '\${alerting-rule.pod} and Verb = "delete"'}
`;
  const seedWebhook = `
apiVersion: auditing.kubesphere.io/v1alpha1
kind: Webhook
metadata: {name: kube-auditing-webhook}
spec:
  auditLevel: RequestResponse
  auditSinkPolicy:
    alertingRuleSelector: {matchLabels: {type: alerting}}
    archivingRuleSelector: {matchLabels: {type: persistence}}
  image: kubesphere/kube-auditing-webhook:v0.1.0
  archivingPriority: DEBUG
  alertingPriority: WARNING
  replicas: 2
  receivers:
    - {name: alert, type: alertmanager, config: {service: {namespace: kubesphere-monitoring-system, name: alertmanager-main, port: 9093}}}
`;
  const rules = buildRuleSet([{ file: 'seed.yaml', text: seedRules }]);
  // outside the example's "last hour" unless a test says otherwise
  const later = (over: Parameters<typeof podCreate>[0]) =>
    podCreate({ requestReceivedTimestamp: '2021-01-01T00:00:00.000000Z', ...over });
  const names = (d: { alerts: { rule: string }[] }) => d.alerts.map((a) => a.rule.replace('alerting-rule.', ''));

  test('"matched a rule in archiving-rule with priority ≥ archivingPriority: stored"; reads are not', () => {
    const engine = createRuleEngine({ rules });
    const e = later({ verb: 'deletecollection', objectRef: { resource: 'configmaps', namespace: 'prod' } });
    assert.equal(engine.evaluate(e).archive, true);
    assert.equal(engine.evaluate({ ...e, verb: 'list' }).archive, false);
  });

  test('"a rule in alerting-rule below alertingPriority is stored, at or above it alerts"', () => {
    const engine = createRuleEngine({ rules });
    const change = later({ verb: 'patch', objectRef: { resource: 'configmaps', namespace: 'prod', name: 'c' } });
    const d = engine.evaluate(change);
    assert.equal(d.archive, true);
    assert.deepEqual(d.alerts, []);
    assert.ok(d.matched.includes('alerting-rule.ResourceChange'));
    const inTest = engine.evaluate(
      later({
        verb: 'get',
        objectRef: { resource: 'pods', namespace: 'test' },
        requestReceivedTimestamp: '2020-06-12T10:00:00.000000Z',
      }),
    );
    assert.deepEqual(names(inTest), ['test-ns', 'test-like', 'last-hour', 'hostnet']);
    assert.equal(inTest.alerts[3].message, 'alice get a HostNetwork Pod  in test.');
    const testing = engine.evaluate(later({ verb: 'get', objectRef: { resource: 'x', namespace: 'testing' } }));
    assert.deepEqual(names(testing), ['test-like']);
    const del = engine.evaluate(later({ verb: 'delete' }));
    assert.deepEqual(names(del), ['hostnet', 'cross']);
  });

  test("the docs' Webhook (archiving selector type: persistence) silently turns archiving-rule off", () => {
    const webhook = parseWebhook(seedWebhook, 'webhook.yaml');
    assert.equal(webhook.auditLevel, 'RequestResponse');
    assert.deepEqual(webhook.receivers, [
      {
        name: 'alert',
        type: 'alertmanager',
        url: 'http://alertmanager-main.kubesphere-monitoring-system:9093',
        config: { service: { namespace: 'kubesphere-monitoring-system', name: 'alertmanager-main', port: 9093 } },
      },
    ]);
    const e = later({ verb: 'deletecollection', objectRef: { resource: 'configmaps', namespace: 'prod' } });
    assert.equal(createRuleEngine({ rules, webhook }).evaluate(e).archive, false);
  });

  test('bad Webhook resources are refused with positions', () => {
    assert.throws(
      () =>
        parseWebhook(
          'apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Webhook\nspec:\n  auditLevel: Everything\n',
          'w.yaml',
        ),
      (err: unknown) => err instanceof RuleLoadError && /w\.yaml:4:\d+: auditLevel must be/.test(String(err.errors[0])),
    );
    assert.throws(() => parseWebhook('kind: Rule\n', 'w.yaml'), /no Webhook resource/);
  });

  test('receivers resolve to where kube-auditing sends their alerts; one it could not reach is refused at load', () => {
    const receivers = (list: string) =>
      parseWebhook(
        `apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Webhook\nmetadata: {name: w}\nspec:\n  receivers:\n${list}`,
        'w.yaml',
      ).receivers.map(({ name, type, url }) => ({ name, type, url }));
    assert.deepEqual(
      receivers(
        [
          '    - {name: am, type: alertmanager}',
          '    - {name: am2, type: alertmanager, config: {service: {namespace: mon}}}',
          '    - {name: nm, type: notificationmanager, config: {service: {namespace: kubesphere-monitoring-system, name: notification-manager-svc, port: 19093, path: /api/v2/alerts}}}',
          '    - {name: hook, type: webhook, config: {url: "http://audit.example:8080/in"}}',
          '',
        ].join('\n'),
      ),
      [
        { name: 'am', type: 'alertmanager', url: 'http://alertmanager-main.kubesphere-monitoring-system:9093' },
        { name: 'am2', type: 'alertmanager', url: 'http://alertmanager-main.mon:9093' },
        {
          name: 'nm',
          type: 'notificationmanager',
          url: 'http://notification-manager-svc.kubesphere-monitoring-system:19093/api/v2/alerts',
        },
        { name: 'hook', type: 'webhook', url: 'http://audit.example:8080/in' },
      ],
    );
    const refused = (item: string, message: RegExp) =>
      assert.throws(
        () => receivers(`    - ${item}\n`),
        (err: unknown) => err instanceof RuleLoadError && message.test(String(err.errors[0])),
        item,
      );
    refused(
      '{name: nm, type: notificationmanager}',
      /^w\.yaml:6:7: receiver nm: a notificationmanager receiver needs config\.url or config\.service/,
    );
    refused(
      '{name: h, type: webhook, config: {service: {namespace: x}}}',
      /^w\.yaml:6:\d+: receiver h: service needs a name/,
    );
    refused(
      '{name: h, type: webhook, config: {url: "ftp://x"}}',
      /^w\.yaml:6:\d+: receiver h: url must be an http or https URL/,
    );
    refused(
      '{name: h, type: webhook, config: {url: "x", caBundle: "bm90IGEgY2VydA=="}}',
      /caBundle must be base64 of PEM/,
    );
    refused('{name: h, type: alertmanager, config: {service: {port: 0}}}', /port must be a number from 1 to 65535/);
    refused('{name: h, type: slack}', /receiver type must be alertmanager, webhook, notificationmanager/);
  });
});

test('a runtime type error is "rule errored, not matched", counted per rule; other rules still run', () => {
  const rules = buildRuleSet([
    {
      file: 'e.yaml',
      text: CR(
        'c',
        '{type: alerting}',
        `    - {name: num, type: rule, enable: true, priority: WARNING, condition: 'RequestObject.metadata.name > 5'}
    - {name: ok, type: rule, enable: true, priority: WARNING, condition: 'Verb = "create"'}
`,
      ),
    },
  ]);
  const engine = createRuleEngine({ rules });
  const d = engine.evaluate(podCreate());
  assert.deepEqual(d.matched, ['c.ok']);
  engine.evaluate(podCreate());
  assert.deepEqual(engine.errors(), { 'c.num': 2 });
  assert.match(engine.lastError()!.message, /RequestObject.metadata.name is "nginx-1", not a number/);
  // numeric text compares fine
  assert.deepEqual(engine.evaluate(podCreate({ requestObject: { metadata: { name: '7' } } })).matched, [
    'c.num',
    'c.ok',
  ]);
});

test('nothing matched returns the same empty decision, without allocating a new one', () => {
  const engine = createRuleEngine({
    rules: buildRuleSet([
      {
        file: 'x',
        text: CR('c', '{type: archiving}', `    - {name: r, type: rule, enable: true, condition: 'Verb = "x"'}\n`),
      },
    ]),
  });
  assert.equal(engine.evaluate(podCreate()), engine.evaluate(podCreate({ verb: 'get' })));
});
