// Loading Rule resources: files, folders, multi-document YAML, strict item checks with file positions.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildRuleSet, loadDefaultRules, loadRules, RuleLoadError } from '../../src/rules/index.ts';
import { tempDir } from '../helpers/temp.ts';

const CR = (name: string, body: string, labels = '{type: archiving}') => `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata:
  name: ${name}
  labels: ${labels}
spec:
  rules:
${body}`;

function errorsOf(text: string) {
  try {
    buildRuleSet([{ file: 'x.yaml', text }]);
  } catch (err) {
    if (err instanceof RuleLoadError) return err.errors;
    throw err;
  }
  assert.fail('accepted');
}

test('a folder of multi-document YAML loads every Rule resource; Webhook documents are skipped', async () => {
  const dir = tempDir('vigil-rules-');
  writeFileSync(
    join(dir, 'a.yaml'),
    `${CR('one', '    - {name: r1, type: rule, enable: true, condition: \'Verb = "create"\'}\n')}---\n${CR('two', '    - {name: r2, type: rule, condition: \'Verb = "delete"\'}\n')}`,
  );
  writeFileSync(
    join(dir, 'b.yml'),
    'apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Webhook\nmetadata: {name: w}\nspec: {}\n',
  );
  writeFileSync(join(dir, 'notes.txt'), 'not yaml: [');
  const rs = await loadRules(dir);
  assert.deepEqual(
    rs.rules.map((r) => [r.name, r.item.enable]),
    [
      ['one.r1', true],
      // enable omitted means false (no omitempty in KubeSphere's type)
      ['two.r2', false],
    ],
  );
  assert.deepEqual(
    rs.resources.map((r) => r.name),
    ['one', 'two'],
  );
});

test('errors name file, rule and line:column of the condition itself', () => {
  const text = CR(
    'cr',
    `    - name: good
      type: rule
      condition: Verb = "create"
    - name: bad
      type: rule
      condition: Verb = "create" AND Verb = "x"
`,
  );
  const [e] = errorsOf(text);
  assert.equal(e.file, 'x.yaml');
  assert.equal(e.rule, 'cr.bad');
  assert.equal(e.line, 13);
  // column of "AND" in the file: 18 (condition value start) + 16
  assert.equal(e.column, 34);
  assert.equal(e.textColumn, 17);
  assert.match(String(e), /^x\.yaml:13:34: cr\.bad: condition: keywords are lower-case/);
});

test('every problem is reported, not only the first', () => {
  const errs = errorsOf(
    CR(
      'cr',
      `    - {name: a, type: rule, condition: 'Verb = '}
    - {name: b, type: Rule, condition: 'Verb = "x"'}
    - {name: c, type: rule}
    - {name: d, type: list, list: [get, 200]}
    - {name: e, type: rule, condition: 'Verb = "x"', enabled: true}
    - {name: a, type: macro, macro: 'Verb = "x"'}
    - {type: rule, condition: 'Verb = "x"'}
    - {name: f, type: rule, condition: 'Verb = "x"', enable: "yes"}
`,
    ),
  );
  const msgs = errs.map((e) => `${e.rule ?? ''} ${e.message}`);
  for (const re of [
    /cr\.a condition: expected a value/,
    /cr\.b type must be one of rule, macro, list, alias \(lower-case\), found "Rule"/,
    /cr\.c a rule item needs "condition"/,
    /cr\.d list item 200 must be a string: quote it/,
    /cr\.e unknown member "enabled"/,
    /cr\.a duplicate item name "a"/,
    /item needs a name/,
    /cr\.f enable must be true or false/,
  ]) {
    assert.ok(
      msgs.some((m) => re.test(m)),
      `${re} not in\n${msgs.join('\n')}`,
    );
  }
  assert.ok(errs.every((e) => e.line && e.column));
});

test('YAML syntax errors, wrong kinds and versions, duplicate resources are reported with positions', () => {
  assert.match(String(errorsOf('a: [\n')[0]), /^x\.yaml:\d+:\d+: /);
  assert.match(errorsOf('apiVersion: v1\nkind: ConfigMap\n')[0].message, /expected kind: Rule, found "ConfigMap"/);
  assert.match(
    errorsOf('apiVersion: auditing.kubesphere.io/v2\nkind: Rule\n')[0].message,
    /expected apiVersion: auditing.kubesphere.io\/v1alpha1/,
  );
  const dup = CR('same', '    - {name: r, type: rule, condition: \'Verb = "x"\'}\n');
  assert.match(errorsOf(`${dup}---\n${dup}`)[0].message, /Rule "same" is also defined in x\.yaml/);
});

test("KubeSphere's shipped rules load as Vigil's defaults", async () => {
  const rs = await loadDefaultRules();
  assert.deepEqual(
    rs.rules.map((r) => `${r.name}:${r.item.priority}:${r.item.enable}`),
    [
      'archiving-rule.archiving:DEBUG:true',
      'alerting-rule.ResourceChange:INFO:true',
      'alerting-rule.CreateHostnetworkPod:WARNING:true',
      'alerting-rule.CreateHostportPod:WARNING:true',
      'alerting-rule.CreateNodeportService:WARNING:true',
      'alerting-rule.AttachOrExecPod:WARNING:true',
    ],
  );
  // The same two resources as the reference data file, which also holds the Webhook.
  const kubesphere = await loadRules(new URL('../fixtures/kubesphere/default-rules.yaml', import.meta.url).pathname);
  assert.deepEqual(
    kubesphere.rules.map((r) => [r.name, r.item.condition]),
    rs.rules.map((r) => [r.name, r.item.condition]),
  );
});

test('an error in a multi-line literal block condition points at its line and column in the file', () => {
  const text = CR(
    'cr',
    `    - name: multi
      type: rule
      condition: |
        Verb = "create" and
          ObjectRef.Resource ~ "pods"
`,
  );
  const [e] = errorsOf(text);
  assert.equal(e.textLine, 2);
  assert.equal(e.textColumn, 22);
  assert.equal(e.line, 12);
  assert.equal(e.column, 30);
  assert.match(
    String(e),
    /x\.yaml:12:30: cr\.multi: condition: unexpected character "~" \(line 2, column 22 of the text\)/,
  );
});
