// The field table (src/store/fields.ts) and what is derived from it. The names users and stores already hold — the
// API's parameters, SQLite's dictionary numbers and columns, PostgreSQL's columns — must never change under them, so
// today's are written out here; a new field only adds to them.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { FILTER_PARAMS, STATS_BY } from '../../src/query/params.ts';
import {
  CLI_FILTERS,
  FIELD_PARAMS,
  FIELDS,
  FILTER_FIELDS,
  FREE_TEXT,
  fieldValues,
  searchableValues,
} from '../../src/store/fields.ts';
import { openPostgresStore } from '../../src/store/index.ts';
import { SCHEMA } from '../../src/store/sqlite/schema.ts';
import { FIELDS as CONSOLE_FIELDS } from '../../web/src/query.ts';
import { dropSchema, PG_URL, randomSchema, withAdmin } from '../helpers/postgres.ts';
import { makeEvent } from './contract.ts';

test("KubeSphere's query parameters keep their names and fields; stats keep their by= names", () => {
  const today: Record<string, [kind: 'exact' | 'fuzzy', field: string]> = {
    workspace_filter: ['exact', 'workspace'],
    workspace_search: ['fuzzy', 'workspace'],
    objectref_namespace_filter: ['exact', 'namespace'],
    objectref_namespace_search: ['fuzzy', 'namespace'],
    objectref_resource_filter: ['exact', 'resource'],
    objectref_resource_search: ['fuzzy', 'resource'],
    objectref_subresource_filter: ['exact', 'subresource'],
    objectref_name_filter: ['exact', 'name'],
    objectref_name_search: ['fuzzy', 'name'],
    verb_filter: ['exact', 'verb'],
    level_filter: ['exact', 'level'],
    stage_filter: ['exact', 'stage'],
    user_filter: ['exact', 'user'],
    user_search: ['fuzzy', 'user'],
    group_filter: ['exact', 'group'],
    group_search: ['fuzzy', 'group'],
    source_ip_filter: ['exact', 'sourceIP'],
    source_ip_search: ['fuzzy', 'sourceIP'],
    response_code_filter: ['exact', 'code'],
    response_status_filter: ['exact', 'status'],
    cluster_filter: ['exact', 'cluster'],
    devops_filter: ['exact', 'devops'],
    source_filter: ['exact', 'source'],
    audit_id_filter: ['exact', 'auditID'],
  };
  for (const [param, [kind, field]] of Object.entries(today))
    assert.deepEqual(FILTER_PARAMS[param], { kind, field }, param);
  const stats = { user: 'user', verb: 'verb', resource: 'resource', namespace: 'namespace' };
  for (const [by, field] of Object.entries({ ...stats, workspace: 'workspace', code: 'code', sourceip: 'sourceIP' }))
    assert.equal(STATS_BY[by], field, by);
  // every parameter names a filter field, and every filter field has its exact parameter
  for (const spec of Object.values(FILTER_PARAMS)) assert.ok(FILTER_FIELDS.includes(spec.field));
  for (const f of FILTER_FIELDS)
    assert.ok(Object.values(FILTER_PARAMS).some((s) => s.field === f && s.kind === 'exact'));
});

test('SQLite: dictionary numbers, columns in their stored order and indexes are those existing stores hold', () => {
  const db = new DatabaseSync(':memory:');
  try {
    db.exec(SCHEMA);
    const today = [
      ...['id', 'received', 'audit_id', 'stage', 'verb', 'level', 'username', 'namespace', 'workspace', 'cluster'],
      ...['devops', 'resource', 'subresource', 'name', 'status', 'source', 'request_uri', 'user_agent', 'code'],
      'multi',
    ];
    const columns = (db.prepare('PRAGMA table_info(events)').all() as { name: string }[]).map((c) => c.name);
    assert.deepEqual(
      columns.filter((c) => today.includes(c)),
      today,
      "today's columns, in today's order (a new field's column may come anywhere)",
    );
    const indexes = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'`).all();
    const indexed = FIELDS.flatMap((f) =>
      'indexed' in f.sqlite ? [`events_${(f.sqlite as { column: string }).column}`] : [],
    );
    assert.deepEqual(
      indexes.map((i) => (i as { name: string }).name).sort(),
      ['events_audit', 'events_received', ...indexed].sort(),
      'every field marked indexed has its index in SCHEMA, and no other field has one',
    );
  } finally {
    db.close();
  }
  const terms = Object.fromEntries(FIELDS.flatMap((f) => ('term' in f.sqlite ? [[f.name, f.sqlite.term]] : [])));
  assert.deepEqual(terms, {
    ...{ stage: 1, verb: 2, level: 3, user: 4, namespace: 5, workspace: 6, cluster: 7, devops: 8, resource: 9 },
    ...{ subresource: 10, name: 11, status: 12, source: 13, requestURI: 14, userAgent: 15, group: 16, sourceIP: 17 },
    rule: 18,
  });
});

