// Falco's condition language and rules-file loading semantics, one behaviour per row, on a pod-creation event.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEvent } from '../../../src/event/model.ts';
import { buildRuleSet, createRuleEngine, FALCO_RULES_ANNOTATION, RuleLoadError } from '../../../src/rules/index.ts';
import { podCreate } from '../helpers.ts';

const ev = (over: Partial<AuditEvent> = {}): AuditEvent =>
  podCreate({
    source: 'kubernetes',
    requestURI: '/api/v1/namespaces/demo/pods/web/exec?command=sh&command=-c&container=a&stdin=true',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...over,
  });

const rule = (name: string, condition: string, more = '') =>
  `- rule: ${name}\n  desc: d\n  condition: ${JSON.stringify(condition)}\n  output: "${name} %ka.user.name"\n  priority: WARNING\n  source: k8s_audit\n${more}`;

/** The Falco rules (of `files`, in order) that fire on the event, every matching one. */
function fired(files: string[], e: AuditEvent = ev()): string[] {
  const rules = buildRuleSet(files.map((text, i) => ({ file: `f${i}.yaml`, text })));
  const engine = createRuleEngine({ rules, falco: { minimumPriority: 'debug', ruleMatching: 'all' } });
  return engine.evaluate(e).falco?.map((f) => f.rule) ?? [];
}

const matches = (condition: string, e?: AuditEvent) => fired([rule('r', condition)], e).length === 1;

function loadErrors(files: string[]): string[] {
  try {
    buildRuleSet(files.map((text, i) => ({ file: `f${i}.yaml`, text })));
  } catch (err) {
    if (err instanceof RuleLoadError) return err.errors.map(String);
    throw err;
  }
  return [];
}

describe('conditions', () => {
  const rows: [string, boolean][] = [
    ['ka.verb=create', true],
    ['ka.verb == create', true],
    ['ka.verb != create', false],
    ['ka.verb in (create, update)', true],
    ['ka.verb in ()', false],
    ['ka.user.name startswith al', true],
    ['ka.user.name endswith ice', true],
    ['ka.user.name contains "lic"', true],
    ["ka.user.name icontains 'LIC'", true],
    ['ka.user.name glob "a*e"', true],
    ['ka.user.name glob "a?ice"', true],
    ['ka.user.name glob "[!b]lice"', true],
    ['ka.user.name iglob "A*"', true],
    ['ka.user.name regex "a.+e"', true],
    ['ka.user.name regex "lic"', false],
    ['ka.response.code > 199', true],
    ['ka.response.code < 3', true],
    ['ka.response.code >= 200', true],
    ['ka.response.code startswith 2', true],
    ['ka.user.name startswith anyof (x, al)', true],
    ['ka.user.name startswith oneof (a, al)', false],
    ['ka.user.name contains allof (al, ce)', true],
    ['ka.uri.param[command] = sh', true],
    ['ka.uri.param[container] = a', true],
    ['ka.uri.param[nothere] exists', false],
    ['not ka.uri.param[nothere] exists', true],
    ['ka.target.subresource exists', false],
    ['ka.target.subresource != exec', false],
    ['not ka.target.subresource = exec', true],
    ['ka.user.groups intersects (platform-admins, x)', true],
    ['ka.user.groups in (platform-admins, x)', false],
    ['ka.user.groups in (platform-admins, system:authenticated)', true],
    ['ka.req.pod.containers.image in (nginx:1.25, busybox)', true],
    ['ka.req.pod.containers.image[1] in (busybox)', true],
    ['ka.req.pod.containers.image.repository intersects (nginx)', true],
    ['ka.req.pod.containers.host_port intersects (8080)', true],
    ['ka.req.pod.host_network intersects (true)', true],
    ['ka.req.pod.host_network = true', true],
    ['ka.req.pod.containers.privileged exists', false],
    ['jevt.value[/requestObject/spec/containers/1/image] = busybox', true],
    ['jevt.value[/objectRef/name] = nginx-1', true],
    ['jevt.value[/annotations/authorization.k8s.io~1decision] = allow', true],
    ['jevt.rawtime exists', true],
    ['(ka.verb=delete or ka.verb=create) and not ka.user.name=bob', true],
    ['not not ka.verb=create', true],
    ['not(ka.verb=delete) and(ka.verb=create)', true],
    ['ka.verb=delete or ka.verb=create and ka.user.name=bob', false],
    ['tolower(ka.user.name) = alice and toupper(ka.verb) = CREATE', true],
    ['ka.user.name = val(ka.req.pod.containers.name[0])', false],
  ];
  for (const [cond, want] of rows) {
    test(`${cond} → ${want}`, () => assert.equal(matches(cond), want));
  }

  test('pmatch: the value is a listed path or below one, component by component', () => {
    const e = ev({ requestObject: { spec: { volumes: [{ name: 'v', hostPath: { path: '/var/run/docker.sock' } }] } } });
    assert.equal(matches('ka.req.pod.volumes.hostpath intersects (/var/run/docker.sock)', e), true);
    for (const [paths, want] of [
      ['(/var/run)', true],
      ['(/var/ru)', false],
      ['(/var/*/docker.sock)', true],
      ['(/)', true],
    ] as const) {
      assert.equal(matches(`jevt.value[/requestObject/spec/volumes/0/hostPath/path] pmatch ${paths}`, e), want, paths);
    }
  });

  test('syntax and operator errors point into the condition', () => {
    assert.deepEqual(loadErrors([rule('r', 'ka.user.name > ab')]), [
      'f0.yaml:3:30: rule "r": expected a number value or a field with a valid transformer',
    ]);
    assert.deepEqual(loadErrors([rule('r', 'ka.req.pod.volumes.hostpath pmatch (/etc)')]), [
      `f0.yaml:3:15: rule "r": 'pmatch' operator not supported for list filters (ka.req.pod.volumes.hostpath)`,
    ]);
    assert.deepEqual(loadErrors([rule('r', 'ka.verb = create and (ka.user.name = a')]), [
      `f0.yaml:3:53: rule "r": expected a ')' token`,
    ]);
  });

  test('events that are not kube-apiserver audit events are not what k8s_audit rules read', () => {
    assert.equal(matches('ka.verb=create', ev({ source: 'cadf' })), false);
    assert.equal(matches('ka.verb=create', ev({ source: 'kubesphere' })), true);
  });
});

