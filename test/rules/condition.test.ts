// biome-ignore-all lint/suspicious/noTemplateCurlyInString: rule conditions and outputs write references as ${name}
// The condition language, table by table: every operator and its `not` form, references, precedence, arrays,
// missing fields, booleans, numbers vs strings, timestamps, case-insensitive paths, runtime errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { requiredLiteral } from '../../src/rules/compile.ts';
import { evaluate, podCreate } from './helpers.ts';

type Row = [condition: string, expected: boolean | 'error'];

function table(name: string, rows: Row[], event = podCreate()) {
  describe(name, () => {
    for (const [cond, want] of rows) {
      test(`${cond} → ${want}`, () => assert.equal(evaluate(cond, event), want));
    }
  });
}

table('comparison with strings (values printed as Go prints them, compared by bytes)', [
  ['Verb = "create"', true],
  ['Verb == "create"', true],
  ['Verb = "Create"', false],
  ['Verb != "create"', false],
  ['Verb != "delete"', true],
  ['ObjectRef.Name > "nginx"', true],
  ['ObjectRef.Name >= "nginx-1"', true],
  ['ObjectRef.Name < "a"', false],
  ['ObjectRef.Name <= "nginx-1"', true],
  ['ResponseStatus.code = "201"', true],
  ['ResponseStatus.code > "2"', true],
]);

table('comparison with numbers', [
  ['ResponseStatus.code = 201', true],
  ['ResponseStatus.code = 201.0', true],
  ['ResponseStatus.code != 201', false],
  ['ResponseStatus.code > 200', true],
  ['ResponseStatus.code >= 201', true],
  ['ResponseStatus.code < 300', true],
  ['ResponseStatus.code <= 200', false],
  ['ResponseStatus.code > -1', true],
  ['RequestObject.spec.replicas = 3', true],
  ['RequestObject.spec.replicas = "3"', true],
  ['RequestObject.spec.ratio = "0.5"', true],
  ['RequestObject.spec.ratio < 1', true],
  // 1234567 prints as Go's %v does: 1.234567e+06
  ['RequestObject.spec.big = "1.234567e+06"', true],
  ['RequestObject.spec.big = 1234567', true],
  // numeric text compares as a number
  ['RequestObject.metadata.labels.app > 5', 'error'],
  ['RequestObject.metadata.name = 5', 'error'],
]);

table('contains / not contains (substring of the printed value)', [
  ['ObjectRef.Name contains "nginx"', true],
  ['ObjectRef.Name contains "redis"', false],
  ['ObjectRef.Name not contains "redis"', true],
  ['ObjectRef.Name not contains "gin"', false],
  ['ResponseStatus.code contains 20', true],
  ['ResponseStatus.code contains "01"', true],
]);

table('in / not in (printed value equals a literal text exactly)', [
  ['Verb in ("create", "update")', true],
  ['Verb in ("update")', false],
  ['Verb not in ("get", "list", "watch")', true],
  ['Verb not in ("create")', false],
  ['ResponseStatus.code in (201)', true],
  // 201 prints as "201", not "201.0"
  ['ResponseStatus.code in (201.0)', false],
  ['ResponseStatus.code in ("200", "201")', true],
]);

table('like / not like (unanchored glob, nothing else escaped)', [
  ['ObjectRef.Namespace like "de*"', true],
  ['ObjectRef.Namespace like "em"', true],
  ['ObjectRef.Namespace like "^em"', false],
  ['ObjectRef.Namespace like "^de*$"', true],
  ['ObjectRef.Name like "nginx.1"', true],
  ['ObjectRef.Name like "ngin?-1"', true],
  ['ObjectRef.Name like "NGINX*"', false],
  ['ObjectRef.Name not like "redis*"', true],
  ['ObjectRef.Name not like "nginx*"', false],
]);

table('regex / not regex (RE2, unanchored search)', [
  ['ObjectRef.Name regex "^nginx-[0-9]+$"', true],
  ['ObjectRef.Name regex "gin"', true],
  ['ObjectRef.Name regex "NGINX"', false],
  ['ObjectRef.Name regex "(?i)NGINX"', true],
  ['ObjectRef.Name regex "\\d"', true],
  ['ObjectRef.Name not regex "^redis"', true],
  ['ObjectRef.Name not regex "^nginx"', false],
  ['RequestObject.metadata.annotations.note regex "a\\"b"', true],
]);

