import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBody, microTime, RouteTable, SourceIPResolver } from '../../src/capture/index.ts';

test('route maps: first match in order, method filter, :group and ?query references, verbs', () => {
  const table = new RouteTable([
    {
      method: 'GET',
      pattern: '/system/functions',
      resource: 'functions',
      namespace: '?namespace',
      action: 'Function:List',
    },
    { method: ['POST', 'PUT'], pattern: '/system/functions', resource: 'functions', verb: 'deploy' },
    { pattern: '/system/function/:name', resource: 'functions', name: ':name', namespace: 'openfaas-fn' },
    { pattern: '/system/*', resource: 'system' },
  ]);
  assert.deepEqual(table.match('GET', '/system/functions', 'namespace=dev'), {
    resource: 'functions',
    apiGroup: '',
    apiVersion: '',
    namespace: 'dev',
    name: '',
    subresource: '',
    verb: 'list',
    action: 'Function:List',
  });
  assert.equal(table.match('PUT', '/system/functions', '')?.verb, 'deploy');
  const fn = table.match('DELETE', '/system/function/figlet', '');
  assert.deepEqual([fn?.verb, fn?.name, fn?.namespace], ['delete', 'figlet', 'openfaas-fn']);
  assert.equal(
    table.match('DELETE', '/system/functions', '')?.resource,
    'system',
    'DELETE is not in the first two entries',
  );
  assert.equal(table.match('DELETE', '/system/functions', '')?.verb, 'deletecollection');
  assert.equal(table.match('GET', '/other', ''), undefined);
});

test('route maps: bad entries are rejected when the table is built', () => {
  assert.throws(
    () => new RouteTable([{ pattern: '/a/:id', resource: 'a', name: ':nope' }]),
    /routes\[0\]\.name: the pattern has no group ":nope"/,
  );
  assert.throws(() => new RouteTable([{ pattern: '/a/(', resource: 'a' }]), /routes\[0\]\.pattern/);
  assert.throws(() => new RouteTable([{ pattern: '/a', resource: '' }]), /routes\[0\]\.resource is required/);
});

test('sourceIPs: trusted proxies by CIDR or address, IPv4-mapped peers, X-Real-Ip, no repeated peer', () => {
  const r = new SourceIPResolver(['10.0.0.0/8', '::1', '2001:db8::/32']);
  const xff = { 'x-forwarded-for': '203.0.113.1, bogus ,198.51.100.9' };
  assert.deepEqual(r.resolve('::ffff:10.1.2.3', xff), ['203.0.113.1', '198.51.100.9', '10.1.2.3']);
  assert.deepEqual(r.resolve('11.0.0.1', xff), ['11.0.0.1']);
  assert.deepEqual(r.resolve('::1', { 'x-real-ip': '192.0.2.5' }), ['192.0.2.5', '::1']);
  assert.deepEqual(r.resolve('2001:db8::7', { 'x-forwarded-for': '192.0.2.5', 'x-real-ip': '192.0.2.5' }), [
    '192.0.2.5',
    '2001:db8::7',
  ]);
  assert.deepEqual(r.resolve('10.0.0.1', { 'x-forwarded-for': '10.0.0.1' }), ['10.0.0.1']);
  assert.deepEqual(new SourceIPResolver().resolve('127.0.0.1', xff), ['127.0.0.1']);
  assert.deepEqual(new SourceIPResolver().resolve(undefined, {}), []);
  assert.throws(() => new SourceIPResolver(['10.0.0.0/33']), /invalid prefix length/);
  assert.throws(() => new SourceIPResolver(['proxy.local']), /not an IP address or CIDR/);
});

test('MicroTime: six fraction digits in UTC', () => {
  const us = Date.UTC(2026, 10, 23, 11, 5, 9) * 1000 + 42;
  assert.equal(microTime(us), '2026-11-23T11:05:09.000042Z');
  assert.equal(microTime(us + 999_957), '2026-11-23T11:05:09.999999Z');
  assert.equal(microTime(us + 999_958), '2026-11-23T11:05:10.000000Z');
});

test('bodies: JSON parsed, text as string, binary as a base64 marker', () => {
  const b = (s: string | Uint8Array) => [Buffer.from(s)];
  assert.deepEqual(decodeBody(b('{"a":1}'), 7, 'application/json; charset=utf-8'), { a: 1 });
  assert.deepEqual(decodeBody(b('[1]'), 3, 'application/merge-patch+json'), [1]);
  assert.equal(decodeBody(b('{bad'), 4, 'application/json'), '{bad');
  assert.equal(decodeBody(b('a=1&b=2'), 7, 'application/x-www-form-urlencoded'), 'a=1&b=2');
  assert.equal(decodeBody([Buffer.from('hel'), Buffer.from('lo')], 5, 'text/plain'), 'hello');
  assert.deepEqual(decodeBody(b(new Uint8Array([0xff, 0, 1])), 3, 'application/octet-stream'), {
    encoding: 'base64',
    data: '/wAB',
  });
  assert.deepEqual(decodeBody(b(new Uint8Array([0xff])), 1, 'text/plain'), { encoding: 'base64', data: '/w==' });
});
