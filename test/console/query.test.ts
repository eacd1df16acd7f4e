// The console's URL state and export formatting, without a browser: what a bookmark means and what a CSV holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CSV_HEADER, toCsvRow } from '../../web/src/exporter.ts';
import { sentence } from '../../web/src/format.ts';
import { apiParams, parseView, pickInterval, resolveRange, viewToSearch } from '../../web/src/query.ts';

test('a console URL reads as filters under the API parameter names and writes back unchanged', () => {
  const search = '?objectref_namespace_search=prod&verb_filter=delete%2Cpatch&user_search=adm&q=secret';
  const view = parseView(search);
  assert.deepEqual(
    view.filters.map((f) => [f.field.key, f.mode, f.values]),
    [
      ['namespace', 'fuzzy', ['prod']],
      ['verb', 'exact', ['delete', 'patch']],
      ['user', 'fuzzy', ['adm']],
    ],
  );
  assert.equal(view.q, 'secret');
  assert.equal(view.range, '12h', 'no time in the URL means the default last 12 hours');
  assert.deepEqual(
    new URLSearchParams(viewToSearch(view)),
    new URLSearchParams('objectref_namespace_search=prod&verb_filter=delete,patch&user_search=adm&q=secret'),
  );
});

test('absolute times accept Unix seconds and RFC 3339; relative ranges resolve against now', () => {
  const abs = parseView('?start_time=1700000000&end_time=2023-11-14T23:00:00Z');
  assert.equal(abs.start, 1_700_000_000_000);
  assert.equal(abs.end, Date.parse('2023-11-14T23:00:00Z'));
  assert.equal(abs.range, undefined);
  assert.match(viewToSearch(abs), /start_time=1700000000&end_time=1700002800/);

  const now = 1_800_000_000_000;
  const rel = parseView('?range=1h&verb_filter=get');
  assert.deepEqual(resolveRange(rel, now), { start: now - 3_600_000, end: now });
  const p = apiParams(rel, resolveRange(rel, now));
  assert.equal(p.get('start_time'), String((now - 3_600_000) / 1000));
  assert.equal(p.get('end_time'), String(now / 1000));
  assert.equal(p.get('verb_filter'), 'get');
  assert.equal(p.has('range'), false, 'range is the console’s own parameter, never sent to the API');
  assert.equal(parseView('?range=bogus').range, '12h');
  assert.deepEqual(resolveRange(parseView('?range=all'), now), { end: now });
});

test('the histogram interval keeps the chart at no more than about 60 bars', () => {
  assert.equal(pickInterval(12 * 3_600_000), '15m');
  assert.equal(pickInterval(15 * 60_000), '30s');
  assert.equal(pickInterval(7 * 86_400_000), '3h');
  assert.equal(pickInterval(30 * 86_400_000), '12h');
});

test('CSV cells are quoted when needed and cannot start a spreadsheet formula', () => {
  const row = toCsvRow({
    id: 'x1',
    auditID: 'a1',
    verb: 'create',
    user: { username: '=HYPERLINK("http://evil")', groups: ['a', 'b'] },
    objectRef: { resource: 'configmaps', name: 'cm, "quoted"', namespace: 'ns' },
    responseStatus: { code: 201 },
    requestReceivedTimestamp: '2026-11-23T10:00:00.000000Z',
    sourceIPs: ['10.0.0.1'],
    source: 'kubernetes',
  });
  const cols = CSV_HEADER.split(',');
  assert.equal(cols[0], 'time');
  assert.match(row, /^2026-11-23T10:00:00\.000000Z,"'=HYPERLINK\(""http:\/\/evil""\)",a b,create,configmaps,,/);
  assert.match(row, /,"cm, ""quoted""",ns,/);
  assert.match(row, /,201,10\.0\.0\.1,kubernetes,/);
});

test('the detail headline says what happened, or what was attempted when the call failed', () => {
  const base = {
    id: 'x',
    auditID: 'a',
    user: { username: 'alice' },
    objectRef: { resource: 'pods', name: 'web-1', namespace: 'demo' },
  };
  assert.equal(
    sentence({ ...base, verb: 'delete', responseStatus: { code: 200 } }),
    'alice deleted pods web-1 in project demo',
  );
  assert.equal(
    sentence({ ...base, verb: 'delete', responseStatus: { code: 403 } }),
    'alice tried to delete pods web-1 in project demo',
  );
  assert.equal(sentence({ id: 'y', auditID: 'b', verb: 'get', requestURI: '/healthz' }), 'someone read /healthz');
});
