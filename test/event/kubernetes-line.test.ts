// formatKubernetesJSON writes the log line itself (src/event/kubernetes.ts, "the log line"); the reference is
// Go's encoding as the general path produces it: goJson(encodeKubernetesEvent(e)). Every line must be the same
// bytes, whatever the strings hold and whichever optional members are there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { type AuditEvent, decodeKubernetesEvent } from '../../src/event/index.ts';
import { encodeKubernetesEvent, formatKubernetesJSON, goJson } from '../../src/event/kubernetes.ts';

const SEED = 20261123;
const reference = (e: AuditEvent): string => goJson(encodeKubernetesEvent(e, { typeMeta: true }));

function same(e: AuditEvent): void {
  assert.equal(formatKubernetesJSON(e), reference(e));
}

// Characters either side of every escaping rule: JSON's (quote, backslash, controls, lone surrogates), Go's HTML
// ones (<, >, &, U+2028/2029), and what is written as it is (DEL, non-ASCII, valid surrogate pairs).
const awkward = fc.constantFrom(
  '"',
  '\\',
  '/',
  '\u0000',
  '\b',
  '\t',
  '\n',
  '\u001f',
  '\u007f',
  '<',
  '>',
  '&',
  '\u2028',
  '\u2029',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\ud83d\ude00',
  'é',
  '€',
  '\ufeff',
  '\uffff',
);
const char = fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 1 }) }, awkward);
const text = fc.oneof(
  { weight: 2, arbitrary: fc.string({ unit: char, maxLength: 12 }) },
  fc.string({ maxLength: 12 }),
  fc.constant(''),
);
const number = fc.oneof(
  fc.integer({ min: -1, max: 999 }),
  fc.constantFrom(0, -0, 1.5, 1e21, -1e-7, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER),
  fc.double(),
);
// Values of no fixed shape: JSON as a body parser gives it, with awkward strings as keys and values.
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(text, tie('value'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).value;
// A member of the model's type most of the time; now and then something else (the line must still match).
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary: arb }, fc.constantFrom(undefined, null, 0, '', 7, true));
const strings = fc.oneof(
  { weight: 4, arbitrary: fc.array(text, { maxLength: 3 }) },
  fc.constant([]),
  fc.constant(['a', 7, 'b']),
  // A sparse array (a hole is written as null) and an undefined element (also null).
  fc.constant(Object.assign(new Array<string>(3), { 0: 'x', 2: 'y' })),
  fc.constant(['x', undefined, 'y']),
);
const stringMap = fc.dictionary(fc.oneof(text, fc.constantFrom('10', '9', '__proto__', 'b', 'a')), text, {
  maxKeys: 4,
  noNullPrototype: true,
});
const user = fc.record(
  {
    username: maybe(text),
    uid: maybe(text),
    groups: maybe(strings),
    extra: maybe(fc.dictionary(text, strings, { maxKeys: 3, noNullPrototype: true })),
  },
  { requiredKeys: [], noNullPrototype: true },
);
const objectRef = fc.record(
  {
    resource: maybe(text),
    namespace: maybe(text),
    name: maybe(text),
    uid: maybe(text),
    apiGroup: maybe(text),
    apiVersion: maybe(text),
    resourceVersion: maybe(text),
    subresource: maybe(text),
  },
  { requiredKeys: [], noNullPrototype: true },
);
const status = fc.record(
  {
    metadata: fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, json),
    code: maybe(number),
    status: maybe(text),
    message: maybe(text),
    reason: maybe(text),
    details: json,
  },
  { requiredKeys: [], noNullPrototype: true },
);
const event = fc.record(
  {
    level: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('None', 'Metadata', 'Request', 'RequestResponse') }, text),
    auditID: fc.oneof({ weight: 9, arbitrary: text }, fc.constantFrom(undefined, 42)),
    stage: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom('RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic') },
      text,
    ),
    requestURI: text,
    verb: text,
    user: fc.oneof({ weight: 9, arbitrary: user }, fc.constant(undefined)),
    impersonatedUser: user,
    authenticationMetadata: fc.dictionary(text, json, { maxKeys: 2, noNullPrototype: true }),
    sourceIPs: maybe(strings),
    userAgent: maybe(text),
    objectRef,
    responseStatus: status,
    requestObject: json,
    responseObject: json,
    requestReceivedTimestamp: fc.oneof({ weight: 9, arbitrary: text }, fc.constant(undefined)),
    stageTimestamp: text,
    annotations: maybe(stringMap),
    workspace: maybe(text),
    cluster: maybe(text),
    devops: maybe(text),
    origin: fc.record({ kubernetes: fc.record({ message: maybe(text) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  },
  { requiredKeys: ['level', 'stage', 'requestURI', 'verb', 'stageTimestamp'], noNullPrototype: true },
);

test('property (seed 20261123): the line is byte for byte the general encoding of any event', () => {
  fc.assert(
    fc.property(event, (raw) => same({ ...raw, source: 'vigil' } as unknown as AuditEvent)),
    { seed: SEED, numRuns: 3000 },
  );
});

test('the 51 falco events and a captured one are written as the general encoding writes them', () => {
  const falco = new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url);
  const lines = readFileSync(falco, 'utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, 51);
  for (const line of lines) same(decodeKubernetesEvent(JSON.parse(line)));
  const captured: AuditEvent = {
    level: 'Metadata',
    auditID: '3f1c9a52-9a4e-4a8e-b7de-2f1b1c0e9d11',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500',
    verb: 'list',
    user: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'curl/8.5.0',
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2026-11-23T14:45:12.123456Z',
    stageTimestamp: '2026-11-23T14:45:12.124001Z',
    source: 'vigil',
  };
  same(captured);
  assert.ok(
    formatKubernetesJSON(captured).includes(
      '"requestURI":"/api/v1/namespaces/default/pods?labelSelector=app%3Dweb\\u0026limit=500"',
    ),
  );
});

test('escapes are those of JSON.stringify plus Go HTML escaping, in keys and values alike', () => {
  const e: AuditEvent = {
    level: 'Request',
    auditID: 'a"b\\c',
    stage: 'Panic',
    requestURI: '/x?a=<b>&c=\u2028\u2029',
    verb: 'get',
    user: { username: 'lone \ud800 surrogate', groups: ['ok', 'tab\there'] },
    sourceIPs: ['<ip>'],
    requestObject: { '<key>': 'a&b', n: [1, 'x\u2029'] },
    requestReceivedTimestamp: '2026-11-23T00:00:00.000000Z',
    stageTimestamp: '2026-11-23T00:00:00.000000Z',
    annotations: { 'z&': '1', 'a<': '2' },
    source: 'vigil',
  };
  same(e);
  const line = formatKubernetesJSON(e);
  assert.ok(line.includes('"auditID":"a\\"b\\\\c"'));
  assert.ok(line.includes('"requestURI":"/x?a=\\u003cb\\u003e\\u0026c=\\u2028\\u2029"'));
  assert.ok(line.includes('"username":"lone \\ud800 surrogate"'));
  assert.ok(line.includes('"groups":["ok","tab\\there"]'));
  assert.ok(line.includes('"requestObject":{"\\u003ckey\\u003e":"a\\u0026b","n":[1,"x\\u2029"]}'));
  assert.ok(line.includes('"annotations":{"a\\u003c":"2","z\\u0026":"1"}'));
});