table('exists / not exists', [
  ['ResponseStatus.code exists', true],
  ['ResponseStatus.reason exists', false],
  ['ResponseStatus.reason not exists', true],
  ['ResponseStatus.code not exists', false],
  ['RequestObject.spec exists', true],
  ['RequestObject.status exists', false],
  ['RequestObject.metadata.creationTimestamp exists', false],
  ['ObjectRef exists', true],
  ['ImpersonatedUser exists', false],
  // absent strings of the event are present as "" (no omitempty in KubeSphere's struct)
  ['Workspace exists', true],
  ['Devops exists', true],
  ['Devops = ""', true],
  ['ObjectRef.Subresource exists', true],
  ['ObjectRef.Subresource = ""', true],
  ['User.uid exists', false],
]);

table('booleans', [
  ['RequestObject.spec.hostNetwork', true],
  ['RequestObject.spec.hostNetwork = true', true],
  ['RequestObject.spec.hostNetwork = True', true],
  ['RequestObject.spec.hostNetwork = FALSE', false],
  ['RequestObject.spec.hostNetwork != false', true],
  ['!RequestObject.spec.hostNetwork', false],
  ['not RequestObject.spec.hostNetwork', false],
  // Go's ParseBool reads "T"
  ['RequestObject.spec.strFlag = true', true],
  ['RequestObject.spec.strFlag', true],
  ['RequestObject.spec.replicas', 'error'],
  ['RequestObject.metadata.name = true', 'error'],
  ['RequestObject.metadata.name', 'error'],
  // a missing bare field is false, so its negation is true
  ['RequestObject.spec.hostPID', false],
  ['!RequestObject.spec.hostPID', true],
]);

table('a missing field makes every operator false, negated ones included', [
  ['ResponseStatus.reason = "x"', false],
  ['ResponseStatus.reason != "x"', false],
  ['ResponseStatus.reason < "x"', false],
  ['ResponseStatus.message > 5', false],
  ['ResponseStatus.reason in ("x")', false],
  ['ResponseStatus.reason not in ("x")', false],
  ['ResponseStatus.reason contains "x"', false],
  ['ResponseStatus.reason not contains "x"', false],
  ['ResponseStatus.reason like "x"', false],
  ['ResponseStatus.reason not like "x"', false],
  ['ResponseStatus.reason regex "x"', false],
  ['ResponseStatus.reason not regex "x"', false],
  ['not (ResponseStatus.reason = "x")', true],
  ['User.uid != "x"', false],
  ['RequestObject.spec = "x"', false],
  ['RequestObject.spec != "x"', false],
]);
table(
  'a null ObjectRef: its members go missing',
  [
    ['ObjectRef.Resource = ""', false],
    ['ObjectRef.Resource != "pods"', false],
    ['ObjectRef exists', false],
    ['ObjectRef.Resource not exists', true],
  ],
  podCreate({ objectRef: undefined }),
);

table('timestamps are strings compared as text', [
  ['RequestReceivedTimestamp >= "2020-06-12T09:23:28.359896Z"', true],
  [
    'RequestReceivedTimestamp >= "2020-06-12T09:23:28.359896Z" and RequestReceivedTimestamp <= "2020-06-12T10:23:28.359896Z"',
    true,
  ],
  ['RequestReceivedTimestamp > "2020-06-12T09:23:29.000000Z"', false],
  // the documented quirk: a literal without fraction misorders ("." < "Z")
  ['RequestReceivedTimestamp <= "2020-06-12T09:23:28Z"', true],
]);

table('field names match case-insensitively (documented spellings work too)', [
  ['User.Username = "alice"', true],
  ['User.username = "alice"', true],
  ['user.USERNAME = "alice"', true],
  ['VERB = "create"', true],
  ['objectref.namespace = "demo"', true],
  ['ResponseStatus.Code = 201', true],
  ['RequestObject.Spec.HostNetwork = true', true],
  ['User.Groups contains "platform-admins"', true],
]);

