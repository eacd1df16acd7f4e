// The fields `cluster` and `rule` in both stores: exact and fuzzy cluster, the rules that matched an event (read from
// the engine's record, `vigil.dev/falco-rules`), stats by either, a tenant limited to clusters, and the upgrades that
// bring them to stores written before (SQLite schema 4 → 5, PostgreSQL migration 5 → 6).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { type AuditEvent, FALCO_RULES_ANNOTATION, KUBESPHERE_RULES_ANNOTATION } from '../../src/event/model.ts';
import { compileMatcher } from '../../src/query/matches.ts';
import { fieldValues } from '../../src/store/fields.ts';
import { openPostgresStore, openSqliteStore } from '../../src/store/index.ts';
import { FIELD_NO, SCHEMA_VERSION } from '../../src/store/sqlite/schema.ts';
import type { EventQuery, Store, TenantScope } from '../../src/store/types.ts';
import { dropSchema, PG_URL, withAdmin } from '../helpers/postgres.ts';
import { makeEvent } from './contract.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const PAGE = { sort: 'asc', size: 100 } as const;

/** The engine's record of the Falco rules that fired, as src/rules/falco/decision.ts writes it. */
function fired(...rules: string[]): Record<string, string> {
  return { [FALCO_RULES_ANNOTATION]: JSON.stringify(rules.map((rule) => ({ rule, priority: 'Warning' }))) };
}

/** Events of three clusters (and one of none), some flagged by Falco rules. */
function events(): AuditEvent[] {
  return [
    makeEvent({ auditID: 'a1', cluster: 'prod-eu', workspace: 'wa', annotations: fired('Create Privileged Pod') }, T0),
    makeEvent(
      {
        auditID: 'a2',
        cluster: 'prod-eu',
        workspace: 'wb',
        annotations: {
          [KUBESPHERE_RULES_ANNOTATION]: '[{"rule":"alerting-rule.CreateHostnetworkPod","priority":"WARNING"}]',
        },
      },
      T0 + 1000,
    ),
    makeEvent(
      {
        auditID: 'a3',
        cluster: 'prod-us',
        workspace: 'wa',
        annotations: fired('Create Privileged Pod', 'Attach/Exec Pod'),
      },
      T0 + 2000,
    ),
    makeEvent({ auditID: 'a4', cluster: 'staging', annotations: { [FALCO_RULES_ANNOTATION]: 'not json' } }, T0 + 3000),
    makeEvent(
      {
        auditID: 'a5',
        annotations: {
          ...fired('Attach/Exec Pod'),
          [KUBESPHERE_RULES_ANNOTATION]: '[{"rule":"alerting-rule.AttachOrExecPod","priority":"WARNING"}]',
        },
      },
      T0 + 4000,
    ),
  ];
}

async function auditIDs(store: Store, q: EventQuery): Promise<string[]> {
  return (await store.query(q, PAGE)).items.map((e) => e.auditID);
}

/** What the live tail's matcher selects of `all`: the stores must answer the same. */
function matching(all: AuditEvent[], q: EventQuery): string[] {
  const m = compileMatcher(q);
  return all.filter(m).map((e) => e.auditID);
}

function pgSchema(): string {
  return `vigil_cluster_${randomBytes(5).toString('hex')}`;
}

const STORES: [string, () => Promise<{ store: Store; cleanup(): Promise<void> }>][] = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-'));
      return {
        store: await openSqliteStore({ path: join(dir, 'v.db') }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'postgres',
    async () => {
      const schema = pgSchema();
      return {
        store: await openPostgresStore({ url: PG_URL, schema, poolSize: 2 }),
        cleanup: () => dropSchema(schema),
      };
    },
  ],
];

test('rule values: the names in the engine record, each once; none for a missing or unreadable record', () => {
  const all = events();
  assert.deepEqual(fieldValues(all[2]!, 'rule'), ['Create Privileged Pod', 'Attach/Exec Pod']);
  assert.deepEqual(fieldValues(all[1]!, 'rule'), ['alerting-rule.CreateHostnetworkPod']);
  assert.deepEqual(fieldValues(all[4]!, 'rule'), ['alerting-rule.AttachOrExecPod', 'Attach/Exec Pod'], 'both records');
  assert.deepEqual(fieldValues(makeEvent({}), 'rule'), []);
  assert.deepEqual(fieldValues(all[3]!, 'rule'), [], 'not JSON');
  const odd = makeEvent({
    annotations: { [FALCO_RULES_ANNOTATION]: '[{"rule":"A"},{"rule":"A"},{"rule":3},null,"B"]' },
  });
  assert.deepEqual(fieldValues(odd, 'rule'), ['A']);
  assert.deepEqual(fieldValues(makeEvent({ annotations: { [FALCO_RULES_ANNOTATION]: '{"rule":"A"}' } }), 'rule'), []);
});

