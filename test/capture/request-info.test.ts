import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubernetesLongRunning, resolveRequest, splitTarget } from '../../src/capture/index.ts';

function resolve(method: string, url: string) {
  const { path, query } = splitTarget(url);
  return resolveRequest(method, path, query);
}

test('resource requests: verbs from the method, list/watch/deletecollection without a name', () => {
  const cases: [string, string, Partial<ReturnType<typeof resolve>>][] = [
    [
      'GET',
      '/api/v1/namespaces/default/pods/web-1',
      { verb: 'get', namespace: 'default', resource: 'pods', name: 'web-1' },
    ],
    ['GET', '/api/v1/namespaces/default/pods', { verb: 'list', namespace: 'default', resource: 'pods', name: '' }],
    ['GET', '/api/v1/pods', { verb: 'list', namespace: '', resource: 'pods' }],
    ['GET', '/api/v1/namespaces/default/pods?watch=true', { verb: 'watch', resource: 'pods' }],
    ['GET', '/api/v1/namespaces/default/pods?watch=1&resourceVersion=5', { verb: 'watch' }],
    ['GET', '/api/v1/namespaces/default/pods?watch=false', { verb: 'list' }],
    ['GET', '/api/v1/watch/namespaces/default/pods', { verb: 'watch', namespace: 'default', resource: 'pods' }],
    ['HEAD', '/api/v1/namespaces/default/pods/a', { verb: 'get', name: 'a' }],
    ['POST', '/api/v1/namespaces/default/pods', { verb: 'create', resource: 'pods', name: '' }],
    ['PUT', '/api/v1/namespaces/default/pods/a', { verb: 'update', name: 'a' }],
    ['PATCH', '/api/v1/namespaces/default/pods/a', { verb: 'patch', name: 'a' }],
    ['DELETE', '/api/v1/namespaces/default/pods/a', { verb: 'delete', name: 'a' }],
    ['DELETE', '/api/v1/namespaces/default/pods', { verb: 'deletecollection', name: '' }],
    ['OPTIONS', '/api/v1/namespaces/default/pods', { verb: '' }],
    [
      'GET',
      '/apis/apps/v1/namespaces/prod/deployments/web/scale',
      { verb: 'get', apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', name: 'web', subresource: 'scale' },
    ],
    ['GET', '/api/v1/namespaces/default/pods/a/log', { subresource: 'log' }],
    ['GET', '/api/v1/proxy/namespaces/default/pods/a/some/path', { verb: 'proxy', name: 'a', subresource: '' }],
    ['GET', '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1', { verb: 'list', name: 'web-1' }],
    ['GET', '/api/v1/namespaces/a%20b/pods', { namespace: 'a b', path: '/api/v1/namespaces/a b/pods' }],
  ];
  for (const [method, url, want] of cases) {
    const got = resolve(method, url);
    assert.equal(got.resourceRequest, true, `${method} ${url}`);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof typeof got], v, `${method} ${url}: ${k}`);
  }
});

test('the namespace object itself: namespace and name are both the namespace', () => {
  const got = resolve('GET', '/api/v1/namespaces/kube-system');
  assert.deepEqual(
    { ns: got.namespace, res: got.resource, name: got.name, verb: got.verb },
    { ns: 'kube-system', res: 'namespaces', name: 'kube-system', verb: 'get' },
  );
  const status = resolve('PUT', '/api/v1/namespaces/foo/status');
  assert.deepEqual(
    [status.namespace, status.resource, status.name, status.subresource],
    ['foo', 'namespaces', 'foo', 'status'],
  );
  const fin = resolve('PUT', '/api/v1/namespaces/foo/finalize');
  assert.equal(fin.subresource, 'finalize');
  const create = resolve('POST', '/api/v1/namespaces');
  assert.deepEqual([create.namespace, create.resource, create.verb], ['', 'namespaces', 'create']);
});

test('discovery and other paths are non-resource requests with the lower-case method as verb', () => {
  for (const url of [
    '/',
    '/api',
    '/api/v1',
    '/apis',
    '/apis/apps',
    '/apis/apps/v1',
    '/healthz',
    '/metrics',
    '/version',
    '/openapi/v2',
    '/system/functions',
  ]) {
    const got = resolve('GET', url);
    assert.equal(got.resourceRequest, false, url);
    assert.equal(got.verb, 'get', url);
    assert.equal(got.resource, '', url);
  }
  assert.equal(resolve('POST', '/healthz').verb, 'post');
  assert.equal(resolve('GET', '/healthz?verbose').path, '/healthz');
});

test('kube-apiserver long-running check', () => {
  assert.equal(kubernetesLongRunning(resolve('GET', '/api/v1/pods?watch=true')), true);
  assert.equal(kubernetesLongRunning(resolve('POST', '/api/v1/namespaces/d/pods/a/exec')), true);
  assert.equal(kubernetesLongRunning(resolve('GET', '/api/v1/namespaces/d/pods/a/log')), true);
  assert.equal(kubernetesLongRunning(resolve('GET', '/api/v1/namespaces/d/pods/a')), false);
  assert.equal(kubernetesLongRunning(resolve('GET', '/api/v1/pods')), false);
});
