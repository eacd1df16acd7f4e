import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type AuditEvent,
  cadfActionToVerb,
  decodeCadf,
  decodeKubernetesEvent,
  EventValidationError,
  encodeCadf,
  encodeOsloNotification,
  encodeOsloWire,
  verbToCadfAction,
} from '../../src/event/index.ts';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const request = () => load('cadf-request-notification.json');
const response = () => load('cadf-response-notification.json');

test('the seed request notification maps to a RequestReceived event', () => {
  const e = decodeCadf(request());
  assert.equal(e.source, 'cadf');
  assert.equal(e.auditID, '8cf14af5-246e-5739-a11e-513ca13b7d36');
  assert.equal(e.stage, 'RequestReceived');
  assert.equal(e.level, 'Metadata');
  assert.equal(e.verb, 'list'); // read/list
  assert.equal(e.requestURI, '/load-balancer/v2.0/lbaas/loadbalancers');
  assert.deepStrictEqual(e.user, {
    username: 'admin',
    uid: '2af901396a424d5ca9dffa725226e8c7',
    extra: { project_id: ['90168d185e504b5580884a235ba31612'] },
  });
  assert.deepStrictEqual(e.sourceIPs, ['10.21.21.53']);
  assert.equal(e.userAgent, 'openstacksdk/0.17.2 keystoneauth1/3.11.0 python-requests/2.19.1 CPython/2.7.12');
  assert.equal(e.responseStatus, undefined);
  assert.equal(e.requestReceivedTimestamp, '2018-10-11T22:42:22.720112Z');
  assert.equal(e.stageTimestamp, '2018-10-11T22:42:22.720112Z');
  assert.deepStrictEqual(e.origin?.oslo, {
    event_type: 'audit.http.request',
    timestamp: '2018-10-11 22:42:22.721025',
    priority: 'INFO',
    publisher_id: 'uwsgi',
    message_id: '63264e0e-e60f-4adc-a656-0d87ab5d6329',
  });
  // The masked credential and the service target are kept, not mapped.
  const cadf = e.origin?.cadf ?? {};
  assert.deepStrictEqual((cadf.initiator as Record<string, unknown>).credential, {
    token: '***',
    identity_status: 'Confirmed',
  });
  assert.equal((cadf.target as Record<string, unknown>).name, 'octavia');
});

test('the seed response notification: same auditID, ResponseComplete, code from reason, stage time from reporter', () => {
  const req = decodeCadf(request());
  const e = decodeCadf(response());
  assert.equal(e.auditID, req.auditID);
  assert.equal(e.stage, 'ResponseComplete');
  assert.deepStrictEqual(e.responseStatus, { metadata: {}, code: 200 });
  assert.equal(e.origin?.cadf?.outcome, 'success');
  assert.equal(e.requestReceivedTimestamp, '2018-10-11T22:42:22.720112Z'); // eventTime is the request time
  assert.equal(e.stageTimestamp, '2018-10-11T22:42:22.852613Z');
});

test('encodeCadf(decodeCadf(x)) gives back the seed payloads, and the notifications whole', () => {
  for (const n of [request(), response()]) {
    assert.deepStrictEqual(encodeCadf(decodeCadf(n)), n.payload);
    assert.deepStrictEqual(encodeCadf(decodeCadf(n.payload)), n.payload); // a bare event too
    assert.equal(JSON.stringify(encodeCadf(decodeCadf(n))), JSON.stringify(n.payload)); // even the key order
    assert.deepStrictEqual(encodeOsloNotification(decodeCadf(n)), n);
  }
});

test('the 2.0 wire envelope is parsed twice, and written back with _unique_id and context kept', () => {
  const n = { ...response(), _unique_id: '0f5c9e8b1d2a4c3e9f8a7b6c5d4e3f2a', _context_request_id: 'req-1' };
  const wire = { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(n) };
  const e = decodeCadf(wire);
  assert.equal(e.stage, 'ResponseComplete');
  assert.equal(e.origin?.oslo?._unique_id, n._unique_id);
  const again = encodeOsloWire(encodeOsloNotification(e));
  assert.equal(again['oslo.version'], '2.0');
  assert.deepStrictEqual(JSON.parse(again['oslo.message'] as string), n);

  // Without a _unique_id one is made: uuid4 hex.
  const fresh = encodeOsloWire(request());
  const msg = JSON.parse(fresh['oslo.message'] as string);
  assert.match(msg._unique_id, /^[0-9a-f]{32}$/);
  assert.deepStrictEqual({ ...msg, _unique_id: undefined }, { ...request(), _unique_id: undefined });
});