for (const [kind, open] of STORES) {
  describe(`${kind}: cluster and rule`, () => {
    test('filter, search, stats and tenant scope agree with the live tail', async () => {
      const { store, cleanup } = await open();
      try {
        const all = events();
        await store.append(all);
        const cases: EventQuery[] = [
          { exact: { cluster: ['prod-eu'] } },
          { exact: { cluster: ['Prod-EU'] } },
          { exact: { cluster: ['prod-eu', 'staging'] } },
          { fuzzy: { cluster: ['PROD'] } },
          { fuzzy: { cluster: ['us', 'stag'] } },
          { fuzzy: { cluster: ['nowhere'] } },
          { exact: { rule: ['Create Privileged Pod'] } },
          { exact: { rule: ['Attach/Exec Pod'] }, start: T0 + 3000 },
          { exact: { rule: ['Create Privileged Pod'], cluster: ['prod-us'] } },
          { exact: { rule: ['create privileged pod'] } },
          { exact: { rule: ['alerting-rule.CreateHostnetworkPod', 'Attach/Exec Pod'] } },
          { text: ['prod-eu'] },
        ];
        for (const q of cases) assert.deepEqual(await auditIDs(store, q), matching(all, q), JSON.stringify(q));
        assert.deepEqual(await auditIDs(store, { exact: { cluster: ['prod-eu'] } }), ['a1', 'a2']);
        assert.deepEqual(await auditIDs(store, { exact: { rule: ['Create Privileged Pod'] } }), ['a1', 'a3']);
        assert.deepEqual(await auditIDs(store, { text: ['prod-eu'] }), [], 'free text does not search the cluster');

        const byCluster = await store.stats({}, 'cluster', 10);
        assert.equal(byCluster.total, 5);
        assert.deepEqual(byCluster.top, [
          { key: 'prod-eu', count: 2 },
          { key: 'prod-us', count: 1 },
          { key: 'staging', count: 1 },
        ]);
        const byRule = await store.stats({ fuzzy: { cluster: ['prod'] } }, 'rule', 10);
        assert.deepEqual(byRule.top, [
          { key: 'Create Privileged Pod', count: 2 },
          { key: 'Attach/Exec Pod', count: 1 },
          { key: 'alerting-rule.CreateHostnetworkPod', count: 1 },
        ]);
        assert.deepEqual(await auditIDs(store, { exact: { rule: ['alerting-rule.AttachOrExecPod'] } }), ['a5']);

        const scopes: [TenantScope, string[]][] = [
          [{ workspaces: [], namespaces: [], clusters: ['prod-eu'] }, ['a1', 'a2']],
          [{ workspaces: ['wa'], namespaces: [], clusters: ['prod-eu'] }, ['a1']],
          [{ workspaces: ['wa'], namespaces: [] }, ['a1', 'a3']],
          [{ workspaces: ['wa'], namespaces: [], clusters: ['prod-us', 'staging'] }, ['a3']],
          [{ workspaces: [], namespaces: ['default'], clusters: ['staging'] }, ['a4']],
          [{ workspaces: [], namespaces: [], clusters: [] }, []],
          [{ workspaces: [], namespaces: [], clusters: [''] }, []],
          [{ workspaces: [], namespaces: [], clusters: ['nowhere'] }, []],
        ];
        for (const [scope, want] of scopes) {
          const q = { scope };
          assert.deepEqual(await auditIDs(store, q), want, JSON.stringify(scope));
          assert.deepEqual(matching(all, q), want, `live tail: ${JSON.stringify(scope)}`);
          assert.equal((await store.stats(q, 'cluster', 10)).total, want.length);
          assert.equal((await store.histogram(q, 60_000)).total, want.length);
        }
        // get: another cluster's event is not there for a tenant limited to prod-eu
        const page = await store.query({}, PAGE);
        const us = page.items.find((e) => e.auditID === 'a3')!;
        const eu = page.items.find((e) => e.auditID === 'a1')!;
        const euOnly = { workspaces: [], namespaces: [], clusters: ['prod-eu'] };
        assert.equal(await store.get(us.id, euOnly), undefined);
        assert.equal((await store.get(eu.id, euOnly))?.auditID, 'a1');
      } finally {
        await store.close();
        await cleanup();
      }
    });
  });
}

