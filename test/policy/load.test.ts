// Loading policies: every validation rule of kube-apiserver, Vigil's strictness (unknown fields), exact
// file:line:column positions, and whole policies as people write them (test/fixtures/policy/).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  createPolicyEvaluator,
  loadPolicy,
  loadPolicyFile,
  type Policy,
  PolicyError,
  type RequestAttributes,
} from '../../src/policy/index.ts';

const HEADER = 'apiVersion: audit.k8s.io/v1\nkind: Policy\n';

/** A policy of test/fixtures/policy/. */
const policyFixture = (name: string) => readFileSync(new URL(`../fixtures/policy/${name}`, import.meta.url), 'utf8');

/** The problems of a policy that must be rejected, as `line:col: path: message` strings. */
function problems(text: string): string[] {
  try {
    loadPolicy(text, 'p.yaml');
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    assert.equal(e.file, 'p.yaml');
    assert.equal(e.line, e.problems[0]!.line);
    assert.equal(e.column, e.problems[0]!.column);
    const where = e.path ? `${e.path}: ` : '';
    assert.equal(e.message.split('\n')[0], `p.yaml:${e.line}:${e.column}: ${where}${e.problems[0]!.message}`);
    return e.message.split('\n').map((l) => l.replace(/^p\.yaml:/, ''));
  }
  assert.fail('expected a PolicyError');
}

const attrs = (a: Partial<RequestAttributes>): RequestAttributes => ({
  user: { username: 'alice', groups: ['system:authenticated'] },
  verb: 'get',
  resourceRequest: true,
  path: '/',
  namespace: '',
  apiGroup: '',
  resource: '',
  subresource: '',
  name: '',
  ...a,
});

describe('loading', () => {
  test('a full v1 policy loads into the Policy shape', () => {
    const p = loadPolicy(
      `${HEADER}metadata:\n  name: audit\nomitStages: [RequestReceived]\nomitManagedFields: true\nrules:
- level: RequestResponse
  users: [alice]
  userGroups: [devs]
  verbs: [get, list]
  namespaces: ["", default]
  resources:
  - group: apps
    resources: [deployments, deployments/scale]
    resourceNames: [web]
  - {}
  omitStages: [Panic]
  omitManagedFields: false
- level: None
  nonResourceURLs: ["/healthz*", "*"]
`,
    );
    const want: Policy = {
      apiVersion: 'audit.k8s.io/v1',
      kind: 'Policy',
      metadata: { name: 'audit' },
      omitStages: ['RequestReceived'],
      omitManagedFields: true,
      rules: [
        {
          level: 'RequestResponse',
          users: ['alice'],
          userGroups: ['devs'],
          verbs: ['get', 'list'],
          namespaces: ['', 'default'],
          resources: [{ group: 'apps', resources: ['deployments', 'deployments/scale'], resourceNames: ['web'] }, {}],
          omitStages: ['Panic'],
          omitManagedFields: false,
        },
        { level: 'None', nonResourceURLs: ['/healthz*', '*'] },
      ],
    };
    assert.deepEqual(p, want);
  });

  test('v1beta1 is accepted (old policies are common); v1alpha1 and others are not', () => {
    assert.equal(
      loadPolicy('apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]').apiVersion,
      'audit.k8s.io/v1beta1',
    );
    assert.deepEqual(problems('apiVersion: audit.k8s.io/v1alpha1\nkind: Policy\nrules: [{level: None}]'), [
      '1:13: apiVersion: unsupported value "audit.k8s.io/v1alpha1": must be one of audit.k8s.io/v1, audit.k8s.io/v1beta1 (v1alpha1 policies: change it to v1)',
    ]);
  });

  test('null and empty lists mean "any", as in Go', () => {
    const p = loadPolicy(`${HEADER}rules:\n- level: Metadata\n  users:\n  verbs: []\n  resources: ~\n`);
    assert.deepEqual(p.rules, [{ level: 'Metadata', verbs: [] }]);
  });

  test('YAML anchors and aliases resolve', () => {
    const p = loadPolicy(
      `${HEADER}metadata: {name: &n audit, labels: {copy: *n}}\nrules:\n- &r\n  level: Request\n  verbs: [get]\n- *r\n`,
    );
    assert.deepEqual(p.metadata, { name: 'audit', labels: { copy: 'audit' } });
    assert.deepEqual(p.rules, [
      { level: 'Request', verbs: ['get'] },
      { level: 'Request', verbs: ['get'] },
    ]);
  });
});

