// biome-ignore-all lint/suspicious/noTemplateCurlyInString: rule conditions write references as ${name}
// Policy YAML, Rule YAML and the condition language under hostile input: random YAML documents, mutations of
// valid ones (a policy with a typo, a GCE-like policy, KubeSphere's default rules), random token sequences of the
// condition grammar. Each yields a usable result or the documented error with a position inside the text.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type AuditEvent, decodeEvents } from '../../src/event/index.ts';
import { createPolicyEvaluator, loadPolicy, type Policy, PolicyError } from '../../src/policy/index.ts';
import {
  buildRuleSet,
  DEFAULT_RULE_LIMITS,
  RuleLoadError,
  RuleRuntimeError,
  type RuleSet,
} from '../../src/rules/index.ts';
import { parseSinkConfig, SinkConfigError } from '../../src/sinks/config.ts';
import { assertPrototypeClean, expectResultOrError, fixture, mutated, mutatedText, nastyValue } from './helpers.ts';

const typoPolicy = readFileSync(new URL('../fixtures/policy/groups-typo.yaml', import.meta.url), 'utf8');
const gcePolicy = readFileSync(new URL('../fixtures/policy/gce-like-policy.yaml', import.meta.url), 'utf8');
const defaultRules = readFileSync(new URL('../../src/rules/default-rules.yaml', import.meta.url), 'utf8');
const events: AuditEvent[] = decodeEvents(fixture('falco/k8saudit-events.jsonl'));

function lineCount(text: string): number {
  return text.split('\n').length;
}

const RUNS = 200;

/** Random YAML: JSON-ish values, YAML-only syntax (anchors, tags, flow, multi-docs), and plain noise. */
const randomYaml = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map(toYaml),
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc
    .array(
      fc.constantFrom(
        'a: &x [1, 2]\n',
        'b: *x\n',
        'c: *missing\n',
        'metadata: {name: *missing}\n',
        'l0: &l0 [x, x, x, x, x, x, x, x, x]\nl1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\nl2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\nl3: [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n',
        '---\n',
        '...\n',
        '!!binary aGk=\n',
        'd: !!int "x"\n',
        '? [k]\n: v\n',
        'e: {f: [g, {h: i}]}\n',
        '  - bad indent\n',
        'rules:\n',
        '- level: Metadata\n',
        '  level: None\n',
        'kind: Policy\n',
        'apiVersion: audit.k8s.io/v1\n',
        'kind: Rule\n',
        'apiVersion: auditing.kubesphere.io/v1alpha1\n',
        'spec: {rules: [{name: r, type: rule, condition: "Verb = \\"x\\"", enable: true}]}\n',
        '__proto__: {polluted: yes}\n',
        'constructor: {prototype: {polluted: yes}}\n',
        '"\\u0000": 1\n',
        `${'['.repeat(200)}\n`,
        `rules: ${'['.repeat(300)}${']'.repeat(300)}\n`,
        '<<: {merge: 1}\n',
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('')),
);

/** YAML text of a value; one too deep for the yaml package's own writer becomes a deep flow collection. */
function depth(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    max = Math.max(max, d);
    for (const c of Object.values(x)) stack.push([c, d + 1]);
  }
  return max;
}

function toYaml(v: unknown): string {
  // The yaml package's writer overflows (slowly) on the deep values: write those as flow text directly.
  if (depth(v) > 100) return `rules: ${'['.repeat(300)}${']'.repeat(300)}\n`;
  try {
    return stringifyYaml(v);
  } catch {
    return `rules: ${'['.repeat(300)}${']'.repeat(300)}\n`;
  }
}

function yamlMutations(text: string): fc.Arbitrary<string> {
  const docs = text
    .split(/^---$/m)
    .map((d) => parseYaml(d))
    .filter((d) => d !== null && d !== undefined);
  return fc.oneof(mutated(docs).map(toYaml), mutatedText([text]));
}

function checkPolicyError(text: string, err: PolicyError): void {
  assert.ok(err.problems.length > 0);
  for (const p of err.problems) {
    assert.ok(p.line >= 1 && p.line <= lineCount(text) + 1, `line ${p.line} of ${lineCount(text)}: ${err.message}`);
    assert.ok(p.column >= 1, `column ${p.column}`);
    assert.ok(p.message.length > 0);
  }
  assert.match(err.message, /^policy\.yaml:\d+:\d+: /);
}

