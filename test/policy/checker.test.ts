// Runs the checker tables of checker-cases.ts, then compares the compiled checker with a literal,
// uncompiled restatement of kube-apiserver's checker.go on random policies and requests.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LEVELS, STAGES, type Stage } from '../../src/event/model.ts';
import { unionStages } from '../../src/policy/checker.ts';
import { createPolicyEvaluator, type Policy, type PolicyRule, type RequestAttributes } from '../../src/policy/index.ts';
import { cases, levelCases, requests, rules, unionCases, upstreamPolicyOmitStages } from './checker-cases.ts';

function policyOf(ruleList: PolicyRule[], omitStages?: Stage[], omitManagedFields?: boolean): Policy {
  return { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: ruleList, omitStages, omitManagedFields };
}

describe('upstream level table', () => {
  for (const policyStages of upstreamPolicyOmitStages) {
    for (const [request, level, names] of levelCases) {
      test(`${request} with [${names}] and policy omitStages [${policyStages}] → ${level}`, () => {
        const ruleList: PolicyRule[] = names.map((n) => rules[n]);
        const d = createPolicyEvaluator(policyOf(ruleList, policyStages)).evaluate(requests[request]);
        assert.equal(d.level, level);
        assert.deepEqual(d.omitStages, policyStages);
        // None of upstream's rules is level None, so a None decision means no rule matched, and any other
        // decision names the first rule with that level.
        if (level === 'None') assert.equal(d.rule, null);
        else assert.equal(ruleList[d.rule!]!.level, level);
      });
    }
  }
});

describe('checker cases', () => {
  for (const c of cases) {
    test(`${c.why} (${c.request}, [${c.rules}])`, () => {
      const policy = policyOf(
        c.rules.map((n) => rules[n]),
        c.policyOmitStages,
        c.policyOmitManagedFields,
      );
      const d = createPolicyEvaluator(policy).evaluate(requests[c.request]);
      assert.equal(d.level, c.level);
      assert.deepEqual(d.omitStages, c.omitStages);
      assert.equal(d.rule, c.rule);
      if (c.omitManagedFields !== undefined) assert.equal(d.omitManagedFields, c.omitManagedFields);
    });
  }
});

test('omitStages union: deduplicated, in stage order', () => {
  for (const [a, b, want] of unionCases) assert.deepEqual(unionStages(a, b), want, `${a} ∪ ${b}`);
});

test('decisions are frozen so no caller can change what later requests get', () => {
  const e = createPolicyEvaluator(policyOf([{ level: 'Metadata', omitStages: ['RequestReceived'] }]));
  const d = e.evaluate(requests.podGet);
  assert.throws(() => {
    d.omitStages.push('Panic');
  }, TypeError);
  assert.throws(() => {
    (d as { level: string }).level = 'None';
  }, TypeError);
  assert.deepEqual(e.evaluate(requests.podGet).omitStages, ['RequestReceived']);
});

// --- differential test -------------------------------------------------------------------------------------