test('sqlite: a schema 4 store gets the rules of the events it holds when opened (schema 5)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-v4-'));
  const path = join(dir, 'v.db');
  try {
    let store = await openSqliteStore({ path });
    const all = events();
    await store.append(all);
    await store.close();
    // What schema 4 held: no rule values (term 18 was unknown to it), the event rows' `multi` without them.
    const db = new DatabaseSync(path);
    const ruleTerms = `SELECT id FROM terms WHERE field = ${FIELD_NO.rule}`;
    db.exec(`DELETE FROM event_values WHERE term IN (${ruleTerms})`);
    for (const r of db.prepare(`SELECT id, value FROM terms WHERE field = ${FIELD_NO.rule}`).all() as {
      id: number;
      value: string;
    }[])
      db.prepare(`INSERT INTO terms_fts (terms_fts, rowid, value) VALUES ('delete', ?, ?)`).run(r.id, r.value);
    db.exec(`DELETE FROM terms WHERE field = ${FIELD_NO.rule}`);
    const multi = db.prepare('SELECT id, multi FROM events').all() as { id: number; multi: string }[];
    const kept = new Set((db.prepare('SELECT id FROM terms').all() as { id: number }[]).map((t) => String(t.id)));
    for (const r of multi)
      db.prepare('UPDATE events SET multi = ? WHERE id = ?').run(
        r.multi
          .split(',')
          .filter((t) => kept.has(t))
          .join(','),
        r.id,
      );
    db.exec('PRAGMA user_version = 4');
    db.close();

    store = await openSqliteStore({ path });
    try {
      const check = new DatabaseSync(path);
      assert.equal(
        (check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
        SCHEMA_VERSION,
      );
      assert.ok(SCHEMA_VERSION >= 5);
      // every event's multi names exactly its event_values rows
      for (const r of check.prepare('SELECT id, multi FROM events').all() as { id: number; multi: string }[]) {
        const rows = check.prepare('SELECT term FROM event_values WHERE event_id = ? ORDER BY term').all(r.id) as {
          term: number;
        }[];
        assert.deepEqual(
          r.multi
            .split(',')
            .filter(Boolean)
            .map(Number)
            .sort((a, b) => a - b),
          rows.map((x) => x.term),
        );
      }
      check.close();
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['Create Privileged Pod'] } }), ['a1', 'a3']);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['Attach/Exec Pod'] } }), ['a3', 'a5']);
      assert.deepEqual(await auditIDs(store, { fuzzy: { cluster: ['eu'] } }), ['a1', 'a2']);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['alerting-rule.CreateHostnetworkPod'] } }), ['a2']);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['alerting-rule.AttachOrExecPod'] } }), ['a5']);
      // new events keep using the dictionary the upgrade filled
      await store.append([makeEvent({ auditID: 'a6', annotations: fired('Attach/Exec Pod') }, T0 + 5000)]);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['Attach/Exec Pod'] } }), ['a3', 'a5', 'a6']);
      // backfilled and newly written values count alike
      assert.equal((await store.stats({}, 'rule', 10)).top.find((t) => t.key === 'Attach/Exec Pod')?.count, 3);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('postgres: a store at migration 5 gets the rules column, its values and the cluster dictionary (migration 6)', async () => {
  const schema = pgSchema();
  try {
    let store = await openPostgresStore({ url: PG_URL, schema, poolSize: 2 });
    const all = events();
    // a body PostgreSQL's jsonb refuses (U+0000) with a record: the migration leaves it without rules, and goes on
    all.push(
      makeEvent(
        { auditID: 'a7', cluster: 'prod-eu', requestURI: '/api/v1/x\u0000y', annotations: fired('Attach/Exec Pod') },
        T0 + 6000,
      ),
    );
    await store.append(all);
    await store.close();
    await withAdmin(async (c) => {
      await c.query(`ALTER TABLE "${schema}".events DROP COLUMN rules`);
      await c.query(`DELETE FROM "${schema}".terms WHERE field = 'cluster'`);
      await c.query(`DELETE FROM "${schema}".vigil_migrations WHERE version = 6`);
    });
    store = await openPostgresStore({ url: PG_URL, schema, poolSize: 2 });
    try {
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['Create Privileged Pod'] } }), ['a1', 'a3']);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['Attach/Exec Pod'] } }), ['a3', 'a5']);
      assert.deepEqual(await auditIDs(store, { fuzzy: { cluster: ['EU'] } }), ['a1', 'a2', 'a7']);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['alerting-rule.CreateHostnetworkPod'] } }), ['a2']);
      assert.deepEqual(await auditIDs(store, { exact: { rule: ['alerting-rule.AttachOrExecPod'] } }), ['a5']);
      const terms = await withAdmin(
        async (c) => (await c.query(`SELECT value FROM "${schema}".terms WHERE field = 'cluster' ORDER BY value`)).rows,
      );
      assert.deepEqual(
        terms.map((t) => t.value),
        ['prod-eu', 'prod-us', 'staging'],
      );
      const index = await withAdmin(
        async (c) =>
          (
            await c.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_rules'`, [
              schema,
            ])
          ).rows,
      );
      assert.match(index[0]?.indexdef ?? '', /USING gin \(rules\)/);
    } finally {
      await store.close();
    }
  } finally {
    await dropSchema(schema);
  }
});