function checkPolicy(p: Policy): void {
  // A loaded policy evaluates every real event without throwing.
  const evaluator = createPolicyEvaluator(p);
  for (const e of events.slice(0, 10)) {
    evaluator.evaluate({
      user: e.user,
      verb: e.verb,
      namespace: e.objectRef?.namespace ?? '',
      resource: e.objectRef?.resource ?? '',
      subresource: e.objectRef?.subresource ?? '',
      apiGroup: e.objectRef?.apiGroup ?? '',
      name: e.objectRef?.name ?? '',
      path: e.requestURI,
      resourceRequest: e.objectRef !== undefined,
    } as never);
  }
}

function expectPolicy(text: string): void {
  try {
    checkPolicy(loadPolicy(text));
  } catch (err) {
    if (!(err instanceof PolicyError)) assert.fail(`not a PolicyError: ${(err as Error).stack}\n--- input:\n${text}`);
    checkPolicyError(text, err);
  }
  assertPrototypeClean();
}

describe('policy YAML', () => {
  test('random YAML documents', () => {
    fc.assert(fc.property(randomYaml, expectPolicy), { numRuns: RUNS });
  });
  test('mutations of a policy with a typo and a GCE-like policy', () => {
    fc.assert(fc.property(fc.oneof(yamlMutations(typoPolicy), yamlMutations(gcePolicy)), expectPolicy), {
      numRuns: RUNS,
    });
  });
});

function checkRuleErrors(text: string, err: RuleLoadError): void {
  assert.ok(err.errors.length > 0);
  for (const e of err.errors) {
    assert.equal(e.file, 'rules.yaml');
    if (e.line !== undefined) {
      assert.ok(e.line >= 1 && e.line <= lineCount(text) + 1, `line ${e.line}: ${e}`);
      assert.ok(e.column !== undefined && e.column >= 1);
    }
    assert.ok(e.message.length > 0);
  }
}

/** A loaded rule set evaluates every real event: a boolean or RuleRuntimeError; messages render. */
function checkRuleSet(rs: RuleSet, evs: readonly AuditEvent[] = events.slice(0, 8)): void {
  for (const r of rs.rules) {
    for (const e of evs) {
      let hit = false;
      try {
        hit = r.test(e);
        assert.equal(typeof hit, 'boolean');
      } catch (err) {
        if (!(err instanceof RuleRuntimeError)) assert.fail(`${r.name} on ${e.auditID}: ${(err as Error).stack}`);
      }
      if (hit) assert.equal(typeof r.render(e), 'string');
    }
  }
}

function expectRules(text: string): void {
  try {
    checkRuleSet(buildRuleSet([{ file: 'rules.yaml', text }]));
  } catch (err) {
    if (!(err instanceof RuleLoadError))
      assert.fail(`not a RuleLoadError: ${(err as Error).stack}\n--- input:\n${text}`);
    checkRuleErrors(text, err);
  }
  assertPrototypeClean();
}

