import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AuditEvent,
  decodeEventList,
  decodeKubernetesEvent,
  EventValidationError,
  encodeEventList,
  encodeKubernetesEvent,
  formatKubernetesJSON,
} from '../../src/event/index.ts';

const FALCO = new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const falcoLines = () => readFileSync(FALCO, 'utf8').split('\n').filter(Boolean);

/** The v1 fields of a Kubernetes event object: what survives a v1beta1 → v1 conversion. */
function v1View(o: Record<string, unknown>): Record<string, unknown> {
  const { kind, apiVersion, metadata, timestamp, ...rest } = o;
  return rest;
}

function sortedKeys(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(sortedKeys);
  if (o && typeof o === 'object') {
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortedKeys((o as Record<string, unknown>)[k])]),
    );
  }
  return o;
}

test('all 51 falco events decode, and re-encode to v1 keeping every v1 field', () => {
  const lines = falcoLines();
  assert.equal(lines.length, 51);
  for (const [i, line] of lines.entries()) {
    const raw = JSON.parse(line);
    const e = decodeKubernetesEvent(raw, `line${i + 1}`);
    assert.equal(e.source, 'kubernetes');
    const out = encodeKubernetesEvent(e);
    assert.equal(out.kind, 'Event');
    assert.equal(out.apiVersion, 'audit.k8s.io/v1');
    // Everything but the version-specific metadata/timestamp (and kind/apiVersion) is preserved exactly.
    assert.deepStrictEqual(v1View(out), v1View(raw), `line ${i + 1}`);
    // The version the event arrived in is remembered when it was not v1.
    if (raw.apiVersion && raw.apiVersion !== 'audit.k8s.io/v1') {
      assert.deepStrictEqual(e.origin, { kubernetes: { apiVersion: raw.apiVersion } });
    } else {
      assert.equal(e.origin, undefined);
    }
    // A second decode of the v1 output is the same canonical event, minus the version note.
    const again = decodeKubernetesEvent(out);
    const { origin, ...rest } = e;
    assert.deepStrictEqual(again, rest);
  }
});

test('encode writes the audit.k8s.io/v1 struct order and omits empty optional fields', () => {
  const e = decodeKubernetesEvent(JSON.parse(falcoLines()[0]));
  assert.deepStrictEqual(Object.keys(encodeKubernetesEvent(e)), [
    'kind',
    'apiVersion',
    'level',
    'auditID',
    'stage',
    'requestURI',
    'verb',
    'user',
    'sourceIPs',
    'objectRef',
    'responseStatus',
    'requestObject',
    'requestReceivedTimestamp',
    'stageTimestamp',
    'annotations',
  ]);
  const bare: AuditEvent = {
    level: 'None',
    auditID: 'x',
    stage: 'RequestReceived',
    requestURI: '/healthz',
    verb: 'get',
    user: {},
    userAgent: '',
    sourceIPs: [],
    objectRef: { resource: 'pods', namespace: '', name: 'p' },
    responseStatus: { code: 500, status: 'Failure', message: 'boom', reason: 'InternalError' },
    annotations: { 'z.k': 'z', 'a.k': 'a' },
    requestReceivedTimestamp: '2024-01-01T00:00:00.000000Z',
    stageTimestamp: '2024-01-01T00:00:00.000000Z',
    source: 'vigil',
    origin: { cadf: { x: 1 } },
  };
  assert.equal(
    JSON.stringify(encodeKubernetesEvent(bare, { typeMeta: false })),
    '{"level":"None","auditID":"x","stage":"RequestReceived","requestURI":"/healthz","verb":"get","user":{},' +
      '"objectRef":{"resource":"pods","name":"p"},' +
      '"responseStatus":{"metadata":{},"status":"Failure","message":"boom","reason":"InternalError","code":500},' +
      '"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.000000Z",' +
      '"annotations":{"a.k":"a","z.k":"z"}}',
  );
});

test('formatKubernetesJSON escapes HTML characters as Go does and adds no newline', () => {
  const e = decodeKubernetesEvent(JSON.parse(falcoLines()[0]));
  e.requestURI = '/api/v1/pods?labelSelector=a%3Db&limit=500&x=<y>';
  e.userAgent = 'line\u2028sep';
  const line = formatKubernetesJSON(e);
  assert.ok(line.includes('"requestURI":"/api/v1/pods?labelSelector=a%3Db\\u0026limit=500\\u0026x=\\u003cy\\u003e"'));
  assert.ok(line.includes('"userAgent":"line\\u2028sep"'));
  assert.ok(line.startsWith('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request"'));
  assert.ok(!line.endsWith('\n'));
  assert.deepStrictEqual(JSON.parse(line), encodeKubernetesEvent(e));
});

