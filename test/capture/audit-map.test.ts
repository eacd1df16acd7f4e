import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuditMapError, loadAuditMap, parseAuditMap } from '../../src/capture/index.ts';

const octaviaFile = fileURLToPath(new URL('../fixtures/octavia/octavia_api_audit_map.conf', import.meta.url));
const octavia = loadAuditMap(octaviaFile);
const LB = 'service/load-balancer';
const id = 'b1d4f5b2-6a2e-4c57-9b68-9f3f3e1f0a11';
const mid = '0e0a3bd8-3d3c-4b1a-9a36-2f1a52f6b1a7';

test('the Octavia map loads with its DEFAULT leaking into every section', () => {
  assert.equal(octavia.targetEndpointType, 'load-balancer');
  assert.equal(octavia.pathKeywords.get('loadbalancers'), 'loadbalancer');
  assert.equal(octavia.pathKeywords.get('stats'), 'None');
  assert.equal(octavia.pathKeywords.get('target_endpoint_type'), 'load-balancer');
  assert.equal(octavia.customActions.get('failover'), 'update/failover');
  assert.equal(octavia.customActions.get('target_endpoint_type'), 'load-balancer');
  assert.equal(octavia.serviceEndpoints.get('load-balancer'), LB);
  assert.equal(octavia.serviceEndpoints.get('target_endpoint_type'), 'load-balancer');
});

test('openstack-cadf.md §3.3: every observed call gives the same action and target typeURI', () => {
  const table: [string, string, string, string][] = [
    ['GET', '/', 'read', LB],
    ['POST', '/v2/lbaas/loadbalancers', 'create', `${LB}/loadbalancers`],
    ['GET', '/v2/lbaas/loadbalancers', 'read/list', `${LB}/loadbalancers`],
    ['GET', '/v2/lbaas/loadbalancers?limit=2&sort=name:asc', 'read/list', `${LB}/loadbalancers`],
    ['HEAD', '/v2/lbaas/loadbalancers', 'read', `${LB}/loadbalancers`],
    ['GET', `/v2/lbaas/loadbalancers/${id}`, 'read', `${LB}/loadbalancers/loadbalancer`],
    ['PUT', `/v2/lbaas/loadbalancers/${id}`, 'update', `${LB}/loadbalancers/loadbalancer`],
    ['PATCH', `/v2/lbaas/loadbalancers/${id}`, 'update', `${LB}/loadbalancers/loadbalancer`],
    ['GET', `/v2/lbaas/loadbalancers/${id}/stats`, 'read/list', `${LB}/loadbalancers/loadbalancer/stats`],
    ['GET', `/v2/lbaas/loadbalancers/${id}/status`, 'read/list', `${LB}/loadbalancers/loadbalancer/status`],
    ['PUT', `/v2/lbaas/loadbalancers/${id}/failover`, 'update/failover', `${LB}/loadbalancers/loadbalancer/failover`],
    ['POST', `/v2/lbaas/pools/${id}/members`, 'create', `${LB}/pools/pool/members`],
    ['PUT', `/v2/lbaas/pools/${id}/members`, 'update', `${LB}/pools/pool/members`],
    ['GET', `/v2/lbaas/pools/${id}/members/${mid}`, 'read', `${LB}/pools/pool/members/member`],
    ['DELETE', `/v2/lbaas/pools/${id}/members/${mid}`, 'delete', `${LB}/pools/pool/members/member`],
    ['GET', '/v2/lbaas/providers/amphora/flavor_capabilities', 'read', `${LB}/providers/None`],
    ['GET', '/v2/lbaas/quotas/defaults', 'read/list', `${LB}/quotas/defaults`],
    ['PUT', `/v2/octavia/amphorae/${id}/config`, 'update', `${LB}/amphorae/amphora`],
    ['DELETE', `/v2/lbaas/loadbalancers/${id}?cascade=true`, 'delete', `${LB}/loadbalancers/loadbalancer`],
    // Trailing slash: the action drops it, the typeURI sees an empty segment after the keyword.
    ['GET', '/v2/lbaas/loadbalancers/', 'read/list', `${LB}/loadbalancers/loadbalancer`],
    // Resources absent from the map.
    ['GET', '/v2/lbaas/flavors', 'read', LB],
    ['GET', `/v2/lbaas/flavors/${id}`, 'read', LB],
  ];
  for (const [method, url, action, typeURI] of table) {
    const path = url.split('?')[0];
    assert.equal(octavia.cadfAction(method, path), action, `${method} ${url}: action`);
    assert.equal(octavia.cadfTargetTypeURI(path, 'load-balancer'), typeURI, `${method} ${url}: typeURI`);
  }
});

