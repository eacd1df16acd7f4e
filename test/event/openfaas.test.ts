import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { v5 as uuidv5 } from 'uuid';
import {
  decodeKubernetesEvent,
  decodeOpenFaaSEvent,
  EventValidationError,
  encodeOpenFaaSEvent,
  OPENFAAS_ID_NAMESPACE,
} from '../../src/event/index.ts';

// The seed's delivery: the body exactly as sent, and its headers.
const read = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const delivery = () => ({
  headers: read('openfaas-delivery.headers.json') as Record<string, string>,
  body: read('openfaas-delivery.json') as Record<string, unknown>[],
});

test('the seed delivery maps to a ResponseComplete Metadata event', () => {
  const d = delivery();
  const deliveryId = d.headers['X-Openfaas-Delivery'];
  const e = decodeOpenFaaSEvent(d.body[0], { deliveryId, index: 0 });
  assert.deepStrictEqual(e, {
    level: 'Metadata',
    auditID: uuidv5(`${deliveryId}#0`, OPENFAAS_ID_NAMESPACE),
    stage: 'ResponseComplete',
    requestURI: '/system/namespaces',
    verb: 'list', // from the single IAM action Namespace:List
    user: {
      username: 'fed:system:serviceaccount:openfaas:cron-connector',
      uid: 'fed:system:serviceaccount:openfaas:cron-connector',
    },
    objectRef: { resource: 'namespaces' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2023-12-04T17:09:28.710118Z',
    stageTimestamp: '2023-12-04T17:09:28.710118Z',
    source: 'openfaas',
    origin: {
      openfaas: {
        method: 'GET',
        actor: { issuer: 'https://gw.exit.welteki.dev', fed_issuer: 'https://kubernetes.default.svc.cluster.local' },
        actions: ['Namespace:List'],
        time: '2023-12-04T17:09:28.710118072Z',
        deliveryId,
        index: 0,
      },
    },
  });
});

test('the seed example round-trips exactly, key order included', () => {
  const ev = delivery().body[0];
  const out = encodeOpenFaaSEvent(decodeOpenFaaSEvent(ev));
  assert.deepStrictEqual(out, ev);
  assert.equal(JSON.stringify(out), JSON.stringify(ev));
  // With actor.name and an unknown member too.
  const named = { ...ev, actor: { sub: 's', name: 'Sam Doe', issuer: 'i', fed_issuer: 'f' }, extra_field: 1 };
  assert.deepStrictEqual(encodeOpenFaaSEvent(decodeOpenFaaSEvent(named)), named);
  // Unauthenticated: empty actor stays empty.
  const anon = { ...ev, actor: {} };
  const e = decodeOpenFaaSEvent(anon);
  assert.deepStrictEqual(e.user, {});
  assert.deepStrictEqual(encodeOpenFaaSEvent(e), anon);
});

test('auditIDs are deterministic: a redelivery gives the same ids, other positions and deliveries differ', () => {
  const ev = delivery().body[0];
  const id = (o: object) => decodeOpenFaaSEvent(ev, o).auditID;
  assert.equal(id({ deliveryId: 'd1', index: 3 }), id({ deliveryId: 'd1', index: 3 }));
  assert.notEqual(id({ deliveryId: 'd1', index: 3 }), id({ deliveryId: 'd1', index: 4 }));
  assert.notEqual(id({ deliveryId: 'd1', index: 3 }), id({ deliveryId: 'd2', index: 3 }));
  assert.match(id({ deliveryId: 'd1' }), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // Without a delivery id: the event's canonical JSON, so key order does not matter but content does.
  const reordered = Object.fromEntries(Object.entries(ev).reverse());
  assert.equal(decodeOpenFaaSEvent(ev).auditID, decodeOpenFaaSEvent(reordered).auditID);
  assert.notEqual(decodeOpenFaaSEvent(ev).auditID, decodeOpenFaaSEvent({ ...ev, response_code: 500 }).auditID);
});

test('verbs from actions, else from the method; namespace from the query', () => {
  const base = { path: '/system/functions?namespace=dev', response_code: 202, time: '2024-01-01T00:00:00Z' };
  const verb = (method: string, actions?: string[]) => decodeOpenFaaSEvent({ ...base, method, actions }).verb;
  assert.equal(verb('POST', ['Function:Create']), 'create');
  assert.equal(verb('DELETE', ['Function:Delete']), 'delete');
  assert.equal(verb('POST', ['Function:Scale']), 'update');
  assert.equal(verb('POST', ['Function:Invoke']), 'create');
  assert.equal(verb('PUT'), 'update');
  assert.equal(verb('PATCH'), 'patch');
  assert.equal(verb('OPTIONS'), 'options');
  const e = decodeOpenFaaSEvent({ ...base, method: 'PUT', actions: ['Function:Update'] });
  assert.deepStrictEqual(e.objectRef, { resource: 'functions', namespace: 'dev' });
  // A changed verb changes the method written back.
  assert.equal(encodeOpenFaaSEvent({ ...e, verb: 'delete' }).method, 'DELETE');
  assert.equal(encodeOpenFaaSEvent(e).method, 'PUT');
});

test('bad events name the field', () => {
  const ev = delivery().body[0];
  const cases: [unknown, string, RegExp][] = [
    [{ ...ev, path: undefined }, 'path', /required/],
    [{ ...ev, method: 7 }, 'method', /expected a string/],
    [{ ...ev, response_code: '200' }, 'response_code', /expected an integer/],
    [{ ...ev, time: 'later' }, 'time', /is not a timestamp/],
    [{ ...ev, actions: ['a', 2] }, 'actions[1]', /expected a string/],
    [{ ...ev, actor: { sub: 1 } }, 'actor.sub', /expected a string/],
    ['x', '', /expected an OpenFaaS api_access event object/],
  ];
  for (const [input, field, why] of cases) {
    assert.throws(
      () => decodeOpenFaaSEvent(input),
      (err: unknown) => err instanceof EventValidationError && err.field === field && why.test(err.message),
      field,
    );
  }
});

test('a Kubernetes event through OpenFaaS and back keeps exactly these fields', () => {
  const k = decodeKubernetesEvent({
    level: 'Request',
    auditID: 'a0000000-0000-4000-8000-000000000003',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/x/pods/p',
    verb: 'delete',
    user: { username: 'alice', groups: ['dev'] },
    sourceIPs: ['10.1.1.1'],
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-01-01T00:00:00.000001Z',
    stageTimestamp: '2024-01-01T00:00:00.500000Z',
  });
  const out = encodeOpenFaaSEvent(k);
  assert.deepStrictEqual(out, {
    actor: { sub: 'alice' },
    path: '/api/v1/namespaces/x/pods/p',
    method: 'DELETE',
    actions: [],
    response_code: 200,
    time: '2024-01-01T00:00:00.000001Z',
  });
  const back = decodeOpenFaaSEvent(out);
  assert.equal(back.verb, 'delete');
  assert.equal(back.requestURI, k.requestURI);
  assert.deepStrictEqual(back.user, { username: 'alice', uid: 'alice' }); // sub is both; groups are not carried
  assert.equal(back.responseStatus?.code, 200);
  assert.equal(back.requestReceivedTimestamp, k.requestReceivedTimestamp);
  assert.equal(back.stageTimestamp, k.requestReceivedTimestamp); // one time only
  assert.equal(back.sourceIPs, undefined);
});