/** checker.go restated step by step, with no precompilation: the oracle for the compiled checker. */
function referenceEvaluate(
  policy: Policy,
  a: RequestAttributes,
): { level: string; omitStages: Stage[]; rule: number | null } {
  const has = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === v);
  const matches = (r: PolicyRule): boolean => {
    if (r.users?.length && (!a.user || !has(r.users, a.user.username ?? ''))) return false;
    if (r.userGroups?.length && (!a.user || !(a.user.groups ?? []).some((g) => has(r.userGroups, g)))) return false;
    if (r.verbs?.length && !has(r.verbs, a.verb)) return false;
    if (r.namespaces?.length || r.resources?.length) {
      if (!a.resourceRequest) return false;
      if (r.namespaces?.length && !has(r.namespaces, a.namespace)) return false;
      if (!r.resources?.length) return true;
      const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
      for (const gr of r.resources) {
        if ((gr.group ?? '') !== a.apiGroup && gr.group !== '*') continue;
        if (!gr.resources?.length) return true;
        for (const res of gr.resources) {
          if (gr.resourceNames?.length && !has(gr.resourceNames, a.name)) continue;
          if (res === combined || res === '*') return true;
          if (a.subresource && res.startsWith('*/') && res.slice(2) === a.subresource) return true;
          if (res.endsWith('/*') && res.slice(0, -2) === a.resource) return true;
        }
      }
      return false;
    }
    if (r.nonResourceURLs?.length) {
      if (a.resourceRequest) return false;
      return r.nonResourceURLs.some((s) => {
        if (s === '*' || s === a.path) return true;
        let end = s.length;
        while (end > 0 && s[end - 1] === '*') end--;
        return s.endsWith('*') && a.path.startsWith(s.slice(0, end));
      });
    }
    return true;
  };
  for (let i = 0; i < policy.rules.length; i++) {
    const r = policy.rules[i]!;
    if (matches(r)) {
      const set = new Set([...(policy.omitStages ?? []), ...(r.omitStages ?? [])]);
      return { level: r.level, omitStages: STAGES.filter((s) => set.has(s)), rule: i };
    }
  }
  return { level: 'None', omitStages: STAGES.filter((s) => policy.omitStages?.includes(s)), rule: null };
}

// Small alphabets so that random rules and requests actually collide.
const word = (...w: string[]) => fc.constantFrom(...w);
const names = fc.array(word('alice', 'bob', ''), { maxLength: 2 });
const groups = fc.array(word('devs', 'system:authenticated', 'system:nodes'), { maxLength: 2 });
const verbs = fc.array(word('get', 'list', 'watch', 'update'), { maxLength: 2 });
const namespaces = fc.array(word('', 'default', 'kube-system'), { maxLength: 2 });
const resourceStrings = fc.array(
  word('pods', 'pods/log', 'pods/*', '*', '*/scale', '*/log', 'deployments', 'deployments/scale', '*/*', 'p*'),
  { maxLength: 3 },
);
const groupResources = fc.record(
  {
    group: word('', 'apps', '*'),
    resources: resourceStrings,
    resourceNames: fc.array(word('web', 'busybox', ''), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const urls = fc.array(word('*', '/healthz', '/healthz*', '/api*', '/logs/*', '/version', '/h**'), { maxLength: 2 });
const stages = fc.subarray([...STAGES]);
const rule: fc.Arbitrary<PolicyRule> = fc.record(
  {
    level: fc.constantFrom(...LEVELS),
    users: names,
    userGroups: groups,
    verbs,
    namespaces,
    resources: fc.array(groupResources, { maxLength: 2 }),
    nonResourceURLs: urls,
    omitStages: stages,
    omitManagedFields: fc.boolean(),
  },
  { requiredKeys: ['level'] },
);
const request: fc.Arbitrary<RequestAttributes> = fc.record({
  user: fc.option(fc.record({ username: word('alice', 'bob', ''), groups: groups }, { requiredKeys: [] }), {
    nil: undefined,
  }),
  verb: word('get', 'list', 'watch', 'update'),
  resourceRequest: fc.boolean(),
  path: word('/healthz', '/healthzfoo', '/apis/apps/v1', '/logs', '/logs/x', '/version', '/version/', '/h'),
  namespace: word('', 'default', 'kube-system'),
  apiGroup: word('', 'apps', 'batch'),
  resource: word('pods', 'deployments', 'p', '*'),
  subresource: word('', 'log', 'scale', '*'),
  name: word('', 'web', 'busybox'),
});

test('the compiled checker decides exactly as a literal restatement of checker.go', () => {
  fc.assert(
    fc.property(
      fc.array(rule, { minLength: 1, maxLength: 6 }),
      stages,
      fc.array(request, { maxLength: 20 }),
      (rs, ps, reqs) => {
        const policy = policyOf(rs, ps);
        const evaluator = createPolicyEvaluator(policy);
        for (const a of reqs) {
          const got = evaluator.evaluate(a);
          assert.deepEqual(
            { level: got.level, omitStages: [...got.omitStages], rule: got.rule },
            referenceEvaluate(policy, a),
          );
        }
      },
    ),
    { numRuns: 2000 },
  );
});
