// biome-ignore-all lint/suspicious/noTemplateCurlyInString: rule conditions and outputs write references as ${name}
// Conditions KubeSphere half-reads are rejected at load, each with its position in the condition.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ITEMS, rejection } from './helpers.ts';

// [condition, 1-based column of the error in the condition, message pattern]
const rows: [string, number, RegExp][] = [
  ['Verb = "create" AND ObjectRef.Resource = "pods"', 17, /lower-case: write "and"/],
  ['Verb = "create" Or Verb = "x"', 17, /lower-case: write "or"/],
  ['(Verb = "create"', 1, /unbalanced "\(": missing "\)"/],
  ['Verb = "create" )', 17, /unbalanced "\)"/],
  ['Verb = "a" and (Verb = "b" or)', 30, /expected a condition, found "\)"/],
  ['Verb ~= "create"', 6, /unexpected character "~"/],
  ['Verb equals "create"', 6, /unknown operator "equals"/],
  ['Verb in ()', 10, /at least one value/],
  ['Verb in ("a" "b")', 14, /expected "," or "\)"/],
  ['Verb in ${nope}', 9, /unresolved reference \$\{nope\}/],
  ['Verb = "create" and ${nope}', 21, /unresolved reference/],
  ['${isDemo}', 1, /unresolved reference/],
  ['ObjectRef.Name regex "("', 22, /invalid regex "\(": .*missing closing \)/],
  ['ObjectRef.Name like "a(b*"', 21, /invalid like pattern/],
  ['Verb > 5', 8, /type mismatch: Verb is text, never a number/],
  ['ResponseStatus.code = true', 23, /type mismatch: ResponseStatus.code is never a boolean/],
  ['User.groups = 1', 15, /type mismatch: User.groups is an array/],
  ['User.groups[*] = "x"', 16, /ends with \[\.\.\.\]: only "contains"/],
  ['RequestObject.spec.containers[0] like "x"', 34, /ends with \[\.\.\.\]/],
  ['User.groups[*]', 1, /ends with \[\.\.\.\]/],
  ['Verb[0] contains "c"', 1, /Verb is not an array/],
  ['User.groups[x] contains "c"', 12, /bad array selector "\[x\]"/],
  ['""', 1, /expected a condition, found """"/],
  ['Verb = ', 8, /expected a value, found the end of the condition/],
  ['Verb = "create" and', 20, /expected a condition, found the end/],
  ['Verb = ObjectRef.Resource', 8, /fields cannot be compared with fields/],
  ["Verb = 'create'", 8, /double quotes/],
  ['Verb = "create', 8, /unterminated string/],
  ['bad (', 1, /unknown field "bad"/],
  ['RequestObject.spec.x (', 22, /unexpected "\(" after RequestObject.spec.x/],
  ['Foo = "x"', 1, /unknown field "Foo"/],
  ['ObjectRef.Kind = "x"', 11, /ObjectRef has no member "Kind"/],
  ['ObjectRef.Name.x = "x"', 16, /ObjectRef.Name has no member "x"/],
  ['ObjectRef = "x"', 1, /ObjectRef is an object/],
  ['Verb not = "x"', 10, /expected contains, in, like, regex or exists after "not"/],
  ['Verb', 1, /Verb is not a boolean field/],
  ['Verb = 1x', 8, /malformed number/],
  ['${action}', 1, /is a list: it can only follow "in"/],
  ['Verb in ${pod}', 9, /is a macro: "in" needs a list/],
  ['Verb = ${ns}', 8, /expected a value, found alias/],
  ['Verb = "a" ${pod}', 12, /expected "and", "or"/],
  ['()', 2, /empty parentheses/],
];

for (const [cond, column, message] of rows) {
  test(`rejects ${cond}`, () => {
    const r = rejection(cond);
    assert.match(r.message, message);
    assert.equal(r.column, column, r.message);
  });
}

test('a macro cycle is rejected at the reference that closes it', () => {
  const items = `${ITEMS}
    - {name: a, type: macro, macro: '\${b} and Verb = "x"'}
    - {name: b, type: macro, macro: 'Verb = "y" or \${a}'}
`;
  const r = rejection('${a}', items);
  assert.match(r.message, /macro cycle: test\.(a|b) → test\.(a|b) → test\.(a|b)/);
});

test('an error inside a macro is reported against the macro, at its position', () => {
  const items = `${ITEMS}
    - {name: broken, type: macro, macro: 'Verb = "x" AND Verb = "y"'}
`;
  const r = rejection('${broken}', items);
  assert.match(r.message, /^macro: keywords are lower-case/);
  assert.equal(r.column, 12);
});

test('a bad alias target is reported against the alias', () => {
  const items = `${ITEMS}
    - {name: badAlias, type: alias, alias: 'ObjectRef.Nope'}
`;
  const r = rejection('${badAlias} = "x"', items);
  assert.match(r.message, /^alias: ObjectRef has no member "Nope"/);
});