test('seed 003 v1alpha1 EventList: items without kind, timestamp only, objectRef group/version split', () => {
  const events = decodeEventList(fixture('k8s-eventlist-v1alpha1.json'));
  assert.equal(events.length, 1);
  assert.deepStrictEqual(events[0], {
    level: 'Metadata',
    auditID: '4faf711a-9094-400f-a876-d9188ceda548',
    stage: 'ResponseComplete',
    requestURI:
      '/apis/rbac.authorization.k8s.io/v1beta1/namespaces/kube-public/rolebindings/system:controller:bootstrap-signer',
    verb: 'get',
    user: { username: 'system:apiserver', uid: '97a62906-e4d7-4048-8eda-4f0fb6ff8f1e', groups: ['system:masters'] },
    sourceIPs: ['127.0.0.1'],
    objectRef: {
      resource: 'rolebindings',
      namespace: 'kube-public',
      name: 'system:controller:bootstrap-signer',
      apiGroup: 'rbac.authorization.k8s.io',
      apiVersion: 'v1beta1',
    },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2017-06-15T23:07:40.000000Z',
    stageTimestamp: '2017-06-15T23:07:40.000000Z',
    source: 'kubernetes',
    origin: { kubernetes: { apiVersion: 'audit.k8s.io/v1alpha1' } },
  });
  // Re-encoded as a v1 EventList: metadata {}, items without kind/apiVersion.
  const list = encodeEventList(events);
  assert.deepStrictEqual(Object.keys(list), ['kind', 'apiVersion', 'metadata', 'items']);
  assert.equal(list.apiVersion, 'audit.k8s.io/v1');
  const item = (list.items as Record<string, unknown>[])[0];
  assert.equal(item.kind, undefined);
  assert.deepStrictEqual(
    decodeEventList(list),
    events.map(({ origin, ...e }) => e),
  );
  // Buffer input is the same.
  assert.deepStrictEqual(decodeEventList(Buffer.from(fixture('k8s-eventlist-v1alpha1.json'))), events);
});

test('KubeSphere {"Items": [...]} batch: PascalCase members matched case-insensitively', () => {
  const events = decodeEventList(fixture('kubesphere-batch.json'));
  assert.equal(events.length, 2);
  assert.deepStrictEqual(events[0], {
    level: 'Metadata',
    auditID: '0a1d3c5e-5a8e-4b8f-9e0a-6d2f1f0b7c11',
    stage: 'ResponseComplete',
    requestURI: '/kapis/iam.kubesphere.io/v1alpha2/users',
    verb: 'create',
    user: { username: 'admin', groups: ['system:authenticated'] },
    sourceIPs: ['10.233.70.1'],
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    objectRef: { resource: 'users', name: 'alice', apiGroup: 'iam.kubesphere.io', apiVersion: 'v1alpha2' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2020-09-14T08:01:02.123456Z',
    stageTimestamp: '2020-09-14T08:01:02.234567Z',
    workspace: 'system-workspace',
    cluster: 'host',
    source: 'kubesphere',
  });
  const b = events[1];
  assert.equal(b.source, 'kubesphere'); // PascalCase alone marks it, even without Workspace
  assert.equal(b.verb, 'Delete'); // lower-casing is the rule engine's normalisation, not the decoder's
  assert.deepStrictEqual(b.user, { username: 'bob', uid: 'b-1', groups: ['dev'], extra: { scopes: ['a', 'b'] } });
  assert.deepStrictEqual(b.objectRef, {
    resource: 'configmaps',
    namespace: 'demo',
    name: 'app-config',
    apiVersion: 'v1',
  });
  assert.equal(b.responseStatus?.reason, 'NotFound');
  assert.deepStrictEqual(b.requestObject, { kind: 'DeleteOptions', apiVersion: 'v1' });
  assert.deepStrictEqual(b.annotations, { 'authorization.k8s.io/decision': 'allow' });
  assert.equal(b.userAgent, undefined);
  assert.equal(b.workspace, undefined);

  // Encoded: KubeSphere members only when set, as KubeSphere spells them; decoding that gives the event back.
  const out = encodeKubernetesEvent(events[0]);
  assert.equal(out.Workspace, 'system-workspace');
  assert.equal(out.Cluster, 'host');
  assert.ok(!('Devops' in out) && !('Message' in out) && !('source' in out) && !('origin' in out));
  assert.deepStrictEqual(decodeKubernetesEvent(out), events[0]);
  assert.ok(!('Workspace' in encodeKubernetesEvent(b)));
});

test('camelCase events with lower-case KubeSphere members are KubeSphere events', () => {
  const raw = JSON.parse(falcoLines()[0]);
  raw.workspace = 'ws1';
  const e = decodeKubernetesEvent(raw);
  assert.equal(e.source, 'kubesphere');
  assert.equal(e.workspace, 'ws1');
});

function rejects(fn: () => unknown, field: string, why: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EventValidationError, String(err));
    assert.equal(err.field, field);
    assert.match(err.message, why);
    if (field) assert.ok(err.message.startsWith(`${field}: `), err.message);
    return true;
  });
}

