// `vigil rules test` and `vigil rules check` through main(), with captured streams (test/helpers/cli.ts).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_RULES_FILE } from '../../src/rules/index.ts';
import { vigil } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

const falco = new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url).pathname;
const dir = tempDir('vigil-rules-cli-');
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('rules test -o json: one object per event with matched, archived, alerted, decision, messages', async () => {
  const t = await vigil(['rules', 'test', '--rules', DEFAULT_RULES_FILE, '--events', falco, '-o', 'json']);
  assert.equal(t.code, 0);
  const lines = t.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 51);
  const byDecision = (d: string) => lines.filter((l) => l.decision === d).length;
  assert.deepEqual([byDecision('ignore'), byDecision('archive'), byDecision('alert')], [1, 46, 4]);
  const exec = lines.find(
    (l) =>
      l.alerted.includes('alerting-rule.AttachOrExecPod') &&
      l.messages['alerting-rule.AttachOrExecPod'].includes('exec'),
  );
  assert.deepEqual(Object.keys(exec).sort(), ['alerted', 'archived', 'auditID', 'decision', 'matched', 'messages']);
  assert.equal(exec.archived, true);
  assert.deepEqual(exec.matched, [
    'archiving-rule.archiving',
    'alerting-rule.ResourceChange',
    'alerting-rule.AttachOrExecPod',
  ]);
  assert.equal(
    exec.messages['alerting-rule.AttachOrExecPod'],
    'minikube-user exec Pod nginx-deployment-7998647bdf-phvq7 in Namespace default.',
  );
  // matched rules without output get KubeSphere's default sentence
  assert.equal(
    exec.messages['alerting-rule.ResourceChange'],
    "minikube-user create pods 'nginx-deployment-7998647bdf-phvq7' in Namespace default",
  );
  const get = lines.find((l) => l.decision === 'ignore');
  assert.deepEqual(get, {
    auditID: get.auditID,
    matched: [],
    archived: false,
    alerted: [],
    decision: 'ignore',
    messages: {},
  });
  assert.equal(t.err, '');
});

test('rules test reads events from stdin, KubeSphere {"Items": [...]} batches too, and prints a table by default', async () => {
  const common = {
    Level: 'Metadata',
    Stage: 'ResponseComplete',
    RequestReceivedTimestamp: '2020-06-12T09:23:28.359896Z',
    StageTimestamp: '2020-06-12T09:23:28.459896Z',
  };
  const batch = JSON.stringify({
    Items: [
      {
        ...common,
        AuditID: 'k1',
        RequestURI: '/api/v1/namespaces/ns/pods/p/exec',
        Verb: 'CREATE',
        User: { username: 'bob' },
        ObjectRef: { Resource: 'pods', Namespace: 'ns', Name: 'p', Subresource: 'exec' },
        Workspace: 'ws',
      },
      {
        ...common,
        AuditID: 'k2',
        RequestURI: '/api/v1/namespaces/ns/pods',
        Verb: 'list',
        User: { username: 'bob' },
        ObjectRef: { Resource: 'pods', Namespace: 'ns' },
      },
    ],
  });
  const t = await vigil(['rules', 'test', '--events', '-'], batch);
  assert.equal(t.code, 0);
  const rows = t.out.trim().split('\n');
  assert.match(rows[0], /^AUDIT ID\s+DECISION\s+MATCHED\s+ALERT MESSAGES$/);
  assert.match(
    rows[1],
    /^k1\s+alert\s+archiving-rule\.archiving,alerting-rule\.ResourceChange,alerting-rule\.AttachOrExecPod\s+bob exec Pod p in Namespace ns\.$/,
  );
  assert.match(rows[2], /^k2\s+ignore\s+-$/);
});

test('rules test: --webhook and priority flags change the decision', async () => {
  const webhook = write(
    'webhook.yaml',
    'apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Webhook\nmetadata: {name: w}\nspec:\n  alertingPriority: INFO\n',
  );
  const t = await vigil(['rules', 'test', '--events', falco, '-o', 'json', '--webhook', webhook]);
  assert.equal(t.code, 0);
  const lines = t.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // ResourceChange (INFO) now alerts on every change
  assert.equal(lines.filter((l) => l.decision === 'alert').length, 50);
  const t2 = await vigil([
    'rules',
    'test',
    '--events',
    falco,
    '-o',
    'json',
    '--webhook',
    webhook,
    '--alerting-priority',
    'WARNING',
    '--archiving-priority',
    'INFO',
  ]);
  assert.equal(t2.code, 0);
  const l2 = t2.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(l2.filter((l) => l.decision === 'alert').length, 4);
  const t3 = await vigil(['rules', 'test', '--events', falco, '--alerting-priority', 'LOUD']);
  assert.equal(t3.code, 2);
  assert.match(t3.err, /--alerting-priority must be DEBUG, INFO or WARNING/);
});

test('rules test exits 2 naming the line and field of an event that does not decode', async () => {
  const t = await vigil(
    ['rules', 'test', '--events', '-'],
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get"}\n',
  );
  assert.equal(t.code, 2);
  assert.match(t.err, /^vigil rules test: <stdin>: line 1: .*required/);
});