describe('rules files', () => {
  const kevt = '- macro: created\n  condition: ka.verb=create\n';

  test('lists name lists defined before them, conditions name lists anywhere; macros name earlier macros', () => {
    const text = [
      '- list: admins\n  items: [alice]',
      '- list: people\n  items: [admins, bob]',
      kevt,
      '- macro: by_people\n  condition: created and ka.user.name in (people)',
      rule('r', 'by_people'),
    ].join('\n');
    assert.deepEqual(fired([text]), ['r']);
    assert.deepEqual(loadErrors(['- macro: a\n  condition: b\n- macro: b\n  condition: ka.verb=create\n']), [
      "f0.yaml:2:14: macro a: Undefined macro 'b' used in filter.",
    ]);
  });

  test('later files append to and override lists, macros and rules; enabled switches a rule', () => {
    const base = ['- list: users\n  items: [bob]', kevt, rule('r', 'created and ka.user.name in (users)')].join('\n');
    assert.deepEqual(fired([base]), []);
    assert.deepEqual(fired([base, '- list: users\n  items: [alice]\n  append: true']), ['r']);
    assert.deepEqual(fired([base, '- list: users\n  items: [alice]\n  override: {items: append}']), ['r']);
    assert.deepEqual(fired([base, '- list: users\n  items: [alice]']), ['r']);
    assert.deepEqual(
      fired([base, '- macro: created\n  condition: or ka.user.name=alice\n  override: {condition: append}']),
      [],
    );
    assert.deepEqual(fired([base, '- rule: r\n  condition: or ka.user.name=alice\n  override: {condition: append}']), [
      'r',
    ]);
    assert.deepEqual(fired([base, '- rule: r\n  condition: ka.verb=create\n  override: {condition: replace}']), ['r']);
    const on = [base, '- list: users\n  items: [alice]\n  append: true'];
    assert.deepEqual(fired([...on, '- rule: r\n  enabled: false']), []);
    assert.deepEqual(fired([...on, '- rule: r\n  enabled: false\n  override: {enabled: replace}']), []);
    assert.deepEqual(fired([...on, rule('r', 'ka.verb=delete')]), []);
  });

  test('exceptions: single field, field tuples, values appended later, lists as values', () => {
    const exc = `  exceptions:
    - name: trusted_users
      fields: ka.user.name
      values: [bob]
    - name: user_and_ns
      fields: [ka.user.name, ka.target.namespace]
      comps: [=, startswith]
      values: [[carol, de]]
`;
    const base = rule('r', 'ka.verb=create', exc);
    assert.deepEqual(fired([base]), ['r']);
    assert.deepEqual(fired([base], ev({ user: { username: 'bob' } })), []);
    assert.deepEqual(fired([base], ev({ user: { username: 'carol' } })), []);
    const more = `- list: trusted\n  items: [alice]\n- rule: r\n  exceptions:\n    - name: trusted_users\n      values: [trusted]\n  override: {exceptions: append}\n`;
    assert.deepEqual(fired([base, more]), []);
    assert.deepEqual(
      loadErrors([
        rule('r', 'ka.verb=create', '  exceptions:\n    - name: x\n      fields: ka.nope\n      values: [a]\n'),
      ]),
      [
        `f0.yaml:9:15: rule "r": exception "x": 'ka.nope' is not a supported filter field: unknown field "ka.nope" for source k8s_audit`,
      ],
    );
  });

  test('errors: append to nothing, re-defined source, bad YAML; notices: other sources, unknown keys', () => {
    assert.deepEqual(loadErrors(['- list: nothing\n  items: [a]\n  append: true']), [
      "f0.yaml:1:3: list nothing: List uses 'append' or 'override.items: append' but no list by that name already exists",
    ]);
    assert.deepEqual(
      loadErrors([
        rule('r', 'ka.verb=create'),
        '- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n',
      ]),
      ['f1.yaml:1:3: rule "r": Rule has been re-defined with a different source'],
    );
    assert.match(loadErrors(['- rule: [unclosed'])[0], /^f0\.yaml:1:/);
    const rules = buildRuleSet([
      {
        file: 'mixed.yaml',
        text: `${rule('k', 'ka.verb=create', '  frobnicate: 1\n')}- rule: s\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n`,
      },
    ]);
    assert.deepEqual(
      rules.falco?.notices.map((n) => `${n.line}:${n.column} ${n.message}`),
      [
        "7:3 Unknown key 'frobnicate'. The key will be ignored.",
        '8:3 1 rule(s) of source syscall skipped: Vigil evaluates rules of source k8s_audit',
      ],
    );
    assert.equal(rules.falco?.skipped, 1);
  });

  test('required_engine_version and required_plugin_versions are checked', () => {
    assert.deepEqual(
      loadErrors([
        '- required_engine_version: 15\n- required_plugin_versions:\n  - {name: k8saudit, version: 0.18.0}\n',
      ]),
      [],
    );
    assert.deepEqual(loadErrors(['- required_engine_version: 0.99.0\n']), [
      'f0.yaml:1:28: Rules require engine version 0.99.0, but engine version is 0.63.0',
    ]);
    assert.deepEqual(loadErrors(['- required_plugin_versions:\n  - {name: k8saudit, version: 0.19.0}\n']), [
      "f0.yaml:2:5: Plugin 'k8saudit' version 0.19.0 is required, but Vigil follows k8saudit 0.18.0",
    ]);
  });
});