test('bad events name the field and why', () => {
  const good = () => JSON.parse(falcoLines()[0]);
  rejects(() => decodeKubernetesEvent({ kind: 0 }), 'kind', /expected a string, got number 0/);
  rejects(() => decodeKubernetesEvent({ ...good(), kind: 'Pod' }), 'kind', /"Pod" is not "Event"/);
  rejects(() => decodeKubernetesEvent({ ...good(), apiVersion: 'audit.k8s.io/v2' }), 'apiVersion', /is not one of/);
  const { auditID, ...noId } = good();
  rejects(() => decodeKubernetesEvent(noId), 'auditID', /^auditID: required$/);
  rejects(
    () => decodeKubernetesEvent({ ...good(), level: 'Verbose' }),
    'level',
    /"Verbose" is not one of None, Metadata/,
  );
  rejects(() => decodeKubernetesEvent({ ...good(), stage: 3 }), 'stage', /3 is not one of/);
  rejects(() => decodeKubernetesEvent({ ...good(), user: 'bob' }), 'user', /expected an object, got string "bob"/);
  rejects(
    () => decodeKubernetesEvent({ ...good(), user: { groups: ['a', 1] } }),
    'user.groups[1]',
    /expected a string/,
  );
  rejects(
    () => decodeKubernetesEvent({ ...good(), sourceIPs: '1.2.3.4' }),
    'sourceIPs',
    /expected an array of strings/,
  );
  rejects(() => decodeKubernetesEvent({ ...good(), objectRef: { name: 5 } }), 'objectRef.name', /expected a string/);
  rejects(
    () => decodeKubernetesEvent({ ...good(), responseStatus: { code: '200' } }),
    'responseStatus.code',
    /expected an integer/,
  );
  rejects(() => decodeKubernetesEvent({ ...good(), annotations: { a: 1 } }), 'annotations.a', /expected a string/);
  rejects(
    () => decodeKubernetesEvent({ ...good(), stageTimestamp: 'soon' }),
    'stageTimestamp',
    /"soon" is not a timestamp/,
  );
  const { requestReceivedTimestamp, timestamp, ...noTime } = good();
  rejects(() => decodeKubernetesEvent(noTime), 'requestReceivedTimestamp', /required/);
  rejects(() => decodeKubernetesEvent([]), '', /expected an audit event object, got array/);
  // With a path, the field is placed under it.
  rejects(() => decodeKubernetesEvent({ ...good(), stage: 'Done' }, 'items[7]'), 'items[7].stage', /"Done"/);
});