test('YAML nested deeper than the yaml package can parse: a positioned error, no crash', () => {
  const text = `apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
  assert.throws(
    () => loadPolicy(text),
    (err: unknown) => err instanceof PolicyError && err.line === 3 && /nested too deeply/.test(err.message),
  );
  assert.throws(
    () => buildRuleSet([{ file: 'rules.yaml', text }]),
    (err: unknown) => err instanceof RuleLoadError && err.errors[0].line === 3,
  );
});

test('YAML aliases: a missing anchor and an alias bomb are positioned errors (regression: ReferenceError)', () => {
  const missing = 'apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Rule\nmetadata: {name: *nope}\n';
  assert.throws(
    () => buildRuleSet([{ file: 'rules.yaml', text: missing }]),
    (err: unknown) =>
      err instanceof RuleLoadError &&
      err.errors[0].line === 3 &&
      err.errors[0].column === 18 &&
      /Unresolved alias/.test(err.message),
  );
  const bomb = ['apiVersion: auditing.kubesphere.io/v1alpha1', 'kind: Rule', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 8; i++)
    bomb.push(
      `${'ab'[1]}${i}: &b${i} [${Array(10)
        .fill(i === 1 ? '*a' : `*b${i - 1}`)
        .join(', ')}]`,
    );
  assert.throws(
    () => buildRuleSet([{ file: 'rules.yaml', text: bomb.join('\n') }]),
    (err: unknown) => err instanceof RuleLoadError && /resource exhaustion/.test(err.message),
  );
  assert.throws(
    () => loadPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata: {a: *nope}\nrules: [{level: None}]\n'),
    (err: unknown) =>
      err instanceof PolicyError && err.line === 3 && /metadata: invalid YAML: Unresolved alias/.test(err.message),
  );
});

describe('rule YAML', () => {
  test('random YAML documents', () => {
    fc.assert(fc.property(randomYaml, expectRules), { numRuns: RUNS });
  });
  test("mutations of KubeSphere's default rules", () => {
    fc.assert(fc.property(yamlMutations(defaultRules), expectRules), { numRuns: RUNS });
  });
});

// ---- the condition language -------------------------------------------------------------------------------

const TOKENS = [
  'Verb',
  'ObjectRef.Resource',
  'ObjectRef.Name',
  'User.username',
  'User.Groups',
  'User.Groups[0]',
  'User.Groups[*]',
  'User.Groups[-1]',
  'ResponseStatus.code',
  'RequestObject.spec.containers[*].image',
  'RequestObject',
  'RequestReceivedTimestamp',
  'Nope.nope',
  'Verb.x',
  '=',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '!',
  'not',
  'and',
  'or',
  'AND',
  'contains',
  'in',
  'like',
  'regex',
  'exists',
  '(',
  ')',
  ',',
  '"create"',
  '"kube-*"',
  '"(a+)+$"',
  '"["',
  '"\\""',
  '""',
  '"\u0000"',
  '"💥"',
  '201',
  '-1',
  '1.5e3',
  '1e999',
  'true',
  'FALSE',
  '${actions}',
  '${is-create}',
  '${user}',
  '${missing}',
  '${',
  '}',
  "'x'",
  '"unterminated',
  '\\',
  '@',
];

const PATHS = TOKENS.slice(0, 14);
const LITERALS = ['"create"', '"kube-*"', '"(a+)+$"', '"["', '""', '"💥"', '201', '-1', '1.5e3', 'true', '${user}'];
const literal = fc.constantFrom(...LITERALS);
const path = fc.constantFrom(...PATHS, '${user}');

/** Well-formed conditions of the grammar (some still fail: bad regexes, types, paths). */
const { expr: wellFormed } = fc.letrec<{ expr: string; test: string }>((tie) => ({
  test: fc.oneof(
    fc
      .tuple(
        path,
        fc.constantFrom('=', '!=', '<', '>=', 'contains', 'not contains', 'like', 'regex', 'not like'),
        literal,
      )
      .map((p) => p.join(' ')),
    fc
      .tuple(path, fc.constantFrom('in', 'not in'), fc.array(literal, { minLength: 1, maxLength: 3 }))
      .map(([p, op, ls]) => `${p} ${op} (${ls.join(', ')})`),
    path.map((p) => `${p} in \${actions}`),
    path.map((p) => `${p} exists`),
    path,
    fc.constant('${is-create}'),
  ),
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('test'),
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map((p) => p.join(' ')),
    tie('expr').map((e) => `not ${e}`),
    tie('expr').map((e) => `(${e})`),
  ),
}));

/** A well-formed condition with tokens dropped, swapped or inserted. */
const brokenCondition = fc
  .tuple(wellFormed, fc.nat(), fc.constantFrom(...TOKENS), fc.constantFrom('drop', 'insert', 'replace'))
  .map(([c, n, tok, op]) => {
    const parts = c.split(' ');
    const i = n % parts.length;
    if (op === 'drop') parts.splice(i, 1);
    else if (op === 'insert') parts.splice(i, 0, tok);
    else parts[i] = tok;
    return parts.join(' ');
  });

const randomTokens = fc
  .tuple(fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 9 }), fc.array(fc.boolean(), { maxLength: 9 }))
  .map(([toks, spaces]) => toks.map((t, i) => (i > 0 && spaces[i] === false ? t : ` ${t}`)).join(''))
  .map((s) => s.trimStart());

const condition = fc.oneof(wellFormed, brokenCondition, randomTokens);

function ruleFile(cond: string): string {
  return [
    'apiVersion: auditing.kubesphere.io/v1alpha1',
    'kind: Rule',
    'metadata: {name: fuzz, labels: {type: alerting}}',
    'spec:',
    '  rules:',
    '    - {name: actions, type: list, list: [create, delete, "(a+)+$"]}',
    '    - {name: is-create, type: macro, macro: Verb = "create"}',
    '    - {name: user, type: alias, alias: User.username}',
    '    - name: r',
    '      type: rule',
    '      enable: true',
    '      priority: WARNING',
    `      condition: ${JSON.stringify(cond)}`,
    '',
  ].join('\n');
}

/**
 * Events as odd as the decoders let through: any strings, optional members missing, bodies, annotations and
 * user.extra of any JSON (prototype keys included).
 */
const anyString = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', '\u0000', 'create', 'pods', '(a+)+$'));
const oddEvent: fc.Arbitrary<AuditEvent> = fc
  .record({
    base: fc.constantFrom(...events.slice(0, 8)),
    verb: anyString,
    user: fc.record(
      { username: anyString, groups: fc.array(anyString), extra: fc.dictionary(anyString, fc.array(anyString)) },
      { requiredKeys: [] },
    ),
    objectRef: fc.option(
      fc.record({ resource: anyString, name: anyString, namespace: anyString }, { requiredKeys: [] }),
    ),
    responseStatus: fc.option(fc.record({ code: fc.integer(), message: anyString }, { requiredKeys: [] })),
    requestObject: fc.option(fc.oneof(nastyValue, fc.jsonValue({ maxDepth: 4 }))),
    annotations: fc.option(fc.dictionary(anyString, anyString)),
  })
  .map(({ base, verb, user, objectRef, responseStatus, requestObject, annotations }) => {
    const e: AuditEvent = { ...base, verb, user };
    if (objectRef) e.objectRef = objectRef;
    else delete e.objectRef;
    if (responseStatus) e.responseStatus = responseStatus;
    else delete e.responseStatus;
    if (requestObject !== null) e.requestObject = requestObject;
    if (annotations) e.annotations = annotations;
    return e;
  });

describe('conditions', () => {
  test('random token sequences: a predicate that only returns booleans, or a RuleError inside the text', () => {
    let compiled = 0;
    fc.assert(
      fc.property(condition, fc.array(oddEvent, { maxLength: 3 }), (cond, odd) => {
        const text = ruleFile(cond);
        let rs: RuleSet;
        try {
          rs = buildRuleSet([{ file: 'rules.yaml', text }]);
        } catch (err) {
          if (!(err instanceof RuleLoadError)) assert.fail(`${cond}: ${(err as Error).stack}`);
          checkRuleErrors(text, err);
          const own = err.errors.filter((e) => e.rule === 'fuzz.r');
          assert.ok(own.length > 0, `${cond}: ${err.message}`);
          if (cond.trim() === '') return;
          for (const e of own) {
            assert.ok(
              e.textColumn !== undefined && e.textColumn >= 1 && e.textColumn <= cond.length + 1,
              `${cond}: column ${e.textColumn}: ${e}`,
            );
          }
          return;
        }
        compiled++;
        checkRuleSet(rs, [...events.slice(0, 4), ...odd]);
        assertPrototypeClean();
      }),
      { numRuns: 500 },
    );
    assert.ok(compiled > 30, `only ${compiled} of the random conditions compiled`);
  });
});

describe('sink configuration', () => {
  test('any JSON value or mutation of a valid config: a SinkConfig or SinkConfigError', () => {
    const valid = [
      { type: 'log', path: '/tmp/audit.log', format: 'json' },
      { type: 'webhook', url: 'http://127.0.0.1:9/', batch: { maxSize: 10 } },
      { type: 'amqp', url: 'amqp://127.0.0.1', exchange: 'x' },
    ];
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), mutated(valid)), (v) => {
        expectResultOrError(() => parseSinkConfig(v), SinkConfigError);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('conditions that would overflow the stack or run long', () => {
  const load = (cond: string, limits?: Parameters<typeof buildRuleSet>[1]) =>
    buildRuleSet([{ file: 'rules.yaml', text: ruleFile(cond) }], limits);
  const rejects = (cond: string, message: RegExp, column?: number) =>
    assert.throws(
      () => load(cond),
      (err: unknown) =>
        err instanceof RuleLoadError &&
        message.test(err.message) &&
        (column === undefined || err.errors[0].textColumn === column),
    );
  // Regression: each of these was a RangeError out of buildRuleSet.
  test('100k parentheses, not, ! and an and-chain of 100k operands: a positioned RuleError', () => {
    rejects(`${'('.repeat(100_000)}Verb = "x"${')'.repeat(100_000)}`, /nests more than 500 levels/, 501);
    rejects(`${'not '.repeat(100_000)}Verb = "x"`, /nests more than 500 levels/, 2001);
    rejects(`${'!'.repeat(100_000)}Verb = "x"`, /nests more than 500 levels/, 501);
    rejects(Array(10_000).fill('Verb = "x"').join(' and '), /nests more than 500 levels/);
    assert.equal(load(Array(400).fill('Verb = "x"').join(' or ')).rules.length, 1);
  });
  test('a chain of 600 macros (any longer one stops at the same depth) is an error, not a stack overflow', () => {
    const items = ['    - {name: m0, type: macro, macro: Verb = "get"}'];
    for (let i = 1; i < 600; i++) items.push(`    - {name: m${i}, type: macro, macro: "\${m${i - 1}}"}`);
    items.push('    - {name: r, type: rule, enable: true, condition: "${m599}"}');
    const text = `apiVersion: auditing.kubesphere.io/v1alpha1\nkind: Rule\nmetadata: {name: f}\nspec:\n  rules:\n${items.join('\n')}\n`;
    assert.throws(
      () => buildRuleSet([{ file: 'rules.yaml', text }]),
      (err: unknown) => err instanceof RuleLoadError && /levels deep/.test(err.message),
    );
  });
  test('regex complexity: pattern length and re2js program size are capped at load, configurably', () => {
    rejects(`Verb regex "${'a'.repeat(1001)}"`, /regex of 1001 characters exceeds the limit of 1000/, 12);
    rejects(`Verb like "${'*'.repeat(1001)}"`, /like pattern of 1001 characters exceeds the limit of 1000/);
    rejects('Verb regex "\\pL{1000}\\pL{1000}"', /compiles to \d+ instructions, more than the limit of 2000/);
    assert.ok(load(`Verb regex "${'a'.repeat(1000)}"`));
    assert.ok(load('Verb regex "\\pL{1000}\\pL{1000}"', { maxRegexProgramSize: 3000 }));
    assert.throws(() => load('Verb regex "ab"', { maxRegexLength: 1 }), /regex of 2 characters exceeds the limit of 1/);
    assert.equal(DEFAULT_RULE_LIMITS.maxRegexLength, 1000);
  });
  // Regression: an error in a literal after an alias was reported in the alias, at the literal's offset.
  test('a bad pattern after ${alias} is reported in the condition, at the pattern', () => {
    const cond = 'Verb exists and ${user} not like "["';
    assert.throws(
      () => load(cond),
      (err: unknown) =>
        err instanceof RuleLoadError &&
        err.errors.length === 1 &&
        err.errors[0].rule === 'fuzz.r' &&
        err.errors[0].textColumn === cond.indexOf('"[') + 1 &&
        /condition: invalid like pattern/.test(err.message),
    );
  });
  test('catastrophic patterns run in linear time (re2js): (a+)+$ over 100k and 1M characters completes', () => {
    const rs = load('RequestObject.s regex "(a+)+$" or RequestObject.s like "*a*a*a*a*a*b"');
    for (const n of [100_000, 1_000_000]) {
      const e = { ...events[0], requestObject: { s: `${'a'.repeat(n)}!` } };
      assert.equal(rs.rules[0].test(e), false);
      // A backtracking engine takes ~2^n steps here; the test finishing at all is the proof.
    }
    const hit = { ...events[0], requestObject: { s: `${'a'.repeat(100_000)}` } };
    assert.equal(rs.rules[0].test(hit), true);
  });
});