test('PostgreSQL: every column the table names exists in a migrated schema, with the type the append writes', async () => {
  const schema = randomSchema();
  const store = await openPostgresStore({ url: PG_URL, schema, poolSize: 1 });
  try {
    const types = await withAdmin(async (c) => {
      const r = await c.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events'`,
        [schema],
      );
      return new Map(r.rows.map((x) => [x.column_name, x.data_type]));
    });
    for (const f of FIELDS) {
      if (!('column' in f.postgres)) continue;
      const want = 'list' in f ? 'ARRAY' : 'code' in f ? 'integer' : 'text';
      assert.equal(types.get(f.postgres.column), want, `${f.name}: events.${f.postgres.column}`);
    }
    const searched = FIELDS.flatMap((f) => ('search' in f.postgres ? [[f.postgres.search, f.name]] : [])).sort();
    assert.deepEqual(searched, [
      [1, 'requestURI'],
      [2, 'status'],
      [3, 'userAgent'],
    ]);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
});

test('field values: none for a missing or empty value, every element of a list, free text over the text fields', () => {
  const e = makeEvent({
    user: { username: 'Alice', groups: ['system:authenticated', 'dev'] },
    sourceIPs: ['10.0.0.1'],
    requestURI: '/api/v1/Pods',
    userAgent: 'kubectl/v1.30',
    responseStatus: { code: 403, status: 'Failure' },
    workspace: '',
  });
  assert.deepEqual(fieldValues(e, 'group'), ['system:authenticated', 'dev']);
  assert.deepEqual(fieldValues(e, 'code'), ['403']);
  assert.deepEqual(fieldValues(e, 'workspace'), []);
  assert.deepEqual(fieldValues(e, 'cluster'), []);
  const text = searchableValues(e);
  for (const v of ['alice', 'system:authenticated', 'dev', '10.0.0.1', '/api/v1/pods', 'kubectl/v1.30', 'failure'])
    assert.ok(text.includes(v), v);
  assert.ok(!text.includes('403'), 'codes are not free text');
});

test("the console's filter list and the CLI's flags come from the table, as they were", () => {
  assert.deepEqual(
    CONSOLE_FIELDS.map((f) => [f.key, f.exact, f.fuzzy, f.stats]),
    [
      ['cluster', 'cluster_filter', 'cluster_search', 'cluster'],
      ['workspace', 'workspace_filter', 'workspace_search', undefined],
      ['namespace', 'objectref_namespace_filter', 'objectref_namespace_search', 'namespace'],
      ['resource', 'objectref_resource_filter', 'objectref_resource_search', 'resource'],
      ['name', 'objectref_name_filter', 'objectref_name_search', undefined],
      ['subresource', 'objectref_subresource_filter', undefined, undefined],
      ['verb', 'verb_filter', undefined, 'verb'],
      ['code', 'response_code_filter', undefined, 'code'],
      ['status', 'response_status_filter', undefined, undefined],
      ['user', 'user_filter', 'user_search', 'user'],
      ['group', 'group_filter', 'group_search', undefined],
      ['sourceip', 'source_ip_filter', 'source_ip_search', 'sourceip'],
      ['rule', 'rule_filter', undefined, 'rule'],
      ['level', 'level_filter', undefined, undefined],
      ['source', 'source_filter', undefined, undefined],
    ],
  );
  assert.deepEqual(CLI_FILTERS, [
    { flag: 'cluster', param: 'cluster_filter' },
    { flag: 'workspace', param: 'workspace_filter' },
    { flag: 'namespace', short: 'n', param: 'objectref_namespace_filter' },
    { flag: 'resource', param: 'objectref_resource_filter' },
    { flag: 'verb', param: 'verb_filter' },
    { flag: 'user', param: 'user_filter' },
    { flag: 'rule', param: 'rule_filter' },
  ]);
});

test('every *_filter has its *_exclude; FREE_TEXT names exactly the fields free text searches', () => {
  for (const f of FILTER_FIELDS) {
    const p = FIELD_PARAMS.find((x) => x.field === f)!;
    assert.ok(p.filter.endsWith('_filter'), p.filter);
    assert.deepEqual(FILTER_PARAMS[p.exclude], { kind: 'exclude', field: f });
    assert.equal(p.exclude, p.filter.replace(/_filter$/, '_exclude'));
  }
  // an event whose every field holds a value naming the field: free text finds exactly the fields FREE_TEXT lists
  const e = makeEvent({
    workspace: 'workspace',
    cluster: 'cluster',
    devops: 'devops',
    objectRef: { resource: 'resource', namespace: 'namespace', name: 'name', subresource: 'subresource' },
    verb: 'verb',
    level: 'Metadata',
    user: { username: 'user', groups: ['group'] },
    sourceIPs: ['sourceIP'],
    responseStatus: { code: 200, status: 'status', message: 'message', reason: 'Forbidden' },
    requestURI: 'requestURI',
    userAgent: 'userAgent',
    annotations: { a: 'annotation' },
    requestObject: { body: 'body' },
  });
  assert.deepEqual(searchableValues(e).sort(), FREE_TEXT.fields.map((f) => f.name.toLowerCase()).sort());
  assert.match(
    FREE_TEXT.description,
    /^Searches Workspace, Project, .* and User agent \(any part, any case\); not bodies/,
  );
});