test('action rules: method-specific custom actions first, POST …/action uses the body, other methods', () => {
  const map = parseAuditMap(
    `[custom_actions]
os-migrations/get = read
Reboot = start/reboot

[path_keywords]
servers = server
os-migrations = None
`,
  );
  assert.equal(map.cadfAction('GET', '/v2/os-migrations'), 'read');
  assert.equal(map.cadfAction('POST', '/v2/os-migrations'), 'create');
  assert.equal(map.customActions.get('reboot'), 'start/reboot', 'keys are lower-cased');
  assert.equal(map.cadfAction('POST', '/v2/servers/1/Reboot'), 'update', 'so an upper-case segment never matches');
  assert.equal(map.cadfAction('POST', '/v2/servers/1/action', { 'os-start': null }), 'update/os-start');
  assert.equal(map.cadfAction('POST', '/v2/servers/1/action', {}), 'create');
  assert.equal(map.cadfAction('POST', '/v2/servers/1/action'), 'create');
  assert.equal(map.cadfAction('POST', '/v2/servers/1/action.json', { reboot: {} }), 'update/reboot');
  assert.equal(map.actionNeedsBody('POST', '/v2/servers/1/action'), true);
  assert.equal(map.actionNeedsBody('PUT', '/v2/servers/1/action'), false);
  assert.equal(map.cadfAction('POST', '/v2/servers/1'), 'update');
  assert.equal(map.cadfAction('GET', '/v2/servers.json'), 'read/list');
  assert.equal(map.cadfAction('OPTIONS', '/v2/servers'), 'unknown');
  assert.equal(map.cadfTargetTypeURI('/v2/servers', 'compute'), 'unknown', 'an unmapped service type is just unknown');
});

test('ConfigParser details: key: value, comments, continuation lines, interpolation, DEFAULT override', () => {
  const map = parseAuditMap(
    `# comment
; another
[DEFAULT]
base = service/compute

[service_endpoints]
compute: %(base)s
percent = 100%%
multi = first
   second

[path_keywords]
base = overridden
`,
  );
  assert.equal(map.serviceEndpoints.get('compute'), 'service/compute');
  assert.equal(map.serviceEndpoints.get('percent'), '100%');
  assert.equal(map.serviceEndpoints.get('multi'), 'first\nsecond');
  assert.equal(map.pathKeywords.get('base'), 'overridden');
  assert.equal(map.serviceEndpoints.get('base'), 'service/compute');
  assert.equal(map.targetEndpointType, undefined);
});

test('bad files: errors name the file and line', () => {
  const bad: [string, RegExp][] = [
    ['key = value\n', /f\.conf:1: a section header/],
    ['[path_keywords]\nservers = server\nnot an option\n', /f\.conf:3: expected "key = value"/],
    ['[path_keywords]\na = 1\nA = 2\n', /f\.conf:3: option "a" appears twice/],
    ['[a]\n[a]\n', /f\.conf:2: section \[a\] appears twice/],
    ['[service_endpoints]\nx = 50%\n', /f\.conf:2: "x": '%' must be followed/],
    ['[service_endpoints]\nx = %(nope)s\n', /f\.conf:2: "x": interpolation refers to missing option "nope"/],
    ['[service_endpoints]\nx = %(x)s\n', /interpolation deeper than 10/],
  ];
  for (const [text, re] of bad)
    assert.throws(
      () => parseAuditMap(text, 'f.conf'),
      (e: Error) => e instanceof AuditMapError && re.test(e.message),
      text,
    );
  assert.throws(() => loadAuditMap('/nonexistent/map.conf'), /\/nonexistent\/map\.conf: cannot read/);
});