test('rules test exits 2 with the errors on stderr when a rule file does not load', async () => {
  const bad = write(
    'bad.yaml',
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: b, labels: {type: alerting}}
spec:
  rules:
    - name: r
      type: rule
      condition: Verb in ()
`,
  );
  const t = await vigil(['rules', 'test', '--rules', bad, '--events', falco]);
  assert.equal(t.code, 2);
  assert.match(t.err, /bad\.yaml:8:27: b\.r: condition: "in \(\)" needs at least one value \(column 10 of the text\)/);
  assert.equal(t.out, '');
  const t2 = await vigil(['rules', 'test', '--rules', join(dir, 'nope.yaml'), '--events', falco]);
  assert.equal(t2.code, 2);
  assert.match(t2.err, /cannot read .*nope\.yaml: ENOENT/);
});

test('rules check: OK and exit 0 for good rules, every error with position and exit 1 for bad ones', async () => {
  const t = await vigil(['rules', 'check', DEFAULT_RULES_FILE]);
  assert.equal(t.code, 0);
  assert.match(t.out, /2 Rule resource\(s\), 6 rule\(s\), 3 macro\(s\), 2 list\(s\), 3 alias\(es\): OK/);
  const bad = write(
    'check-bad.yaml',
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: b, labels: {type: alerting}}
spec:
  rules:
    - {name: one, type: rule, condition: 'Verb = "x" AND Verb = "y"'}
    - {name: two, type: rule, condition: 'ObjectRef.Name regex "(("'}
`,
  );
  const t2 = await vigil(['rules', 'check', bad]);
  assert.equal(t2.code, 1);
  const errs = t2.err.trim().split('\n');
  assert.equal(errs.length, 2);
  assert.match(errs[0], /check-bad\.yaml:6:54: b\.one: condition: keywords are lower-case/);
  assert.match(errs[1], /check-bad\.yaml:7:64: b\.two: condition: invalid regex/);
  const t3 = await vigil(['rules', 'check']);
  assert.equal(t3.code, 2);
});

test('rules check --compat kubesphere lists the rules KubeSphere reads differently, with the reason', async () => {
  const file = write(
    'compat.yaml',
    `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: c, labels: {type: alerting}}
spec:
  rules:
    - {name: svcOrPod, type: macro, macro: 'ObjectRef.Resource = "services" or ObjectRef.Resource = "pods"'}
    - {name: create, type: macro, macro: 'Verb = "create"'}
    - {name: podCreate, type: macro, macro: '\${create} and ObjectRef.Resource = "pods"'}
    - {name: odd, type: list, list: ['a"b']}
    - {name: unparenthesized, type: rule, condition: 'Verb = "delete" and \${svcOrPod}'}
    - {name: nested, type: rule, condition: '\${podCreate}'}
    - {name: docSpelling, type: rule, condition: 'User.Username = "admin"'}
    - {name: quoted, type: rule, condition: 'ObjectRef.Name in \${odd}'}
    - {name: negation, type: rule, condition: 'ResponseStatus.reason != "Forbidden"'}
    - {name: fine, type: rule, priority: INFO, condition: 'Verb = "create" and \${create}'}
    - {name: lower, type: rule, priority: warning, condition: 'Verb = "create"'}
`,
  );
  const t = await vigil(['rules', 'check', file, '--compat', 'kubesphere']);
  assert.equal(t.code, 0);
  const out = t.out;
  const line = (rule: string) => out.split('\n').filter((l) => l.includes(`: c.${rule}: `));
  assert.match(
    line('unparenthesized').join('\n'),
    /\[differs\] KubeSphere pastes macros without parentheses: it reads "Verb = "delete" and ObjectRef.Resource = "services" or ObjectRef.Resource = "pods"" as \(\(Verb = "delete" and ObjectRef.Resource = "services"\) or ObjectRef.Resource = "pods"\)/,
  );
  assert.match(line('nested').join('\n'), /\[differs\] macro c\.podCreate uses other references/);
  assert.match(
    line('docSpelling').join('\n'),
    /\[differs\] User.Username: KubeSphere's rule map spells it User.username/,
  );
  assert.ok(line('quoted').some((l) => /\[differs\] list c\.odd has an item with "/.test(l)));
  assert.ok(
    line('quoted').some((l) =>
      /\[differs\] KubeSphere's textual expansion "ObjectRef.Name in \("a"b"\)" does not parse/.test(l),
    ),
  );
  assert.match(
    line('negation').join('\n'),
    /\[note\] ResponseStatus.reason != …: false when ResponseStatus.reason is absent/,
  );
  assert.deepEqual(line('fine'), []);
  assert.match(
    line('lower').join('\n'),
    /\[note\] priority "warning" is not DEBUG, INFO or WARNING \(case-sensitive\)/,
  );
  assert.match(out, /5 difference\(s\) from KubeSphere, \d+ note\(s\)/);
  // KubeSphere's own CreateHostportPod errors where a container has no ports (2020 engine)
  const t2 = await vigil(['rules', 'check', DEFAULT_RULES_FILE, '--compat', 'kubesphere']);
  assert.equal(t2.code, 0);
  assert.match(
    t2.out,
    /alerting-rule\.CreateHostportPod: \[differs\] RequestObject\.spec\.containers\[\*\]\.ports\[\*\]\.hostPort: KubeSphere's engine errors/,
  );
});
