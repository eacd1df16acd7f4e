// The object history's diff and patch semantics (src/query/diff.ts), without a store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyPatch, diffStates, type ObjectState } from '../../src/query/diff.ts';

const state = (object: unknown, digests: Record<string, string> = {}, key = 'k1'): ObjectState => ({
  object,
  digests: new Map(Object.entries(digests)),
  key,
});

test('diff: members added, removed, replaced; arrays item by item when their length stays; noise left out', () => {
  const before = state({
    metadata: { name: 'a', resourceVersion: '1', labels: { x: '1', y: '2' } },
    spec: { replicas: 1, ports: [80, 443], args: ['a'] },
  });
  const after = state({
    metadata: { name: 'a', resourceVersion: '2', labels: { x: '1', z: '3' } },
    spec: { replicas: 2, ports: [80, 8443], args: ['a', 'b'] },
  });
  assert.deepEqual(diffStates(before, after), [
    { path: '/metadata/labels/y', op: 'remove', before: '2' },
    { path: '/metadata/labels/z', op: 'add', after: '3' },
    { path: '/spec/replicas', op: 'replace', before: 1, after: 2 },
    { path: '/spec/ports/1', op: 'replace', before: 443, after: 8443 },
    { path: '/spec/args', op: 'replace', before: ['a'], after: ['a', 'b'] },
  ]);
  assert.deepEqual(diffStates(before, before), []);
  assert.deepEqual(diffStates(state({ 'a/b~c': 1 }), state({ 'a/b~c': 2 })), [
    { path: '/a~1b~0c', op: 'replace', before: 1, after: 2 },
  ]);
});

test('masked values: changed or unchanged by digest; unknown without comparable digests', () => {
  const a = state({ data: { p: '***', q: '***' } }, { '/data/p': 'd1', '/data/q': 'd2' });
  const b = state({ data: { p: '***', q: '***' } }, { '/data/p': 'd9', '/data/q': 'd2' });
  assert.deepEqual(diffStates(a, b), [
    { path: '/data/p', op: 'replace', before: '***', after: '***', masked: 'changed' },
  ]);
  const otherKey = state({ data: { p: '***', q: '***' } }, { '/data/p': 'd1', '/data/q': 'd2' }, 'k2');
  assert.deepEqual(
    diffStates(a, otherKey).map((d) => [d.path, d.masked]),
    [
      ['/data/p', undefined],
      ['/data/q', undefined],
    ],
  );
});

test('merge patch: applied to the state before it; null removes; $-directives skipped; unknown prior lists the patch', () => {
  const prior = state({ metadata: { labels: { a: '1' } }, spec: { list: [1, 2] } });
  const p = applyPatch(
    prior,
    { metadata: { labels: { a: null, b: '2' } }, spec: { list: [3], $retainKeys: ['list'] } },
    new Map(),
    'k1',
  );
  assert.deepEqual(p.state?.object, { metadata: { labels: { b: '2' } }, spec: { list: [3] } });
  assert.deepEqual(prior.object, { metadata: { labels: { a: '1' } }, spec: { list: [1, 2] } }, 'prior untouched');
  const unknown = applyPatch(undefined, { data: { x: 'eA==' }, metadata: { annotations: { n: null } } }, new Map());
  assert.equal(unknown.state, undefined);
  assert.deepEqual(unknown.written, [
    { path: '/data/x', op: 'replace', after: 'eA==' },
    { path: '/metadata/annotations/n', op: 'remove' },
  ]);
});

test('JSON patch: add, replace, remove, move, copy; a masked value written again is "unchanged"', () => {
  const prior = state({ data: { p: '***' }, list: ['a', 'b'] }, { '/data/p': 'd1' });
  const p = applyPatch(
    prior,
    [
      { op: 'add', path: '/list/1', value: 'x' },
      { op: 'remove', path: '/list/0' },
      { op: 'copy', from: '/list/0', path: '/first' },
      { op: 'move', from: '/first', path: '/moved' },
      { op: 'replace', path: '/data/p', value: '***' },
      { op: 'test', path: '/moved', value: 'x' },
    ],
    new Map([['/4/value', 'd1']]),
    'k1',
  );
  assert.deepEqual(p.state?.object, { data: { p: '***' }, list: ['x', 'b'], moved: 'x' });
  assert.deepEqual(p.rewritten, [{ path: '/data/p', op: 'replace', before: '***', after: '***', masked: 'unchanged' }]);
  assert.deepEqual(diffStates(prior, p.state!), [
    { path: '/list/0', op: 'replace', before: 'a', after: 'x' },
    { path: '/moved', op: 'add', after: 'x' },
  ]);
  const changed = applyPatch(
    prior,
    [{ op: 'replace', path: '/data/p', value: '***' }],
    new Map([['/0/value', 'd2']]),
    'k1',
  );
  assert.deepEqual(diffStates(prior, changed.state!), [
    { path: '/data/p', op: 'replace', before: '***', after: '***', masked: 'changed' },
  ]);
});
