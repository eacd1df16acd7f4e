// `vigil rules test` and `vigil rules check` on Falco's ruleset, unchanged, and on Falco rules files with problems.
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vigil } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/temp.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/falco/${name}`, import.meta.url));
const RULES = fixture('k8s_audit_rules.yaml');
const EVENTS = fixture('k8saudit-events.jsonl');
const dir = tempDir('vigil-falco-cli-');
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test("rules test -o json on Falco's ruleset: per event the rules that fire, with their rendered output", async () => {
  const t = await vigil(['rules', 'test', '--rules', RULES, '--events', EVENTS, '-o', 'json']);
  assert.equal(t.code, 0, t.err);
  assert.equal(t.err, '');
  const lines = t.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 51);
  // Line 48 is exec_pod.json: the command comes from the request URI's query.
  const exec = lines[47];
  assert.deepEqual(exec.matched, ['Attach/Exec Pod']);
  assert.deepEqual(exec.falco, [
    {
      rule: 'Attach/Exec Pod',
      priority: 'Notice',
      output:
        'Attach/Exec to pod (user=minikube-user pod=nginx-deployment-7998647bdf-phvq7 resource=pods ns=default action=exec command=bash)',
      tags: ['k8s'],
    },
  ]);
  assert.equal(exec.messages['Attach/Exec Pod'], exec.falco[0].output);
  // NOTICE is below the default minimum priority (WARNING): stored, no alert.
  assert.equal(exec.decision, 'archive');
  // attach_pod.json has no command: Falco prints <NA>.
  assert.match(lines[2].messages['Attach/Exec Pod'], /action=attach command=<NA>\)$/);
  // The anonymous namespace creation: the first matching rule (rule_matching: first) is a WARNING: it alerts.
  assert.deepEqual(lines[0].matched, ['Anonymous Request Allowed']);
  assert.deepEqual(lines[0].alerted, ['Anonymous Request Allowed']);
  assert.equal(
    lines[0].messages['Anonymous Request Allowed'],
    'Request by anonymous user allowed (user=system:anonymous verb=create uri=/api/v1/namespaces reason=))',
  );
  // An event no Falco rule fires on (and no KubeSphere rule loaded): not stored.
  const quiet = lines.filter((l) => l.decision === 'ignore');
  assert.deepEqual(
    quiet.map((l) => l.matched),
    quiet.map(() => []),
  );
  assert.equal(quiet.length, 5);
  assert.equal(lines.filter((l) => l.decision === 'alert').length, 26);
});

test("rules check on Falco's unchanged ruleset: OK, nothing to report", async () => {
  const t = await vigil(['rules', 'check', RULES]);
  assert.equal(t.code, 0);
  assert.equal(t.err, '');
  assert.equal(
    t.out,
    `${RULES}: Falco: 48 k8s_audit rule(s), 45 macro(s), 18 list(s), 0 rule(s) of other sources skipped: OK\n`,
  );
});

test('rules check reports each unknown field and unsupported construct at its file:line:column, exit 1', async () => {
  const bad = write(
    'bad.yaml',
    [
      '- macro: kevt',
      '  condition: ka.stage = ResponseComplete',
      '- rule: Unknown field',
      '  desc: d',
      '  condition: kevt and ka.user.nam = bob',
      '  output: x',
      '  priority: WARNING',
      '  source: k8s_audit',
      '- rule: Folded',
      '  desc: d',
      '  condition: >',
      '    kevt and',
      '    ka.verb in (create, update) and tolower(ka.user.name) = bob and',
      '    len(ka.user.name) > 3',
      '  output: x',
      '  priority: WARNING',
      '  source: k8s_audit',
      '- rule: List operator',
      '  desc: d',
      '  condition: ka.user.groups contains admins',
      '  output: "user %ka.user.nam"',
      '  priority: WARNING',
      '  source: k8s_audit',
      '- rule: Undefined macro',
      '  desc: d',
      '  condition: kevt and no_such_macro',
      '  output: x',
      '  priority: LOUD',
      '  source: k8s_audit',
      '- rule: A syscall rule',
      '  desc: d',
      '  condition: evt.type = execve and proc.name = bash',
      '  output: x',
      '  priority: WARNING',
      '- rule: Later',
      '  desc: d',
      '  condition: kevt',
      '  output: "%ka.user.name"',
      '  priority: INFO',
      '  source: k8s_audit',
      '  capture: true',
      '  frobnicate: 1',
    ].join('\n'),
  );
  const t = await vigil(['rules', 'check', bad]);
  assert.equal(t.code, 1);
  assert.equal(t.out, '');
  const lines = t.err.trim().split('\n');
  assert.deepEqual(lines, [
    `${bad}:5:23: rule "Unknown field": unknown field "ka.user.nam" for source k8s_audit; did you mean one of ka.user.name, ka.user.groups?`,
    `${bad}:14:5: rule "Folded": the len() transformer is not supported by Vigil`,
    `${bad}:20:14: rule "List operator": 'contains' operator not supported for list filters (ka.user.groups)`,
    `${bad}:21:18: rule "List operator": output: unknown field "ka.user.nam" for source k8s_audit; did you mean one of ka.user.name, ka.user.groups?`,
    `${bad}:28:13: rule "Undefined macro": Invalid priority`,
  ]);
});

test('a folder: Falco files load in name order beside KubeSphere Rule resources, a local file overriding', async () => {
  const d = tempDir('vigil-falco-dir-');
  copyFileSync(RULES, join(d, '10-k8s_audit_rules.yaml'));
  writeFileSync(
    join(d, '20-falco_rules.local.yaml'),
    [
      '- list: allowed_k8s_users',
      '  items: [some-user]',
      '  override: {items: append}',
      '- rule: K8s Namespace Deleted',
      '  priority: WARNING',
      '  override: {priority: replace}',
    ].join('\n'),
  );
  writeFileSync(
    join(d, 'kubesphere.yaml'),
    [
      'apiVersion: auditing.kubesphere.io/v1alpha1',
      'kind: Rule',
      'metadata: {name: ks, labels: {type: archiving}}',
      'spec:',
      '  rules:',
      '    - {name: creates, type: rule, enable: true, priority: INFO, condition: \'Verb = "create"\'}',
    ].join('\n'),
  );
  const t = await vigil(['rules', 'test', '--rules', d, '--events', EVENTS, '-o', 'json']);
  assert.equal(t.code, 0, t.err);
  const lines = t.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // some_user_creates_namespace_foo: some-user is now allowed, so the first Falco rule is the namespace one.
  assert.deepEqual(lines[50].matched, ['ks.creates', 'Create Disallowed Namespace']);
  // delete_namespace_foo: K8s Namespace Deleted is now a WARNING, and alerts.
  assert.deepEqual(lines[43].matched, ['K8s Namespace Deleted']);
  assert.deepEqual(lines[43].alerted, ['K8s Namespace Deleted']);
  assert.equal(lines[43].falco[0].priority, 'Warning');
  const check = await vigil(['rules', 'check', d]);
  assert.equal(check.code, 0, check.err);
  assert.deepEqual(check.out.trim().split('\n'), [
    `${d}: 1 Rule resource(s), 1 rule(s), 0 macro(s), 0 list(s), 0 alias(es): OK`,
    `${d}: Falco: 48 k8s_audit rule(s), 45 macro(s), 18 list(s), 0 rule(s) of other sources skipped: OK`,
  ]);
});