describe('rejections name file, line, column and field', () => {
  const cases: [string, string, string[]][] = [
    [
      'an unknown field, with a suggestion',
      `${HEADER}rules:\n- level: None\n  resources:\n  - groups: apps\n`,
      ['6:5: rules[0].resources[0].groups: unknown field (did you mean "group"?)'],
    ],
    [
      'an unknown top-level field',
      `${HEADER}rule:\n- level: None\nrules: [{level: None}]\n`,
      ['3:1: rule: unknown field (did you mean "rules"?)'],
    ],
    [
      'an alias without an anchor',
      `${HEADER}rules:\n- level: None\n  verbs: [get, *verb]\n`,
      ['5:16: rules[0].verbs[1]: expected a string, got an unknown alias *verb'],
    ],
    [
      'an unknown rule field without a close name',
      `${HEADER}rules:\n- level: None\n  kinds: [Pod]\n`,
      ['5:3: rules[0].kinds: unknown field'],
    ],
    [
      'a missing level',
      `${HEADER}rules:\n- verbs: [get]\n`,
      ['4:3: rules[0].level: required: one of None, Metadata, Request, RequestResponse'],
    ],
    [
      'an empty level',
      `${HEADER}rules:\n- level: ""\n`,
      ['4:10: rules[0].level: required: one of None, Metadata, Request, RequestResponse'],
    ],
    [
      'a bad level',
      `${HEADER}rules:\n- level: metadata\n`,
      [
        '4:10: rules[0].level: unsupported value "metadata": must be one of None, Metadata, Request, RequestResponse (did you mean "Metadata"?)',
      ],
    ],
    [
      'a bad policy stage',
      `${HEADER}omitStages: [Received]\nrules: [{level: None}]\n`,
      [
        '3:14: omitStages[0]: unsupported value "Received": must be one of RequestReceived, ResponseStarted, ResponseComplete, Panic (did you mean "RequestReceived"?)',
      ],
    ],
    [
      'a bad rule stage',
      `${HEADER}rules:\n- level: None\n  omitStages:\n  - ResponseComplete\n  - panic\n`,
      [
        '7:5: rules[0].omitStages[1]: unsupported value "panic": must be one of RequestReceived, ResponseStarted, ResponseComplete, Panic (did you mean "Panic"?)',
      ],
    ],
    [
      'a string for a list',
      `${HEADER}rules:\n- level: None\n  verbs: get\n`,
      ['5:10: rules[0].verbs: expected a list of strings, got the string "get"'],
    ],
    [
      'a number in a list',
      `${HEADER}rules:\n- level: None\n  namespaces: [a, 12]\n`,
      ['5:19: rules[0].namespaces[1]: expected a string, got number 12'],
    ],
    [
      'a string for a boolean',
      `${HEADER}omitManagedFields: "yes"\nrules: [{level: None}]\n`,
      ['3:20: omitManagedFields: expected true or false, got the string "yes"'],
    ],
    [
      'a mapping for rules',
      `${HEADER}rules:\n  level: None\n`,
      ['4:3: rules: expected a list of rules, got a mapping'],
    ],
    [
      'a list for a rule',
      `${HEADER}rules:\n- [level, None]\n`,
      ['4:3: rules[0]: expected a rule (a mapping), got a list'],
    ],
    ['0 rules', `${HEADER}rules: []\n`, ['3:1: rules: a policy needs at least one rule']],
    ['no rules field', HEADER, ['1:1: rules: a policy needs at least one rule']],
    [
      'a missing apiVersion and kind',
      'rules: [{level: None}]\n',
      ['1:1: apiVersion: required: one of audit.k8s.io/v1, audit.k8s.io/v1beta1', '1:1: kind: required: Policy'],
    ],
    [
      'another kind',
      'apiVersion: audit.k8s.io/v1\nkind: Event\nrules: [{level: None}]\n',
      ['2:7: kind: unsupported value "Event": must be one of Policy'],
    ],
    [
      'a PolicyList',
      'apiVersion: audit.k8s.io/v1\nkind: PolicyList\nitems: []\n',
      [
        '2:7: kind: a PolicyList is not supported: give one Policy per file',
        '3:1: items: unknown field',
        '1:1: rules: a policy needs at least one rule',
      ].sort(byPosition),
    ],
    [
      'a second YAML document',
      `${HEADER}rules: [{level: None}]\n---\n${HEADER}rules: [{level: None}]\n`,
      ['4:1: a policy file holds exactly one YAML document; found a second one here'],
    ],
    [
      'an empty file',
      '# nothing\n',
      ['1:1: empty file: expected an audit Policy (apiVersion: audit.k8s.io/v1, kind: Policy)'],
    ],
    ['a scalar document', 'hello\n', ['1:1: expected an audit Policy (a mapping), got the string "hello"']],
    [
      'a duplicate key',
      `${HEADER}rules: [{level: None}]\nrules: [{level: None}]\n`,
      ['4:1: invalid YAML: Map keys must be unique'],
    ],
    [
      'broken YAML',
      `${HEADER}rules: [\n`,
      ['4:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ],
    [
      'a non-resource URL without a leading slash',
      `${HEADER}rules:\n- level: None\n  nonResourceURLs: [healthz]\n`,
      ['5:21: rules[0].nonResourceURLs[0]: "healthz": non-resource URL rules must begin with a \'/\' character'],
    ],
    [
      'an empty non-resource URL',
      `${HEADER}rules:\n- level: None\n  nonResourceURLs: [""]\n`,
      ['5:21: rules[0].nonResourceURLs[0]: "": non-resource URL rules must begin with a \'/\' character'],
    ],
    [
      'a star before the end of a URL',
      `${HEADER}rules:\n- level: None\n  nonResourceURLs: ["/api/*/x", "/ok*"]\n`,
      [
        '5:21: rules[0].nonResourceURLs[0]: "/api/*/x": non-resource URL wildcards \'*\' must be the final character of the rule',
      ],
    ],
    [
      'URLs with resources',
      `${HEADER}rules:\n- level: None\n  nonResourceURLs: ["/x"]\n  resources: [{group: ""}]\n`,
      [
        '5:3: rules[0].nonResourceURLs: rules cannot apply to both regular resources (resources, namespaces) and non-resource URLs',
      ],
    ],
    [
      'URLs with namespaces',
      `${HEADER}rules:\n- level: None\n  namespaces: [a]\n  nonResourceURLs: ["/x"]\n`,
      [
        '6:3: rules[0].nonResourceURLs: rules cannot apply to both regular resources (resources, namespaces) and non-resource URLs',
      ],
    ],
    [
      'a group with a version',
      `${HEADER}rules:\n- level: None\n  resources:\n  - group: rbac.authorization.k8s.io/v1beta1\n`,
      [
        '6:12: rules[0].resources[0].group: "rbac.authorization.k8s.io/v1beta1": must be a lower-case DNS subdomain (e.g. "apps", "rbac.authorization.k8s.io"), "" for the core group or "*" for all groups; an API group has no version ("apps", not "apps/v1")',
      ],
    ],
    [
      'an upper-case group',
      `${HEADER}rules:\n- level: None\n  resources:\n  - group: Apps\n`,
      [
        '6:12: rules[0].resources[0].group: "Apps": must be a lower-case DNS subdomain (e.g. "apps", "rbac.authorization.k8s.io"), "" for the core group or "*" for all groups',
      ],
    ],
    [
      'a blank group (groups-typo.yaml after the typo)',
      `${HEADER}rules:\n- level: None\n  resources:\n  - group: " "\n`,
      [
        '6:12: rules[0].resources[0].group: " ": must be a lower-case DNS subdomain (e.g. "apps", "rbac.authorization.k8s.io"), "" for the core group or "*" for all groups',
      ],
    ],
    [
      'a too long group',
      `${HEADER}rules:\n- level: None\n  resources:\n  - group: ${'a'.repeat(254)}\n`,
      [`6:12: rules[0].resources[0].group: "${'a'.repeat(254)}": must be no more than 253 characters`],
    ],
    [
      'resourceNames without resources',
      `${HEADER}rules:\n- level: None\n  resources:\n  - group: apps\n    resourceNames: [web]\n`,
      ['7:5: rules[0].resources[0].resourceNames: using resourceNames requires at least one resource'],
    ],
  ];
  for (const [why, text, want] of cases) {
    test(why, () => assert.deepEqual(problems(text), want));
  }

  test('every problem is reported, in file order', () => {
    const got = problems(`${HEADER}rules:\n- level: Everything\n  verbs: get\n- users: [a]\n  colour: red\n`);
    assert.deepEqual(got, [
      '4:10: rules[0].level: unsupported value "Everything": must be one of None, Metadata, Request, RequestResponse',
      '5:10: rules[0].verbs: expected a list of strings, got the string "get"',
      '6:3: rules[1].level: required: one of None, Metadata, Request, RequestResponse',
      '7:3: rules[1].colour: unknown field',
    ]);
  });

  test('group "" and "*" are valid', () => {
    const p = loadPolicy(`${HEADER}rules:\n- level: None\n  resources:\n  - group: ""\n  - group: "*"\n`);
    assert.deepEqual(p.rules[0]!.resources, [{ group: '' }, { group: '*' }]);
  });
});

function byPosition(a: string, b: string): number {
  const [la, ca] = a.split(':').map(Number);
  const [lb, cb] = b.split(':').map(Number);
  return la! - lb! || ca! - cb!;
}

describe('whole policies', () => {
  test('"groups" for "group" is rejected, named with file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-policy-'));
    try {
      const path = join(dir, 'audit-policy.yaml');
      writeFileSync(path, policyFixture('groups-typo.yaml'));
      await assert.rejects(loadPolicyFile(path), (e: unknown) => {
        assert.ok(e instanceof PolicyError);
        assert.equal(e.file, path);
        assert.equal(e.line, 8);
        assert.equal(e.column, 5);
        assert.equal(e.path, 'rules[0].resources[0].groups');
        assert.equal(
          e.message,
          `${path}:8:5: rules[0].resources[0].groups: unknown field (did you mean "group"?)\n` +
            `${path}:15:5: rules[1].resources[0].groups: unknown field (did you mean "group"?)`,
        );
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the same policy with the typo fixed (group: "") evaluates rule by rule', () => {
    const policy = loadPolicy(
      policyFixture('groups-typo.yaml').replaceAll('- groups: " "', '- group: ""'),
      'fixed.yaml',
    );
    const e = createPolicyEvaluator(policy);
    const del = attrs({ verb: 'delete', namespace: 'payments', resource: 'pods', name: 'ledger-0' });
    assert.deepEqual(
      { ...e.evaluate(del) },
      {
        level: 'RequestResponse',
        omitStages: ['RequestReceived'],
        omitManagedFields: false,
        rule: 0,
      },
    );
    // Another pod, another verb or another namespace falls through; secrets anywhere are Metadata.
    assert.equal(e.evaluate({ ...del, name: 'other' }).level, 'None');
    assert.equal(e.evaluate({ ...del, verb: 'get' }).level, 'None');
    assert.equal(e.evaluate({ ...del, namespace: 'dev' }).level, 'None');
    const secret = e.evaluate(attrs({ verb: 'list', namespace: 'dev', resource: 'secrets' }));
    assert.deepEqual([secret.level, secret.rule, secret.omitStages], ['Metadata', 1, ['RequestReceived']]);
  });

  test("KubeSphere's minimal policy logs every request at Metadata", () => {
    const text = `# Log all requests at the Metadata level.\n${HEADER}rules:\n- level: Metadata\n`;
    const e = createPolicyEvaluator(loadPolicy(text, 'audit-policy.yaml'));
    for (const a of [
      attrs({ resource: 'pods', namespace: 'default' }),
      attrs({ resourceRequest: false, path: '/healthz', user: undefined }),
      attrs({ verb: 'delete', apiGroup: 'apps', resource: 'deployments', subresource: 'scale' }),
    ]) {
      assert.deepEqual({ ...e.evaluate(a) }, { level: 'Metadata', omitStages: [], omitManagedFields: false, rule: 0 });
    }
  });

  test('a policy without apiVersion/kind: rejected as kube-apiserver does, and loads once they are added', () => {
    const text = policyFixture('no-header.yaml');
    assert.deepEqual(problems(text), [
      '1:1: apiVersion: required: one of audit.k8s.io/v1, audit.k8s.io/v1beta1',
      '1:1: kind: required: Policy',
    ]);
    const e = createPolicyEvaluator(loadPolicy(HEADER + text));
    const decide = (a: Partial<RequestAttributes>) => {
      const d = e.evaluate(attrs(a));
      return [d.level, d.rule];
    };
    const kubeProxy = { username: 'system:kube-proxy', groups: ['system:authenticated'] };
    // 0: kube-proxy's watches of endpoints and services
    assert.deepEqual(decide({ user: kubeProxy, verb: 'watch', resource: 'endpoints' }), ['None', 0]);
    assert.deepEqual(decide({ user: kubeProxy, verb: 'watch', resource: 'services' }), ['None', 0]);
    assert.deepEqual(decide({ user: kubeProxy, verb: 'list', resource: 'services' }), ['Request', 4]);
    // 1: authenticated requests to discovery and version paths (/api* has no segment boundary)
    assert.deepEqual(decide({ resourceRequest: false, path: '/apis/apps/v1' }), ['None', 1]);
    assert.deepEqual(decide({ resourceRequest: false, path: '/version' }), ['None', 1]);
    assert.deepEqual(decide({ resourceRequest: false, path: '/healthz' }), ['Metadata', 5]);
    assert.deepEqual(decide({ resourceRequest: false, path: '/version', user: undefined }), ['Metadata', 5]);
    // 2: configmaps in kube-system
    assert.deepEqual(decide({ verb: 'update', namespace: 'kube-system', resource: 'configmaps' }), ['Request', 2]);
    // 3: configmaps and secrets elsewhere
    assert.deepEqual(decide({ verb: 'update', namespace: 'default', resource: 'configmaps' }), ['Metadata', 3]);
    assert.deepEqual(decide({ verb: 'get', namespace: 'kube-system', resource: 'secrets' }), ['Metadata', 3]);
    // 4: the rest of the core and extensions groups
    assert.deepEqual(decide({ namespace: 'default', resource: 'pods', subresource: 'log' }), ['Request', 4]);
    assert.deepEqual(decide({ namespace: 'default', apiGroup: 'extensions', resource: 'ingresses' }), ['Request', 4]);
    // 5: everything else
    assert.deepEqual(decide({ namespace: 'default', apiGroup: 'apps', resource: 'deployments' }), ['Metadata', 5]);
  });
});
