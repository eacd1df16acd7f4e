// attributesFromEvent: what the policy saw, recovered from a recorded event.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { attributesFromEvent, createPolicyEvaluator, loadPolicy } from '../../src/policy/index.ts';

const base: AuditEvent = {
  level: 'Metadata',
  auditID: 'x',
  stage: 'ResponseComplete',
  requestURI: '/',
  verb: 'get',
  user: { username: 'alice', groups: ['system:authenticated'] },
  requestReceivedTimestamp: '2026-11-23T10:00:00.000000Z',
  stageTimestamp: '2026-11-23T10:00:00.000000Z',
  source: 'kubernetes',
};

test('a resource event: everything from objectRef, path without the query', () => {
  const a = attributesFromEvent({
    ...base,
    verb: 'update',
    requestURI: '/apis/apps/v1/namespaces/default/deployments/web/scale?fieldManager=kubectl&dryRun=All',
    objectRef: {
      resource: 'deployments',
      subresource: 'scale',
      namespace: 'default',
      name: 'web',
      apiGroup: 'apps',
      apiVersion: 'v1',
    },
  });
  assert.deepEqual(a, {
    user: { username: 'alice', groups: ['system:authenticated'] },
    verb: 'update',
    resourceRequest: true,
    path: '/apis/apps/v1/namespaces/default/deployments/web/scale',
    namespace: 'default',
    apiGroup: 'apps',
    resource: 'deployments',
    subresource: 'scale',
    name: 'web',
  });
});

test('a cluster-scoped or all-namespace event has namespace "" and core group ""', () => {
  const a = attributesFromEvent({
    ...base,
    verb: 'list',
    requestURI: '/api/v1/pods',
    objectRef: { resource: 'pods', apiVersion: 'v1' },
  });
  assert.equal(a.resourceRequest, true);
  assert.equal(a.namespace, '');
  assert.equal(a.apiGroup, '');
  assert.equal(a.name, '');
  assert.equal(a.subresource, '');
});

test('an event without objectRef is a non-resource request', () => {
  const a = attributesFromEvent({ ...base, requestURI: '/healthz?verbose' });
  assert.equal(a.resourceRequest, false);
  assert.equal(a.path, '/healthz');
  assert.equal(a.resource, '');
});

test('the user is the authenticated one, never the impersonated one', () => {
  const a = attributesFromEvent({
    ...base,
    impersonatedUser: { username: 'system:admin', groups: ['system:masters'] },
  });
  assert.equal(a.user?.username, 'alice');
  const e = createPolicyEvaluator(
    loadPolicy(
      'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  userGroups: [system:masters]\n- level: Request\n',
    ),
  );
  assert.equal(e.evaluate(a).level, 'Request');
});

test('user {} (authentication failed) is no user: users/userGroups rules never match it', () => {
  assert.equal(attributesFromEvent({ ...base, user: {} }).user, undefined);
  const e = createPolicyEvaluator(
    loadPolicy('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  users: [""]\n- level: Request\n'),
  );
  assert.equal(e.evaluate(attributesFromEvent({ ...base, user: {} })).rule, 1);
});

test('v1alpha1 objectRefs carried the group in apiVersion (seed 003)', () => {
  const a = attributesFromEvent({
    ...base,
    objectRef: { resource: 'rolebindings', namespace: 'kube-public', apiVersion: 'rbac.authorization.k8s.io/v1beta1' },
  });
  assert.equal(a.apiGroup, 'rbac.authorization.k8s.io');
  // An explicit apiGroup wins, and a bare version is the core group.
  assert.equal(attributesFromEvent({ ...base, objectRef: { apiGroup: 'apps', apiVersion: 'x/v1' } }).apiGroup, 'apps');
  assert.equal(attributesFromEvent({ ...base, objectRef: { apiVersion: 'v1' } }).apiGroup, '');
});

test("Falco's 51 real events: attributes and decisions", () => {
  const text = readFileSync(new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8');
  const events = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as AuditEvent);
  assert.equal(events.length, 51);
  const policy = loadPolicy(`apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
  resources: [{group: "", resources: [secrets]}]
- level: RequestResponse
  resources: [{group: rbac.authorization.k8s.io}]
- level: RequestResponse
  resources: [{resources: ["*/exec", "*/attach"]}]
- level: None
  namespaces: [""]
- level: Request
`);
  const e = createPolicyEvaluator(policy);
  const counts = new Map<number | null, number>();
  for (const ev of events) {
    const a = attributesFromEvent(ev);
    assert.equal(a.resourceRequest, true);
    assert.equal(a.path.includes('?'), false);
    assert.equal(a.namespace, ev.objectRef?.namespace ?? '');
    const d = e.evaluate(a);
    counts.set(d.rule, (counts.get(d.rule) ?? 0) + 1);
  }
  // 4 secrets events; 11 RBAC (8 clusterroles, 3 clusterrolebindings); exec and attach; the 3 namespace
  // creations (cluster-scoped: no namespace; the deletion of namespace foo is in foo); the 31 others.
  assert.deepEqual(Object.fromEntries(counts), { 0: 4, 1: 11, 2: 2, 3: 3, 4: 31 });
});