test('a Kubernetes event encodes as keystonemiddleware would send it', () => {
  const k: AuditEvent = decodeKubernetesEvent({
    level: 'Metadata',
    auditID: 'c0ffee00-0000-4000-8000-000000000001',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/x/pods/p',
    verb: 'delete',
    user: { username: 'alice', uid: 'u-1' },
    sourceIPs: ['10.1.1.1'],
    userAgent: 'kubectl',
    responseStatus: { metadata: {}, code: 404 },
    requestReceivedTimestamp: '2024-01-01T00:00:00.000001Z',
    stageTimestamp: '2024-01-01T00:00:00.500000Z',
  });
  assert.deepStrictEqual(encodeCadf(k), {
    typeURI: 'http://schemas.dmtf.org/cloud/audit/1.0/event',
    eventTime: '2024-01-01T00:00:00.000001+0000',
    target: { id: 'unknown', typeURI: 'unknown', name: 'unknown' },
    observer: { id: 'target' },
    eventType: 'activity',
    initiator: {
      typeURI: 'service/security/account/user',
      name: 'alice',
      host: { agent: 'kubectl', address: '10.1.1.1' },
      id: 'u-1',
    },
    reason: { reasonCode: '404', reasonType: 'HTTP' },
    reporterchain: [{ reporterTime: '2024-01-01T00:00:00.500000+0000', role: 'modifier', reporter: { id: 'target' } }],
    action: 'delete',
    outcome: 'failure',
    id: 'c0ffee00-0000-4000-8000-000000000001',
    requestPath: '/api/v1/namespaces/x/pods/p',
  });
  const req = encodeCadf({ ...k, stage: 'RequestReceived' });
  assert.equal(req.outcome, 'pending');
  assert.ok(!('reason' in req) && !('reporterchain' in req));

  const n = encodeOsloNotification(k, { publisherId: 'vigil-api' });
  assert.equal(n.event_type, 'audit.http.response');
  assert.equal(n.timestamp, '2024-01-01 00:00:00.500000');
  assert.equal(n.priority, 'INFO');
  assert.equal(n.publisher_id, 'vigil-api');
  assert.match(n.message_id as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(encodeOsloNotification(k).message_id, n.message_id);
  assert.equal(encodeOsloNotification({ ...k, stage: 'RequestReceived' }).event_type, 'audit.http.request');
});

test('an exception outcome (unknown, no reason) is a Panic, and encodes back the same', () => {
  const n = response();
  delete n.payload.reason;
  n.payload.outcome = 'unknown';
  const e = decodeCadf(n);
  assert.equal(e.stage, 'Panic');
  assert.equal(e.responseStatus, undefined);
  assert.deepStrictEqual(encodeCadf(e), n.payload);
});

test('a Panic (the handler threw) encodes as keystonemiddleware reports an API that raised, and decodes back a Panic', () => {
  // Vigil's capture records a handler that threw as kube-apiserver does: Panic with the 500 it answered itself.
  const k: AuditEvent = decodeKubernetesEvent({
    level: 'Metadata',
    auditID: 'c0ffee00-0000-4000-8000-000000000002',
    stage: 'Panic',
    requestURI: '/v2/octavia/amphorae',
    verb: 'list',
    user: { username: 'bob', uid: 'u-2' },
    responseStatus: { metadata: {}, code: 500, status: 'Failure', reason: 'InternalError' },
    requestReceivedTimestamp: '2024-01-01T00:00:00.000001Z',
    stageTimestamp: '2024-01-01T00:00:00.250000Z',
  });
  const p = encodeCadf(k);
  assert.equal(p.outcome, 'unknown');
  assert.ok(!('reason' in p), 'no reason: no response reached the middleware');
  assert.deepStrictEqual(p.reporterchain, [
    { reporterTime: '2024-01-01T00:00:00.250000+0000', role: 'modifier', reporter: { id: 'target' } },
  ]);
  const back = decodeCadf(encodeOsloNotification(k));
  assert.equal(back.stage, 'Panic');
  assert.equal(back.stageTimestamp, '2024-01-01T00:00:00.250000Z');
  assert.equal(back.responseStatus, undefined);
});

test('actions ⇄ verbs (reference §3.3)', () => {
  const pairs: [string, string][] = [
    ['create', 'create'],
    ['read', 'get'],
    ['read/list', 'list'],
    ['update', 'update'],
    ['delete', 'delete'],
    ['update/failover', 'update/failover'],
    ['update/os-start', 'update/os-start'],
    ['authenticate/login', 'authenticate/login'],
    ['unknown', 'unknown'],
  ];
  for (const [action, verb] of pairs) {
    assert.equal(cadfActionToVerb(action), verb);
    assert.equal(verbToCadfAction(verb), action);
  }
  assert.equal(verbToCadfAction('watch'), 'read/list');
  assert.equal(verbToCadfAction('patch'), 'update');
  assert.equal(verbToCadfAction('deletecollection'), 'delete');
  assert.equal(verbToCadfAction('impersonate'), 'unknown');
  assert.equal(verbToCadfAction('frobnicate', 'POST'), 'create');
  assert.equal(verbToCadfAction('frobnicate', 'HEAD'), 'read');
  assert.equal(verbToCadfAction('frobnicate', 'OPTIONS'), 'unknown');
});

test('bad CADF input names the field', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ ...request(), payload: 'x' }, 'payload', /expected a CADF event object/],
    [{ ...request(), payload: { ...request().payload, id: undefined } }, 'payload.id', /required/],
    [{ ...request(), payload: { ...request().payload, outcome: 'maybe' } }, 'payload.outcome', /"maybe" is not one of/],
    [{ ...request(), payload: { ...request().payload, eventTime: 'now' } }, 'payload.eventTime', /not a timestamp/],
    [
      { ...response(), payload: { ...response().payload, reason: { reasonType: 'HTTP', reasonCode: 'OK' } } },
      'payload.reason.reasonCode',
      /not an HTTP status code/,
    ],
    [{ ...request().payload, initiator: { host: 'h' } }, 'initiator.host', /expected an object/],
    [{ 'oslo.version': '2.0', 'oslo.message': '{nope' }, 'oslo.message', /not valid JSON/],
    [{ 'oslo.version': '1.0', 'oslo.message': '{}' }, 'oslo.version', /is not "2.0"/],
    [[], '', /expected a CADF event or oslo notification object/],
  ];
  for (const [input, field, why] of cases) {
    assert.throws(
      () => decodeCadf(input),
      (err: unknown) => err instanceof EventValidationError && err.field === field && why.test(err.message),
      field,
    );
  }
});

