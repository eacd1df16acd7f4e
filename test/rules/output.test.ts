// biome-ignore-all lint/suspicious/noTemplateCurlyInString: rule conditions and outputs write references as ${name}
// Alert messages: output templates with aliases, lists, $N, fields; the default sentence without output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRuleSet, RuleLoadError } from '../../src/rules/index.ts';
import { ITEMS, podCreate } from './helpers.ts';

function render(output: string, e = podCreate()): string {
  const text = `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: test, labels: {type: alerting}}
spec:
  rules:${ITEMS}
    - {name: user, type: alias, alias: User.username}
    - {name: r, type: rule, enable: true, priority: WARNING, condition: 'Verb = "create"', output: ${JSON.stringify(output)}}
`;
  const rs = buildRuleSet([{ file: 't.yaml', text }]);
  return rs.rules[0].render(e);
}

const sa = podCreate({ objectRef: { resource: 'serviceaccounts', name: 'system:serviceaccount:kube-system:default' } });

const rows: [string, string, ReturnType<typeof podCreate>?][] = [
  ['${user} ${Verb} a HostNetwork Pod ${name} in ${ns}.', 'alice create a HostNetwork Pod ${name} in demo.'],
  [
    '${user} ${Verb} HostNetwork Pod ${ObjectRef.Name} in Namespace ${ns}.',
    'alice create HostNetwork Pod nginx-1 in Namespace demo.',
  ],
  // numbers print as numbers (KubeSphere: %!s(float64=201)), missing fields as nothing (KubeSphere: %!s(<nil>))
  ['code ${ResponseStatus.code}', 'code 201'],
  ['reason [${ResponseStatus.reason}]', 'reason []'],
  ['${RequestObject.spec.ratio} ${RequestObject.spec.hostNetwork}', '0.5 true'],
  ['${User.groups}', '[system:authenticated platform-admins]'],
  ['${User.Username}', 'alice'],
  ['${action}', 'create, delete'],
  ['100% ${Verb}', '100% create'],
  ['no slots', 'no slots'],
  ['${$3}/${$4}', 'kube-system/default', sa],
  ['${$9}', '', sa],
  ['${hn}', 'true'],
];

for (const [output, want, e] of rows) {
  test(`output ${output}`, () => {
    if (want.includes('${name}')) {
      // `name` is not defined in this resource: it is not a field either
      assert.throws(() => render(output, e), RuleLoadError);
      return;
    }
    assert.equal(render(output, e), want);
  });
}

test('an output naming a macro, a selection or an unknown field is rejected with its position', () => {
  for (const [output, msg, col] of [
    ['x ${pod}', /is a macro/, 3],
    ['${User.groups[0]}', /not \[\.\.\.\] selections/, 1],
    ['a ${Nope}', /unknown field "Nope"/, 3],
  ] as const) {
    assert.throws(
      () => render(output),
      (err: unknown) => {
        assert.ok(err instanceof RuleLoadError);
        assert.match(err.errors[0].message, msg);
        assert.equal(err.errors[0].textColumn, col);
        return true;
      },
    );
  }
});

test('without output, the default sentence names user, verb, resource, name and where', async () => {
  const text = `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: t, labels: {type: alerting}}
spec:
  rules:
    - {name: r, type: rule, enable: true, priority: WARNING, condition: 'Verb exists'}
`;
  const r = buildRuleSet([{ file: 't.yaml', text }]).rules[0];
  assert.equal(r.render(podCreate()), "alice create pods 'nginx-1' in Namespace demo");
  const ns = podCreate({ objectRef: { resource: 'namespaces', name: 'demo' }, workspace: 'ws1' });
  assert.equal(r.render(ns), "alice create namespaces 'demo' in Workspace ws1");
  const dev = podCreate({ objectRef: { resource: 'pipelines', name: 'p', namespace: 'x' }, devops: 'proj' });
  assert.equal(r.render(dev), "alice create pipelines 'p' in Devops proj");
  const cluster = podCreate({ objectRef: { resource: 'nodes', name: 'n1' }, workspace: '' });
  assert.equal(r.render(cluster), "alice create nodes 'n1'");
});