table('arrays: printed Go-style without brackets, selected with [*] [n] [a:b]', [
  ['User.groups contains "platform-admins"', true],
  ['User.groups contains "admins"', true],
  ['User.groups = "platform-admins"', false],
  ['User.groups in ("platform-admins")', false],
  ['User.groups = "[system:authenticated platform-admins]"', true],
  ['User.groups[*] contains "platform"', true],
  ['User.groups[*] not contains "root"', true],
  ['User.groups[*] not contains "a"', false],
  ['User.groups[0] contains "system"', true],
  ['User.groups[1] contains "system"', false],
  ['User.groups[5] contains "x"', false],
  ['User.groups[0:2] contains "a"', true],
  ['User.groups[0:2] contains "system"', false],
  ['User.groups[1:] contains "platform"', true],
  ['User.groups[:1] contains "system"', true],
  ['User.groups[:9] contains "t"', true],
  ['User.groups[3:5] contains "t"', false],
  ['SourceIPs contains "10.0.0.1"', true],
  ['SourceIPs[0] contains "10."', true],
  ['RequestObject.spec.containers[*].image = "busybox"', true],
  ['RequestObject.spec.containers[0].image = "busybox"', false],
  ['RequestObject.spec.containers[*].image like "nginx*"', true],
  ['RequestObject.spec.containers[*].image != "busybox"', true],
  ['RequestObject.spec.containers[0:2].image != "redis"', true],
  ['RequestObject.spec.containers[0:2].image != "busybox"', false],
  // the first container has no ports: [*] still finds the second
  ['RequestObject.spec.containers[*].ports[*].hostPort > 0', true],
  ['RequestObject.spec.containers[*].ports[*].hostPort = 8080', true],
  ['RequestObject.spec.containers[0].ports[*].hostPort > 0', false],
  ['RequestObject.spec.containers[*].ports exists', true],
  ['RequestObject.spec.containers[0].ports exists', false],
  ['RequestObject.spec.containers[0].ports not exists', true],
  ['RequestObject.spec.initContainers[*].ports[*].hostPort > 0', false],
  ['RequestObject.spec.initContainers[*].ports[*].hostPort not exists', true],
  // brackets on something that is not an array
  ['RequestObject.metadata.labels[*] contains "x"', 'error'],
]);

table('keys with dots are reachable, as in the flattened map', [
  ['RequestObject.metadata.labels.tier.kind = "front"', true],
]);

table('precedence: and/or one level left to right, not looser than both', [
  // (delete or create) and services
  ['Verb = "delete" or Verb = "create" and ObjectRef.Resource = "services"', false],
  ['Verb = "create" or Verb = "delete" and Verb = "get"', false],
  ['Verb = "delete" and Verb = "get" or Verb = "create"', true],
  // not (delete and get)
  ['not Verb = "delete" and Verb = "get"', true],
  // create and not (pods or create)
  ['Verb = "create" and not ObjectRef.Resource = "pods" or Verb = "create"', false],
  ['Verb = "create" and (not ObjectRef.Resource = "pods") or Verb = "create"', true],
  ['(Verb = "delete" or Verb = "create") and ObjectRef.Resource = "pods"', true],
  ['! Verb = "delete"', true],
  ['not (Verb = "create")', false],
  ['((Verb = "create"))', true],
]);

table('references: macros (parenthesized, recursive), lists, aliases, ${cr.name}', [
  ['Verb in ${action}', true],
  ['Verb not in ${action}', false],
  ['${pod}', true],
  ['${pod} and ${create}', true],
  ['${podCreate}', true],
  ['not ${podCreate}', false],
  ['${ns} = "demo"', true],
  ['${ns} like "de*"', true],
  ['${hn}', true],
  ['${hn} = true', true],
  ['${other.isDemo}', true],
  // svcOrPod is parenthesized: delete and (services or pods) — KubeSphere would read (delete and services) or pods
  ['Verb = "delete" and ${svcOrPod}', false],
  ['${svcOrPod} and Verb = "create"', true],
  // list items are used as they are: a quote inside an item does not break anything
  ['RequestObject.metadata.annotations.note in ${quoted}', true],
]);

describe('required literals let most events skip the regex engine, never changing a result', () => {
  const rows: [string, string][] = [
    ['user5(.*)', 'user5'],
    ['(.*)-canary-5', '-canary-5'],
    ['^app-5-[a-z]+$', 'app-5-'],
    ['ab+c', 'ab'],
    ['abc*d', 'ab'],
    ['x{2}yz', 'yz'],
    ['a|bcd', ''],
    ['(?i)abc', ''],
    ['\\d+abc', 'abc'],
    ['(abc)?de', 'de'],
    ['nginx.1', 'nginx'],
  ];
  for (const [re, lit] of rows)
    test(`${re} needs ${JSON.stringify(lit)}`, () => assert.equal(requiredLiteral(re), lit));
});

table('contains on arrays with and without separators in the text', [
  ['User.groups contains "ated platf"', true],
  ['User.groups contains "[system"', true],
  ['User.groups contains ""', true],
  ['RequestObject.spec.containers contains "image:busybox"', true],
  ['RequestObject.spec.containers contains "name:a"', true],
]);

table(
  'keys named like Object.prototype members are only own keys',
  [
    ['RequestObject.constructor exists', false],
    ['RequestObject.toString exists', false],
    ['RequestObject.__proto__ exists', false],
    ['RequestObject.spec.constructor = "x"', true],
  ],
  podCreate({ requestObject: { spec: { constructor: 'x' } } }),
);