describe('decisions', () => {
  const files = [
    `- macro: created\n  condition: ka.verb=create\n${rule('info', 'created', '').replace('WARNING', 'INFO')}${rule('warn', 'created', '  tags: [k8s, pod]\n')}`,
  ];
  test('rule_matching first: the first rule, and the first at the minimum priority when that one is below it', () => {
    const rules = buildRuleSet([{ file: 'f.yaml', text: files[0] }]);
    const e = ev();
    const d = createRuleEngine({ rules }).evaluate(e);
    assert.deepEqual(d.matched, ['info', 'warn']);
    assert.equal(d.archive, true);
    assert.deepEqual(
      d.alerts.map((a) => [a.rule, a.priority, a.message, a.labels]),
      [['warn', 'WARNING', 'warn alice', { tags: 'k8s,pod' }]],
    );
    const fields = JSON.parse(d.alerts[0].annotations!.falco_output_fields);
    assert.deepEqual(Object.keys(fields), ['evt.time', 'ka.user.name']);
    assert.equal(fields['ka.user.name'], 'alice');
    assert.equal(d.alerts[0].annotations!.falco_time, '2020-06-12T09:23:28.459896000Z');
    assert.equal(d.alerts[0].annotations!.falco_output, '09:23:28.459896000: Warning warn alice');
    // The stored event says which Falco rules fired on it.
    assert.deepEqual(JSON.parse(e.annotations![FALCO_RULES_ANNOTATION]), [
      { rule: 'info', priority: 'Informational' },
      { rule: 'warn', priority: 'Warning' },
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(d.falco)), [
      { rule: 'info', priority: 'Informational', tags: [], output: 'info alice' },
      { rule: 'warn', priority: 'Warning', tags: ['k8s', 'pod'], output: 'warn alice' },
    ]);
    // ...and one that arrives claiming Falco rules fired but fires none loses the claim.
    const quiet = ev({ verb: 'get', annotations: { [FALCO_RULES_ANNOTATION]: '[]', x: 'y' } });
    assert.equal(createRuleEngine({ rules }).evaluate(quiet).archive, false);
    assert.deepEqual(quiet.annotations, { x: 'y' });
    const all = createRuleEngine({ rules, falco: { ruleMatching: 'all', minimumPriority: 'info' } }).evaluate(ev());
    assert.deepEqual(
      all.alerts.map((a) => a.rule),
      ['info', 'warn'],
    );
  });
});