test('bad EventLists name items[i].field', () => {
  const list = JSON.parse(fixture('k8s-eventlist-v1alpha1.json'));
  list.items.push({ ...list.items[0], stage: 'Done' });
  list.items.push({ ...list.items[0] });
  rejects(
    () => decodeEventList(JSON.stringify(list)),
    'items[1].stage',
    /^items\[1\]\.stage: "Done" is not one of RequestReceived, ResponseStarted, ResponseComplete, Panic$/,
  );
  rejects(() => decodeEventList('{"kind":"EventList","items":{}}'), 'items', /expected an array of events/);
  rejects(() => decodeEventList('{"kind":"PodList","items":[]}'), 'kind', /is not "EventList"/);
  // PascalCase input: the field is named as the input spells it.
  rejects(() => decodeEventList('{"Items":[{"Level":"Metadata","AuditID":""}]}'), 'Items[0].auditID', /required/);
  rejects(
    () => decodeEventList('{"Items":[{"Level":"Metadata","AuditID":"a","Stage":"Done"}]}'),
    'Items[0].Stage',
    /"Done" is not one of/,
  );
  rejects(
    () =>
      decodeEventList(
        '{"Items":[{"Level":"Metadata","AuditID":"a","Stage":"Panic","ObjectRef":{"Name":1},"RequestReceivedTimestamp":"2020-01-01T00:00:00Z"}]}',
      ),
    'Items[0].ObjectRef.Name',
    /expected a string/,
  );
  assert.throws(() => decodeEventList('{"items": ['), /EventList is not valid JSON/);
  assert.deepStrictEqual(decodeEventList('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":null}'), []);
});

test('decoding reuses the parsed sub-objects (the hot path copies nothing but the event)', () => {
  const raw = JSON.parse(falcoLines()[1]);
  const e = decodeKubernetesEvent(raw);
  assert.equal(e.user, raw.user);
  assert.equal(e.objectRef, raw.objectRef);
  assert.equal(e.requestObject, raw.requestObject);
  assert.equal(e.annotations, raw.annotations);
  assert.equal(e.requestReceivedTimestamp, raw.requestReceivedTimestamp);
  assert.deepStrictEqual(sortedKeys(encodeKubernetesEvent(e, { typeMeta: false })), sortedKeys(v1View(raw)));
});

test('property: encode → decode gives the same event for any normalised event (what omitempty drops is never set)', () => {
  const word = fc.string({ minLength: 1, maxLength: 12 });
  const micro = fc
    .integer({ min: 0, max: Date.now() * 1000 })
    .map(
      (us) =>
        `${new Date(Math.floor(us / 1e6) * 1000).toISOString().slice(0, 19)}.${String(us % 1e6).padStart(6, '0')}Z`,
    );
  const user = fc.record(
    {
      username: word,
      uid: word,
      groups: fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
      extra: fc.dictionary(word, fc.array(fc.string(), { maxLength: 2 }), {
        minKeys: 1,
        maxKeys: 2,
        noNullPrototype: true,
      }),
    },
    { requiredKeys: [], noNullPrototype: true },
  );
  const event = fc.record(
    {
      level: fc.constantFrom('None', 'Metadata', 'Request', 'RequestResponse'),
      auditID: word,
      stage: fc.constantFrom('RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'),
      requestURI: fc.string(),
      verb: fc.string(),
      user,
      impersonatedUser: user,
      sourceIPs: fc.array(word, { minLength: 1, maxLength: 3 }),
      userAgent: word,
      objectRef: fc.record(
        { resource: word, namespace: word, name: word, uid: word, apiGroup: word, apiVersion: word, subresource: word },
        { requiredKeys: [], noNullPrototype: true },
      ),
      responseStatus: fc.record(
        { metadata: fc.constant({}), code: fc.integer({ min: 100, max: 599 }) },
        { noNullPrototype: true },
      ),
      // Bodies are JSON as sent: normalise what JSON cannot hold (-0, null prototypes).
      requestObject: fc
        .jsonValue()
        .filter((v) => v !== null)
        .map((v) => JSON.parse(JSON.stringify(v))),
      requestReceivedTimestamp: micro,
      stageTimestamp: micro,
      annotations: fc.dictionary(word, fc.string(), { minKeys: 1, maxKeys: 3, noNullPrototype: true }),
      workspace: word,
      cluster: word,
      devops: word,
    },
    {
      requiredKeys: [
        'level',
        'auditID',
        'stage',
        'requestURI',
        'verb',
        'user',
        'requestReceivedTimestamp',
        'stageTimestamp',
      ],
    },
  );
  fc.assert(
    fc.property(event, (raw) => {
      const e = {
        ...raw,
        source: raw.workspace || raw.cluster || raw.devops ? 'kubesphere' : 'kubernetes',
      } as AuditEvent;
      assert.deepStrictEqual(decodeKubernetesEvent(encodeKubernetesEvent(e)), e);
      assert.deepStrictEqual(decodeKubernetesEvent(JSON.parse(formatKubernetesJSON(e))), e);
    }),
    { numRuns: 300 },
  );
});