test('a Kubernetes event through CADF and back keeps exactly these fields', () => {
  const k = decodeKubernetesEvent({
    level: 'RequestResponse',
    auditID: 'a0000000-0000-4000-8000-000000000002',
    stage: 'ResponseComplete',
    requestURI: '/apis/apps/v1/namespaces/x/deployments?limit=5',
    verb: 'list',
    user: { username: 'alice', uid: 'u-1', groups: ['dev'], extra: { project_id: ['p1'], other: ['o'] } },
    sourceIPs: ['10.1.1.1', '10.1.1.2'],
    userAgent: 'kubectl',
    objectRef: { resource: 'deployments', namespace: 'x', apiGroup: 'apps', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestObject: { a: 1 },
    requestReceivedTimestamp: '2024-01-01T00:00:00.000001Z',
    stageTimestamp: '2024-01-01T00:00:00.500000Z',
    annotations: { k: 'v' },
  });
  const back = decodeCadf(encodeCadf(k));
  const { origin, ...rest } = back;
  assert.deepStrictEqual(rest, {
    level: 'Metadata', // CADF carries no bodies
    auditID: k.auditID,
    stage: k.stage,
    requestURI: k.requestURI,
    verb: 'list',
    user: { username: 'alice', uid: 'u-1', extra: { project_id: ['p1'] } }, // groups and other extras dropped
    sourceIPs: ['10.1.1.1'], // host.address holds one
    userAgent: 'kubectl',
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: k.requestReceivedTimestamp,
    stageTimestamp: k.stageTimestamp,
    source: 'cadf',
  });
  assert.equal(origin?.cadf?.outcome, 'success');
});
