import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matches } from '../../src/query/matches.ts';
import { ParamError, toEventQuery, toInterval, toPage } from '../../src/query/params.ts';
import { event } from './fixtures.ts';

const e = event({
  auditID: 'm-1',
  workspace: 'wa',
  user: { username: 'Alice', groups: ['devs', 'system:authenticated'] },
  objectRef: { resource: 'pods', namespace: 'ns1', name: 'web-1', subresource: 'log' },
  userAgent: 'kubectl/v1.30',
});

test('exact is whole-value and case-sensitive; fuzzy is a case-insensitive substring; lists are OR-ed', () => {
  assert.ok(matches(e, { exact: { user: ['Alice'] } }));
  assert.ok(!matches(e, { exact: { user: ['alice'] } }));
  assert.ok(matches(e, { fuzzy: { user: ['LIC'] } }));
  assert.ok(matches(e, { exact: { user: ['bob', 'Alice'] } }));
  assert.ok(matches(e, { exact: { group: ['devs'] } }));
  assert.ok(!matches(e, { exact: { group: ['dev'] } }));
  assert.ok(matches(e, { fuzzy: { group: ['DEV'] } }));
  assert.ok(matches(e, { exact: { code: ['200'] }, fuzzy: { code: ['20'] } }));
  assert.ok(!matches(e, { exact: { code: ['200'], verb: ['get'] } }));
  assert.ok(matches(e, { exact: { subresource: ['log'], name: ['web-1'] } }));
});

test('free text looks through the searchable fields only', () => {
  assert.ok(matches(e, { text: ['KUBECTL'] }));
  assert.ok(matches(e, { text: ['nothing', '/api/v1/namespaces'] }));
  assert.ok(!matches(e, { text: ['ResponseComplete'] }));
});

test('time range is inclusive; scope admits its workspaces or namespaces only', () => {
  const t = Date.parse(e.requestReceivedTimestamp);
  assert.ok(matches(e, { start: t, end: t }));
  assert.ok(!matches(e, { start: t + 1 }));
  assert.ok(matches(e, { scope: { workspaces: ['wa'], namespaces: [] } }));
  assert.ok(matches(e, { scope: { workspaces: [], namespaces: ['ns1'] } }));
  assert.ok(!matches(e, { scope: { workspaces: ['wb'], namespaces: ['ns2'] } }));
  assert.ok(!matches(event({ auditID: 'x', objectRef: {} }), { scope: { workspaces: [''], namespaces: [''] } }));
});

test('KubeSphere parameters map onto EventQuery', () => {
  assert.deepEqual(
    toEventQuery({
      workspace_filter: 'a,b',
      objectref_name_search: 'web',
      response_code_filter: '200, 404',
      q: 'kubectl',
      start_time: '1714557600',
      end_time: '2024-05-01T10:00:00Z',
    }),
    {
      exact: { workspace: ['a', 'b'], code: ['200', '404'] },
      fuzzy: { name: ['web'] },
      text: ['kubectl'],
      start: 1714557600000,
      end: Date.parse('2024-05-01T10:00:00Z'),
    },
  );
  assert.throws(
    () => toEventQuery({ start_time: 'yesterday' }),
    (err: ParamError) => err.field === 'start_time',
  );
  assert.throws(
    () => toEventQuery({ response_code_filter: 'ok' }),
    (err: ParamError) => err.field === 'response_code_filter',
  );
  assert.throws(() => toEventQuery({ start_time: '20', end_time: '10' }), ParamError);
  assert.deepEqual(toPage({}), { sort: 'desc', size: 10 });
  assert.equal(toInterval({}), 15 * 60_000);
  assert.equal(toInterval({ interval: '2h' }), 7_200_000);
});
