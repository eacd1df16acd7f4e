// The Store contract as tests: every store implementation registers this same suite (SQLite now, PostgreSQL later).
// Store-agnostic: it uses only the Store interface, the factory it is given and the public query semantics.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type AuditEvent, FALCO_RULES_ANNOTATION } from '../../src/event/model.ts';
import { checkpointSignatureValid } from '../../src/integrity/checkpoint.ts';
import { keyIdOf } from '../../src/integrity/keys.ts';
import { matches } from '../../src/query/matches.ts';
import { FILTER_FIELDS, type FilterField, fieldSpec, fieldValues } from '../../src/store/fields.ts';
import { startRetention } from '../../src/store/retention.ts';
import { QueryError } from '../../src/store/semantics.ts';
import type { AppendResult, EventQuery, Store, StoredEvent } from '../../src/store/types.ts';

export interface OpenedStore {
  store: Store;
  /** Opens the same storage again (after `store.close()`), as a restarted process would. */
  reopen(): Promise<Store>;
  /** Removes the storage (the test closes the stores it opened first). */
  cleanup(): Promise<void>;
}

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** RFC 3339 with microseconds, as Kubernetes writes MicroTime. */
function micro(ms: number, extraMicros = 0): string {
  return new Date(ms).toISOString().replace('Z', `${String(extraMicros).padStart(3, '0')}Z`);
}

let seq = 0;
/** A minimal valid event; each call has a fresh auditID unless given. */
export function makeEvent(over: Partial<AuditEvent> = {}, at: number = T0): AuditEvent {
  seq++;
  return {
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'list',
    user: { username: 'admin', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: micro(at),
    stageTimestamp: micro(at + 1),
    source: 'kubernetes',
    ...over,
  };
}

function strip({ id: _id, ...rest }: StoredEvent): AuditEvent {
  return rest as AuditEvent;
}

const ids = (items: StoredEvent[]) => items.map((e) => e.id);

/** The counts of an append's answer (its ids are checked by their own contract test). */
export function counts(r: AppendResult): { inserted: number; duplicates: number } {
  return { inserted: r.inserted, duplicates: r.duplicates };
}

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  /** Runs `fn` with a fresh, empty store and always cleans up. */
  async function withStore(fn: (store: Store, o: OpenedStore) => Promise<void>): Promise<void> {
    const o = await open();
    let store = o.store;
    const tracked: OpenedStore = {
      ...o,
      reopen: async () => {
        store = await o.reopen();
        return store;
      },
    };
    try {
      await fn(o.store, tracked);
    } finally {
      await store.close();
      await o.cleanup();
    }
  }

  function assertCounts(r: AppendResult, expected: { inserted: number; duplicates: number }): void {
    assert.deepEqual(counts(r), expected);
  }

  async function all(store: Store, q: EventQuery, sort: 'asc' | 'desc' = 'asc'): Promise<StoredEvent[]> {
    const p = await store.query(q, { sort, size: 10_000 });
    assert.equal(p.items.length, p.total);
    return p.items;
  }

  describe(`Store contract: ${name}`, () => {
    test('append stores events that read back unchanged, each with a string id', async () => {
      await withStore(async (store) => {
        const url = new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url);
        const real = readFileSync(url, 'utf8')
          .trim()
          .split('\n')
          .map((l) => ({ ...JSON.parse(l), source: 'kubernetes' }) as AuditEvent);
        // the fixture repeats two (auditID, stage) pairs: the first of each is kept
        const unique = new Map<string, AuditEvent>();
        for (const e of real) if (!unique.has(`${e.auditID} ${e.stage}`)) unique.set(`${e.auditID} ${e.stage}`, e);
        const r = await store.append(real);
        assertCounts(r, { inserted: unique.size, duplicates: real.length - unique.size });
        const items = await all(store, {});
        assert.equal(items.length, unique.size);
        const seen = new Set<string>();
        for (const item of items) {
          assert.equal(typeof item.id, 'string');
          assert.ok(!seen.has(item.id), 'ids are unique');
          seen.add(item.id);
          const original = unique.get(`${item.auditID} ${item.stage}`);
          assert.deepEqual(strip(item), original);
          assert.deepEqual(await store.get(item.id), item);
        }
        assert.equal(await store.get('999999999'), undefined);
        assert.equal(await store.get('not-an-id'), undefined);
      });
    });

    test('quotes, backslashes, control characters and non-ASCII read back unchanged and are found', async () => {
      await withStore(async (store) => {
        const odd = 'o\'brien "the" \\admin\n\t\u2028é🙂';
        const e = makeEvent({
          user: { username: odd, groups: ['team "ops"\\', 'grüppe\n'] },
          sourceIPs: ['::1', '2001:db8::"1"'],
          objectRef: { resource: 'pods', namespace: 'ns-é', name: `n-${odd}`, apiVersion: 'v1' },
          requestObject: { s: odd, nul: 'a\u0000b', nested: [{ q: '\\"' }, 'x\u001fy'] },
        });
        const plain = makeEvent();
        const r = await store.append([plain, e, makeEvent()]);
        assertCounts(r, { inserted: 3, duplicates: 0 });
        const id = r.ids[1]!;
        assert.deepEqual(strip((await store.get(id))!), e);
        const found = async (q: EventQuery) => ids((await store.query(q, { sort: 'asc', size: 10 })).items);
        assert.deepEqual(await found({ exact: { user: [odd] } }), [id]);
        assert.deepEqual(await found({ exact: { group: ['team "ops"\\'] } }), [id]);
        assert.deepEqual(await found({ exact: { sourceIP: ['2001:db8::"1"'] } }), [id]);
        assert.deepEqual(await found({ exact: { namespace: ['ns-é'] } }), [id]);
        assert.deepEqual(await found({ text: ['"THE" \\AD'] }), [id]);
        assert.deepEqual(await found({ fuzzy: { group: ['GRÜPPE'] } }), [id]);
      });
    });

    test('U+0000 in field values and bodies: stored, read back unchanged, found by exact, fuzzy and text search', async () => {
      await withStore(async (store) => {
        const nul = 'nul\u0000user';
        const e = makeEvent({
          user: { username: nul, groups: ['g\u0000roup'] },
          sourceIPs: ['10.0.0.\u00009'],
          objectRef: { resource: 'pods', namespace: 'ns\u0000x', name: 'n\u0000', apiVersion: 'v1' },
          requestObject: { note: 'a\u0000b' },
        });
        const r = await store.append([makeEvent(), e]);
        assertCounts(r, { inserted: 2, duplicates: 0 });
        const id = r.ids[1]!;
        assert.deepEqual(strip((await store.get(id))!), e);
        const found = async (q: EventQuery) => ids((await store.query(q, { sort: 'asc', size: 10 })).items);
        assert.deepEqual(await found({ exact: { user: [nul] } }), [id]);
        assert.deepEqual(await found({ exact: { group: ['g\u0000roup'], namespace: ['ns\u0000x'] } }), [id]);
        assert.deepEqual(await found({ fuzzy: { user: ['NUL'] } }), [id]);
        assert.deepEqual(await found({ fuzzy: { user: ['l\u0000u'] } }), [id]);
        assert.deepEqual(await found({ text: ['\u0000user'] }), [id]);
      });
    });

    test('append is idempotent on (auditID, stage), within a batch and across batches', async () => {
      await withStore(async (store) => {
        const a = makeEvent({ stage: 'ResponseStarted' });
        const b = { ...a, stage: 'ResponseComplete' as const };
        assertCounts(await store.append([a, a, b]), { inserted: 2, duplicates: 1 });
        assertCounts(await store.append([b, a]), { inserted: 0, duplicates: 2 });
        assert.equal((await store.query({}, { sort: 'asc', size: 10 })).total, 2);
      });
    });

    test('idempotency is on (auditID, stage) whatever the received time: 1 µs or an hour apart is the same event', async () => {
      await withStore(async (store) => {
        const a = makeEvent({ requestReceivedTimestamp: '2026-03-01T12:00:00.000001Z' });
        const a1 = { ...a, requestReceivedTimestamp: '2026-03-01T12:00:00.000002Z' };
        const a2 = { ...a, requestReceivedTimestamp: '2026-03-01T13:00:00.000001Z' };
        const first = await store.append([a, a1]);
        assertCounts(first, { inserted: 1, duplicates: 1 });
        assert.equal(first.ids[1], first.ids[0], 'the repeat answers the id stored first');
        const again = await store.append([a2, a1]);
        assertCounts(again, { inserted: 0, duplicates: 2 });
        assert.deepEqual(again.ids, [first.ids[0], first.ids[0]]);
        // another stage of the same call is another event
        assertCounts(await store.append([{ ...a1, stage: 'ResponseStarted' }]), { inserted: 1, duplicates: 0 });
        const found = await store.query({ exact: { auditID: [a.auditID] } }, { sort: 'asc', size: 10 });
        assert.equal(found.total, 2);
        assert.equal(found.items[0]?.requestReceivedTimestamp, a.requestReceivedTimestamp, 'the first one is kept');
      });
    });

    test('append answers the stored id of every event, by position, duplicates and repeated deliveries included', async () => {
      await withStore(async (store) => {
        const a = makeEvent();
        const b = makeEvent();
        const first = await store.append([a, b, a]);
        assert.equal(first.ids?.length, 3);
        const [ida, idb, again] = first.ids!;
        assert.ok(ida && idb, 'inserted events have ids');
        assert.notEqual(ida, idb);
        assert.equal(again, ida, 'a duplicate within the batch answers the id stored before');
        assert.equal((await store.get(ida))?.auditID, a.auditID);
        assert.equal((await store.get(idb))?.auditID, b.auditID);
        const c = makeEvent();
        assert.deepEqual((await store.append([c, b])).ids?.slice(1), [idb]);
        // a repeated delivery stores nothing and still names the events stored by the first one
        const d = makeEvent();
        const delivered = await store.append([d], { batchKey: 'delivery-ids' });
        const redelivered = await store.append([d], { batchKey: 'delivery-ids' });
        assert.equal(redelivered.inserted, 0);
        assert.deepEqual(redelivered.ids, delivered.ids);
        // a delivery has several identities (OpenFaaS: its id and its body's hash): any one seen makes it a duplicate
        const e = makeEvent();
        assert.equal((await store.append([e], { batchKey: ['id-1', 'body-1'] })).inserted, 1);
        const replayed = await store.append([{ ...e, auditID: 'new-audit-id' }], { batchKey: ['id-2', 'body-1'] });
        assert.deepEqual([replayed.inserted, replayed.duplicates], [0, 1]);
        assert.equal((await store.append([makeEvent()], { batchKey: ['id-2', 'body-2'] })).inserted, 0); // id-2 seen
        assert.equal((await store.append([makeEvent()], { batchKey: ['id-3', 'body-3'] })).inserted, 1);
        // collapsed stages keep the id of the event they replace
        const req = makeEvent({ stage: 'RequestReceived', source: 'cadf' });
        const [reqId] = (await store.append([req], { collapseStages: true })).ids!;
        const res = { ...req, stage: 'ResponseComplete' as const };
        assert.deepEqual((await store.append([res], { collapseStages: true })).ids, [reqId]);
      });
    });

    test('an appended id is never reused, even after every event was deleted', async () => {
      await withStore(async (store) => {
        await store.append([makeEvent({}, T0)]);
        const [first] = await all(store, {});
        assert.equal(await store.deleteBefore(T0 + 1000, 10), 1);
        await store.append([makeEvent({}, T0)]);
        const [second] = await all(store, {});
        assert.notEqual(second!.id, first!.id);
      });
    });

    test('a batch is atomic: one bad event stores nothing', async () => {
      await withStore(async (store) => {
        const bad = makeEvent({ requestReceivedTimestamp: 'yesterday' });
        await assert.rejects(store.append([makeEvent(), bad]));
        assert.equal((await store.size()).events, 0);
      });
    });

    test('concurrent appends are each atomic: a bad batch fails alone', async () => {
      await withStore(async (store) => {
        const good1 = [makeEvent(), makeEvent()];
        const bad = [makeEvent(), makeEvent({ requestReceivedTimestamp: 'never' })];
        const good2 = [makeEvent()];
        const results = (
          await Promise.allSettled([
            store.append(good1),
            store.append(bad),
            store.append(good2, { batchKey: 'k' }),
            store.append(good2, { batchKey: 'k' }),
          ])
        ).map((r) => (r.status === 'fulfilled' ? { ...r, value: counts(r.value) } : r));
        assert.deepEqual(results[0], { status: 'fulfilled', value: { inserted: 2, duplicates: 0 } });
        assert.equal(results[1]!.status, 'rejected');
        // the two calls with one batchKey race (a pool runs them on two connections): one stores, the other not
        assert.deepEqual(
          [results[2], results[3]].sort((x, y) => JSON.stringify(y).localeCompare(JSON.stringify(x))),
          [
            { status: 'fulfilled', value: { inserted: 1, duplicates: 0 } },
            { status: 'fulfilled', value: { inserted: 0, duplicates: 1 } },
          ],
        );
        const stored = (await all(store, {})).map((e) => e.auditID).sort();
        assert.deepEqual(stored, [...good1, ...good2].map((e) => e.auditID).sort());
      });
    });

    test('a batch whose batchKey was stored is not stored again', async () => {
      await withStore(async (store) => {
        assertCounts(await store.append([makeEvent(), makeEvent()], { batchKey: 'delivery-1' }), {
          inserted: 2,
          duplicates: 0,
        });
        // a retried delivery carries the same key (even if its events were re-generated with new ids)
        assertCounts(await store.append([makeEvent(), makeEvent()], { batchKey: 'delivery-1' }), {
          inserted: 0,
          duplicates: 2,
        });
        assertCounts(await store.append([makeEvent()], { batchKey: 'delivery-2' }), { inserted: 1, duplicates: 0 });
        assert.equal((await store.size()).events, 3);
      });
    });

    test('collapseStages: a later stage of the same source and auditID replaces the stored event in place', async () => {
      await withStore(async (store) => {
        const req = makeEvent({ stage: 'RequestReceived', source: 'cadf', verb: 'create' });
        await store.append([req], { collapseStages: true });
        const [before] = await all(store, {});
        const res = { ...req, stage: 'ResponseComplete' as const, responseStatus: { code: 201 } };
        assertCounts(await store.append([res], { collapseStages: true }), { inserted: 1, duplicates: 0 });
        const after = await all(store, {});
        assert.equal(after.length, 1);
        assert.equal(after[0]!.id, before!.id);
        assert.deepEqual(strip(after[0]!), res);
        // the replaced event is found by its new values, not its old ones
        assert.equal((await all(store, { exact: { code: ['201'] } })).length, 1);
        assert.equal((await all(store, { exact: { stage: ['RequestReceived'] } })).length, 0);
        // an earlier (or the same) stage arriving late changes nothing
        assertCounts(await store.append([req, res], { collapseStages: true }), { inserted: 0, duplicates: 2 });
        assert.deepEqual(strip((await all(store, {}))[0]!), res);
        // another source with the same auditID is another call
        assertCounts(await store.append([{ ...req, source: 'vigil' }], { collapseStages: true }), {
          inserted: 1,
          duplicates: 0,
        });
        assert.equal((await store.size()).events, 2);
      });
    });

    // One pair of events per field: `hit` carries the value searched for, `miss` a different one.
    const fieldCases: {
      field: FilterField;
      hit: Partial<AuditEvent>;
      miss: Partial<AuditEvent>;
      exact: string;
      fuzzy: string;
    }[] = [
      {
        field: 'workspace',
        hit: { workspace: 'Team-Alpha' },
        miss: { workspace: 'team-beta' },
        exact: 'Team-Alpha',
        fuzzy: 'ALPH',
      },
      { field: 'cluster', hit: { cluster: 'Prod-East' }, miss: { cluster: 'dev' }, exact: 'Prod-East', fuzzy: 'd-ea' },
      {
        field: 'devops',
        hit: { devops: 'Pipeline-X9' },
        miss: { devops: 'other' },
        exact: 'Pipeline-X9',
        fuzzy: 'line-x',
      },
      {
        field: 'namespace',
        hit: { objectRef: { resource: 'pods', namespace: 'Kube-System' } },
        miss: { objectRef: { resource: 'pods', namespace: 'default' } },
        exact: 'Kube-System',
        fuzzy: 'be-sys',
      },
      {
        field: 'resource',
        hit: { objectRef: { resource: 'ConfigMaps' } },
        miss: { objectRef: { resource: 'secrets' } },
        exact: 'ConfigMaps',
        fuzzy: 'figmap',
      },
      {
        field: 'subresource',
        hit: { objectRef: { resource: 'pods', subresource: 'Exec' } },
        miss: { objectRef: { resource: 'pods', subresource: 'log' } },
        exact: 'Exec',
        fuzzy: 'xe',
      },
      {
        field: 'name',
        hit: { objectRef: { resource: 'pods', name: 'Web-7f9c' } },
        miss: { objectRef: { resource: 'pods', name: 'db-0' } },
        exact: 'Web-7f9c',
        fuzzy: 'B-7F',
      },
      { field: 'verb', hit: { verb: 'Delete' }, miss: { verb: 'get' }, exact: 'Delete', fuzzy: 'LET' },
      {
        field: 'level',
        hit: { level: 'RequestResponse' },
        miss: { level: 'Metadata' },
        exact: 'RequestResponse',
        fuzzy: 'resp',
      },
      { field: 'stage', hit: { stage: 'Panic' }, miss: { stage: 'ResponseComplete' }, exact: 'Panic', fuzzy: 'NI' },
      {
        field: 'user',
        hit: { user: { username: 'Alice@Example.com' } },
        miss: { user: { username: 'bob' } },
        exact: 'Alice@Example.com',
        fuzzy: 'e@exa',
      },
      {
        field: 'group',
        hit: { user: { username: 'x', groups: ['system:authenticated', 'Ops-Team'] } },
        miss: { user: { username: 'x', groups: ['system:authenticated', 'dev'] } },
        exact: 'Ops-Team',
        fuzzy: 'ps-t',
      },
      {
        field: 'sourceIP',
        hit: { sourceIPs: ['192.168.7.23', '10.1.1.1'] },
        miss: { sourceIPs: ['10.0.0.9'] },
        exact: '10.1.1.1',
        fuzzy: '168.7',
      },
      {
        field: 'code',
        hit: { responseStatus: { code: 404 } },
        miss: { responseStatus: { code: 200 } },
        exact: '404',
        fuzzy: '04',
      },
      {
        field: 'status',
        hit: { responseStatus: { code: 500, status: 'Failure' } },
        miss: { responseStatus: { code: 200, status: 'Success' } },
        exact: 'Failure',
        fuzzy: 'ailu',
      },
      {
        field: 'source',
        hit: { source: 'openfaas' },
        miss: { source: 'kubernetes' },
        exact: 'openfaas',
        fuzzy: 'FAAS',
      },
      {
        field: 'auditID',
        hit: { auditID: 'AbCdEf01-2345-4678-9abc-def012345678' },
        miss: { auditID: '11111111-2222-4333-8444-555555555555' },
        exact: 'AbCdEf01-2345-4678-9abc-def012345678',
        fuzzy: 'cdef01-23',
      },
    ];

    for (const c of fieldCases) {
      test(`exact ${c.field}: whole value, case-sensitive; fuzzy ${c.field}: case-insensitive substring`, async () => {
        await withStore(async (store) => {
          const hit = makeEvent(c.hit);
          const miss = makeEvent(c.miss);
          await store.append([hit, miss]);
          const find = async (q: EventQuery) => (await all(store, q)).map((e) => e.auditID);
          assert.deepEqual(await find({ exact: { [c.field]: [c.exact] } }), [hit.auditID], 'exact');
          assert.deepEqual(
            await find({
              exact: { [c.field]: [c.exact.toLowerCase() === c.exact ? `${c.exact}X` : c.exact.toLowerCase()] },
            }),
            [],
            'exact is case-sensitive',
          );
          assert.deepEqual(await find({ exact: { [c.field]: [c.exact.slice(1)] } }), [], 'exact is whole-value');
          assert.deepEqual(await find({ fuzzy: { [c.field]: [c.fuzzy] } }), [hit.auditID], 'fuzzy');
          assert.deepEqual(await find({ fuzzy: { [c.field]: [c.fuzzy.toLowerCase()] } }), [hit.auditID], 'fuzzy lower');
          assert.deepEqual(await find({ fuzzy: { [c.field]: ['zzq'] } }), [], 'fuzzy without match');
          // OR within a field: the hit's and the miss's values
          assert.equal((await find({ fuzzy: { [c.field]: ['zzq', c.fuzzy] } })).length, 1);
        });
      });
    }

    // Fields filtered exactly only (no `*_search`): the request URI and the user agent, a column on SQLite and a line
    // of the `search` text on PostgreSQL.
    const EXACT_ONLY = [
      {
        field: 'requestURI' as FilterField,
        hit: { requestURI: '/api/v1/namespaces/payments/secrets/db-credentials' },
        miss: { requestURI: '/api/v1/namespaces/payments/secrets/db-credentials?watch=1' },
        exact: '/api/v1/namespaces/payments/secrets/db-credentials',
        fuzzy: '',
      },
      {
        field: 'userAgent' as FilterField,
        hit: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Console' },
        miss: { userAgent: 'kubectl/v1.30.0 (linux/amd64)' },
        exact: 'Mozilla/5.0 (X11; Linux x86_64) Console',
        fuzzy: '',
      },
    ];
    for (const c of EXACT_ONLY) {
      test(`exact ${c.field}: whole value, case-sensitive, several values OR'ed`, async () => {
        await withStore(async (store) => {
          const hit = makeEvent(c.hit);
          const miss = makeEvent(c.miss);
          // free text mentioning the value elsewhere (the status message is not in `search`; the name is)
          const other = makeEvent({ objectRef: { resource: 'secrets', name: c.exact, apiVersion: 'v1' } });
          await store.append([hit, miss, other]);
          const find = async (q: EventQuery) => (await all(store, q)).map((e) => e.auditID).sort();
          assert.deepEqual(await find({ exact: { [c.field]: [c.exact] } }), [hit.auditID]);
          assert.deepEqual(await find({ exact: { [c.field]: [c.exact.toUpperCase()] } }), [], 'case-sensitive');
          assert.deepEqual(await find({ exact: { [c.field]: [c.exact.slice(0, -1)] } }), [], 'whole value');
          const missValue = String(fieldSpec(c.field).get(miss));
          assert.deepEqual(
            await find({ exact: { [c.field]: [c.exact, missValue] } }),
            [hit.auditID, miss.auditID].sort(),
          );
          assert.deepEqual(await find({ exclude: { [c.field]: [missValue] } }), [hit.auditID, other.auditID].sort());
        });
      });
    }

    // Exclusion on every filterable field: the cases above, and the fields without a fuzzy parameter of their own.
    const excludeCases = [
      ...fieldCases,
      {
        field: 'rule' as FilterField,
        hit: { annotations: { [FALCO_RULES_ANNOTATION]: JSON.stringify([{ rule: 'Create Privileged Pod' }]) } },
        miss: { annotations: { [FALCO_RULES_ANNOTATION]: JSON.stringify([{ rule: 'Terminal shell' }]) } },
        exact: 'Create Privileged Pod',
        fuzzy: '',
      },
      ...EXACT_ONLY,
    ];
    test('every filterable field has an exclusion case', () => {
      assert.deepEqual([...new Set(excludeCases.map((c) => c.field))].sort(), [...FILTER_FIELDS].sort());
    });

    for (const c of excludeCases) {
      test(`exclude ${c.field}: not the events with the value; one without the field is kept; matcher agrees`, async () => {
        await withStore(async (store) => {
          const hit = makeEvent(c.hit);
          const miss = makeEvent(c.miss);
          // without the field (or with its empty value): an exclusion never drops it
          const bare = makeEvent();
          const field = fieldSpec(c.field);
          const without = field.get(bare) === undefined || (field.list && fieldValues(bare, c.field).length === 0);
          await store.append(without ? [hit, miss, bare] : [hit, miss]);
          const find = async (q: EventQuery) => (await all(store, q)).map((e) => e.auditID).sort();
          const stored = await all(store, {});
          for (const q of [
            { exclude: { [c.field]: [c.exact] } },
            { exclude: { [c.field]: [c.exact, 'not-a-stored-value'] } },
            { exclude: { [c.field]: ['not-a-stored-value'] } },
            { exclude: { [c.field]: [c.exact] }, exact: { [c.field]: [c.exact] } },
          ] as EventQuery[]) {
            const want = stored
              .filter((e) => matches(e, q))
              .map((e) => e.auditID)
              .sort();
            assert.deepEqual(await find(q), want, `store and matcher agree on ${JSON.stringify(q)}`);
            assert.equal((await store.histogram(q, 60_000)).total, want.length, 'histogram');
            assert.equal((await store.stats(q, 'user', 5)).total, want.length, 'stats');
          }
          const kept = (without ? [miss, bare] : [miss]).map((e) => e.auditID).sort();
          assert.deepEqual(await find({ exclude: { [c.field]: [c.exact] } }), kept);
          assert.deepEqual(
            await find({ exclude: { [c.field]: ['not-a-stored-value'] } }),
            stored.map((e) => e.auditID).sort(),
          );
        });
      });
    }

    test('exclude on a list field drops an event when any of its values is excluded', async () => {
      await withStore(async (store) => {
        const both = makeEvent({ user: { username: 'a', groups: ['devs', 'ops'] } });
        const ops = makeEvent({ user: { username: 'b', groups: ['ops'] } });
        const none = makeEvent({ user: { username: 'c' }, sourceIPs: [] });
        await store.append([both, ops, none]);
        const find = async (q: EventQuery) => (await all(store, q)).map((e) => e.auditID).sort();
        assert.deepEqual(await find({ exclude: { group: ['devs'] } }), [ops.auditID, none.auditID].sort());
        assert.deepEqual(await find({ exclude: { group: ['devs', 'ops'] } }), [none.auditID]);
        assert.deepEqual(await find({ exclude: { sourceIP: ['10.0.0.1'] } }), [none.auditID]);
      });
    });

    test('code: classes, comparisons and ranges, OR-ed, in exact and exclude; a missing code is never excluded', async () => {
      await withStore(async (store) => {
        const codes = [101, 200, 201, 302, 400, 403, 404, 499, 500, 503];
        const events = codes.map((code) => makeEvent({ responseStatus: { metadata: {}, code } }));
        const noCode = makeEvent({ responseStatus: undefined });
        await store.append([...events, noCode]);
        const stored = await all(store, {});
        const codesOf = async (q: EventQuery) =>
          (await all(store, q)).map((e) => e.responseStatus?.code ?? null).sort((a, b) => (a ?? -1) - (b ?? -1));
        const cases: [string[], number[]][] = [
          [['4xx'], [400, 403, 404, 499]],
          [
            ['4xx', '5xx'],
            [400, 403, 404, 499, 500, 503],
          ],
          [['>=400'], [400, 403, 404, 499, 500, 503]],
          [['>403'], [404, 499, 500, 503]],
          [['<=201'], [101, 200, 201]],
          [['<200'], [101]],
          [['400-404'], [400, 403, 404]],
          [
            ['2xx', '403', '500-599'],
            [200, 201, 403, 500, 503],
          ],
          [['1xx', '<150'], [101]],
          [['abc', '6xx', '>'], []],
        ];
        for (const [values, want] of cases) {
          assert.deepEqual(await codesOf({ exact: { code: values } }), want, `exact ${values}`);
          const rest = [null, ...codes.filter((c) => !want.includes(c))];
          assert.deepEqual(await codesOf({ exclude: { code: values } }), rest, `exclude ${values}`);
          for (const q of [{ exact: { code: values } }, { exclude: { code: values } }] as EventQuery[]) {
            const n = stored.filter((e) => matches(e, q)).length;
            assert.equal((await store.query(q, { sort: 'asc', size: 0 })).total, n, `matcher ${JSON.stringify(q)}`);
            assert.equal((await store.histogram(q, 60_000)).total, n);
          }
        }
        const top = await store.stats({ exact: { code: ['5xx'] } }, 'code', 5);
        assert.deepEqual(top.top.map((t) => t.key).sort(), ['500', '503']);
      });
    });

    test('fuzzy terms shorter than three characters and longer ones mix in one OR list', async () => {
      await withStore(async (store) => {
        const a = makeEvent({ user: { username: 'xy-one' } });
        const b = makeEvent({ user: { username: 'two-zzz' } });
        const c = makeEvent({ user: { username: 'three' } });
        await store.append([a, b, c]);
        const got = (await all(store, { fuzzy: { user: ['XY', 'zzz'] } })).map((e) => e.auditID).sort();
        assert.deepEqual(got, [a.auditID, b.auditID].sort());
        assert.equal((await all(store, { fuzzy: { user: ['"'] } })).length, 0, 'quotes are literal');
        await store.append([makeEvent({ user: { username: 'say "hi" now' } })]);
        assert.equal((await all(store, { fuzzy: { user: ['"hi" n'] } })).length, 1);
        assert.equal((await all(store, { fuzzy: { user: ['%'] } })).length, 0, 'LIKE wildcards are literal');
      });
    });

    test('fuzzy and text search matching many distinct values', async () => {
      await withStore(async (store) => {
        // more values than either store lists inline (SQLite 500, PostgreSQL 1000): their subquery forms answer
        const many = Array.from({ length: 1100 }, (_, i) => makeEvent({ user: { username: `member-${i}` } }, T0 + i));
        await store.append([...many, makeEvent({ user: { username: 'outsider' } })]);
        assert.equal((await store.query({ fuzzy: { user: ['MEMBER-'] } }, { sort: 'asc', size: 0 })).total, 1100);
        assert.equal((await store.query({ text: ['member'] }, { sort: 'asc', size: 0 })).total, 1100);
        assert.equal((await store.histogram({ fuzzy: { user: ['ber-'] } }, 60_000)).total, 1100);
      });
    });

    test('values of a field are OR-ed, fields are AND-ed, exact and fuzzy together', async () => {
      await withStore(async (store) => {
        const e1 = makeEvent({ verb: 'get', user: { username: 'alice' } });
        const e2 = makeEvent({ verb: 'delete', user: { username: 'alice' } });
        const e3 = makeEvent({ verb: 'delete', user: { username: 'bob' } });
        const e4 = makeEvent({ verb: 'create', user: { username: 'bob' } });
        await store.append([e1, e2, e3, e4]);
        const find = async (q: EventQuery) => (await all(store, q)).map((e) => e.auditID).sort();
        assert.deepEqual(await find({ exact: { verb: ['get', 'delete'] } }), [e1, e2, e3].map((e) => e.auditID).sort());
        assert.deepEqual(await find({ exact: { verb: ['get', 'delete'], user: ['bob'] } }), [e3.auditID]);
        assert.deepEqual(await find({ exact: { verb: ['delete'] }, fuzzy: { user: ['LIC'] } }), [e2.auditID]);
        assert.deepEqual(
          await find({ exact: { verb: [] } }),
          [e1, e2, e3, e4].map((e) => e.auditID).sort(),
          'empty list: no constraint',
        );
        assert.deepEqual(await find({ exact: { code: ['abc'] } }), [], 'a code that is no integer matches nothing');
      });
    });

    test('an exact empty value finds events without the field', async () => {
      await withStore(async (store) => {
        const clusterScoped = makeEvent({ objectRef: { resource: 'nodes', name: 'n1' } });
        await store.append([clusterScoped, makeEvent()]);
        assert.deepEqual(
          (await all(store, { exact: { namespace: [''] } })).map((e) => e.auditID),
          [clusterScoped.auditID],
        );
      });
    });

    test('text: case-insensitive substring across user, verb, resource, name, namespace, workspace, URI, IPs, groups, status, user agent', async () => {
      await withStore(async (store) => {
        const base = makeEvent({
          user: { username: 'u', groups: [] },
          sourceIPs: [],
          userAgent: '',
          requestURI: '/',
          verb: 'v',
          objectRef: {},
        });
        const variants: [string, Partial<AuditEvent>][] = [
          ['user', { user: { username: 'Needle-User', groups: [] } }],
          ['verb', { verb: 'needleverb' }],
          ['resource', { objectRef: { resource: 'NEEDLEs' } }],
          ['name', { objectRef: { name: 'a-needle-b' } }],
          ['namespace', { objectRef: { namespace: 'ns-needle' } }],
          ['workspace', { workspace: 'needle-ws' }],
          ['requestURI', { requestURI: '/apis/x/NeEdLe?watch=1' }],
          ['sourceIPs', { sourceIPs: ['1.2.3.4', 'needle.example'] }],
          ['groups', { user: { username: 'u', groups: ['x', 'g-needle'] } }],
          ['status', { responseStatus: { status: 'Needleish' } }],
          ['userAgent', { userAgent: 'curl-needle/8' }],
        ];
        const events = variants.map(([, v]) => ({ ...base, ...v, auditID: makeEvent().auditID }));
        const other = { ...base, auditID: makeEvent().auditID, annotations: { note: 'needle' } };
        await store.append([...events, other]);
        const found = new Set((await all(store, { text: ['needle'] })).map((e) => e.auditID));
        for (let i = 0; i < variants.length; i++)
          assert.ok(found.has(events[i]!.auditID), `text finds ${variants[i]![0]}`);
        assert.equal(found.size, variants.length, 'fields outside the searchable set are not searched');
        assert.equal((await all(store, { text: ['NEEDLE', 'zzzz'] })).length, variants.length, 'terms are OR-ed');
        assert.equal((await all(store, { text: ['-b'] })).length, 1, 'short terms work too');
        assert.equal((await all(store, { text: ['needle'], exact: { verb: ['needleverb'] } })).length, 1);
      });
    });

    test('free text of two characters: anywhere in a value, the whole value, beside any character, any case', async () => {
      await withStore(async (store) => {
        const values: [string, string][] = [
          ['start', 'qxstart'],
          ['end', 'endqx'],
          ['whole', 'QX'],
          ['non-ASCII neighbour at the end', 'éqx'],
          ['DEL neighbour', '\u007fqx'],
          ['middle', 'aqXb'],
        ];
        const events = values.map(([, v]) => makeEvent({ objectRef: { resource: 'pods', namespace: v } }));
        const other = makeEvent({ objectRef: { resource: 'pods', namespace: 'q-x' } });
        await store.append([...events, other]);
        const found = new Set((await all(store, { text: ['qX'] })).map((e) => e.auditID));
        for (let i = 0; i < values.length; i++) assert.ok(found.has(events[i]!.auditID), `text finds ${values[i]![0]}`);
        assert.equal(found.size, values.length);
        assert.equal((await all(store, { fuzzy: { namespace: ['Qx'] } })).length, values.length);
      });
    });

    test('start and end are inclusive epoch milliseconds on requestReceivedTimestamp, to the microsecond', async () => {
      await withStore(async (store) => {
        const before = makeEvent({ requestReceivedTimestamp: micro(T0 + 9, 999) });
        const atStart = makeEvent({ requestReceivedTimestamp: micro(T0 + 10) });
        const inside = makeEvent({ requestReceivedTimestamp: micro(T0 + 20, 500) });
        const atEnd = makeEvent({ requestReceivedTimestamp: micro(T0 + 30, 999) });
        const after = makeEvent({ requestReceivedTimestamp: micro(T0 + 31) });
        await store.append([after, atEnd, inside, atStart, before]);
        const got = (await all(store, { start: T0 + 10, end: T0 + 30 })).map((e) => e.auditID);
        assert.deepEqual(
          got,
          [atStart, inside, atEnd].map((e) => e.auditID),
        );
        assert.equal((await all(store, { start: T0 + 31 })).length, 1);
        assert.equal((await all(store, { end: T0 + 9 })).length, 1);
      });
    });

    test('sort asc and desc by received time, ties by id, sub-millisecond order kept', async () => {
      await withStore(async (store) => {
        const a = makeEvent({ requestReceivedTimestamp: micro(T0, 2) });
        const b = makeEvent({ requestReceivedTimestamp: micro(T0, 1) });
        const tie1 = makeEvent({}, T0 + 5);
        const tie2 = makeEvent({}, T0 + 5);
        await store.append([tie1, a, tie2, b]);
        const asc = await all(store, {}, 'asc');
        assert.deepEqual(
          asc.map((e) => e.auditID),
          [b, a, tie1, tie2].map((e) => e.auditID),
        );
        const desc = await all(store, {}, 'desc');
        assert.deepEqual(
          desc.map((e) => e.auditID),
          [tie2, tie1, a, b].map((e) => e.auditID),
        );
      });
    });

    test('offset paging: from and size with an exact total', async () => {
      await withStore(async (store) => {
        await store.append(Array.from({ length: 25 }, (_, i) => makeEvent({}, T0 + i)));
        const everything = await all(store, {}, 'desc');
        const p = await store.query({}, { sort: 'desc', size: 10, from: 20 });
        assert.equal(p.total, 25);
        assert.deepEqual(ids(p.items), ids(everything.slice(20)));
        assert.equal(p.next, undefined, 'no next on the last page');
        const p0 = await store.query({}, { sort: 'desc', size: 10, from: 0 });
        assert.deepEqual(ids(p0.items), ids(everything.slice(0, 10)));
        assert.ok(p0.next);
        const empty = await store.query({}, { sort: 'desc', size: 10, from: 100 });
        assert.deepEqual(empty, { total: 25, items: [] });
        const count = await store.query({}, { sort: 'desc', size: 0 });
        assert.deepEqual(count, { total: 25, items: [] });
      });
    });

    test('keyset paging walks every event exactly once, both directions, deep pages, with filters', async () => {
      await withStore(async (store) => {
        const events: AuditEvent[] = [];
        for (let i = 0; i < 1200; i++) {
          // runs of equal timestamps make ties on the page boundaries
          events.push(makeEvent({ verb: i % 3 === 0 ? 'get' : 'list' }, T0 + Math.floor(i / 4)));
        }
        for (let i = 0; i < events.length; i += 400) await store.append(events.slice(i, i + 400));
        for (const sort of ['asc', 'desc'] as const) {
          for (const q of [{}, { exact: { verb: ['get'] } }] as EventQuery[]) {
            const expected = ids(await all(store, q, sort));
            const got: string[] = [];
            let after: string | undefined;
            let pages = 0;
            do {
              const p = await store.query(q, { sort, size: 7, after });
              assert.equal(p.total, expected.length, 'total is the whole match, not the rest');
              got.push(...ids(p.items));
              after = p.next;
              pages++;
            } while (after);
            assert.deepEqual(got, expected, `${sort} ${JSON.stringify(q)}`);
            assert.equal(pages, Math.ceil(expected.length / 7));
          }
        }
        // a cursor continues after offset paging too
        const first = await store.query({}, { sort: 'asc', size: 500, from: 600 });
        const next = await store.query({}, { sort: 'asc', size: 500, after: first.next });
        const everything = ids(await all(store, {}, 'asc'));
        assert.deepEqual(ids(next.items), everything.slice(1100));
      });
    });

    test('bad requests are rejected with a QueryError', async () => {
      await withStore(async (store) => {
        await assert.rejects(store.query({}, { sort: 'asc', size: 10, after: 'garbage!' }), QueryError);
        await assert.rejects(store.query({}, { sort: 'asc', size: -1 }), QueryError);
        await assert.rejects(store.query({}, { sort: 'up' as never, size: 1 }), QueryError);
        await assert.rejects(store.query({ exact: { nope: ['x'] } as never }, { sort: 'asc', size: 1 }), QueryError);
        await assert.rejects(store.histogram({}, 0), QueryError);
      });
    });

    test('scope: a tenant sees events of its workspaces or namespaces only, in query, get, histogram and stats', async () => {
      await withStore(async (store) => {
        const inWs = makeEvent({ workspace: 'ws-a', objectRef: { resource: 'pods', namespace: 'ns-other' } });
        const inNs = makeEvent({ workspace: 'ws-b', objectRef: { resource: 'pods', namespace: 'ns-a' } });
        const nsOnly = makeEvent({ objectRef: { resource: 'pods', namespace: 'ns-a' } });
        const outside = makeEvent({ workspace: 'ws-b', objectRef: { resource: 'pods', namespace: 'ns-b' } });
        const clusterLevel = makeEvent({ objectRef: { resource: 'nodes', name: 'n1' } });
        await store.append([inWs, inNs, nsOnly, outside, clusterLevel]);
        const scope = { workspaces: ['ws-a'], namespaces: ['ns-a'] };
        const visible = [inWs, inNs, nsOnly].map((e) => e.auditID).sort();
        assert.deepEqual((await all(store, { scope })).map((e) => e.auditID).sort(), visible);
        assert.deepEqual((await all(store, { scope, text: ['pods'] })).map((e) => e.auditID).sort(), visible);
        const byAudit = new Map((await all(store, {})).map((e) => [e.auditID, e.id]));
        assert.equal(await store.get(byAudit.get(outside.auditID)!, scope), undefined);
        assert.equal(await store.get(byAudit.get(clusterLevel.auditID)!, scope), undefined);
        assert.equal((await store.get(byAudit.get(inNs.auditID)!, scope))?.auditID, inNs.auditID);
        assert.equal((await store.histogram({ scope }, 60_000)).total, 3);
        const stats = await store.stats({ scope }, 'namespace', 10);
        assert.equal(stats.total, 3);
        assert.deepEqual(stats.top.map((t) => t.key).sort(), ['ns-a', 'ns-other']);
        // no visible workspace or namespace (or only empty names): nothing at all
        for (const none of [
          { workspaces: [], namespaces: [] },
          { workspaces: [''], namespaces: [''] },
        ]) {
          assert.equal((await store.query({ scope: none }, { sort: 'asc', size: 10 })).total, 0);
          assert.equal((await store.histogram({ scope: none }, 60_000)).total, 0);
          assert.equal((await store.stats({ scope: none }, 'user', 10)).total, 0);
          assert.equal(await store.get(byAudit.get(inNs.auditID)!, none), undefined);
        }
      });
    });

    test("scope: a namespace's own events (create, patch, delete of the namespace) belong to it (#15 item 15)", async () => {
      await withStore(async (store) => {
        const created = makeEvent({
          verb: 'create',
          objectRef: { resource: 'namespaces', name: 'ns-a', apiVersion: 'v1' },
        });
        const patched = makeEvent({
          verb: 'patch',
          objectRef: { resource: 'namespaces', name: 'ns-a', subresource: 'status' },
        });
        const other = makeEvent({ verb: 'delete', objectRef: { resource: 'namespaces', name: 'ns-b' } });
        const listed = makeEvent({ verb: 'list', objectRef: { resource: 'namespaces' } });
        // a custom resource called "namespaces" in an API group is not a Kubernetes namespace
        const custom = makeEvent({ objectRef: { resource: 'namespaces', apiGroup: 'example.com', name: 'ns-a' } });
        await store.append([created, patched, other, listed, custom]);
        const scope = { workspaces: [], namespaces: ['ns-a'] };
        const visible = [created, patched].map((e) => e.auditID).sort();
        const seen = await all(store, { scope });
        assert.deepEqual(seen.map((e) => e.auditID).sort(), visible);
        assert.equal(seen.find((e) => e.auditID === created.auditID)?.objectRef?.namespace, undefined, 'body as sent');
        for (const e of [created, patched, other, listed, custom])
          assert.equal(matches(e, { scope }), visible.includes(e.auditID), `the live tail agrees on ${e.verb}`);
        const filtered = await all(store, { exact: { namespace: ['ns-a'] } });
        assert.deepEqual(filtered.map((e) => e.auditID).sort(), visible, 'objectref_namespace_filter means the same');
        assert.equal((await store.stats({ scope }, 'namespace', 10)).top[0]?.key, 'ns-a');
      });
    });

    test('histogram: buckets aligned to multiples of the interval, gaps included, total exact', async () => {
      await withStore(async (store) => {
        const minute = 60_000;
        const base = Math.floor(T0 / minute) * minute;
        const times = [
          base + 5,
          base + 59_999,
          base + minute + 1,
          base + 3 * minute + 30_000,
          base + 3 * minute + 59_999,
        ];
        await store.append(times.map((t) => makeEvent({}, t)));
        const h = await store.histogram({}, minute);
        assert.equal(h.total, 5);
        assert.deepEqual(h.buckets, [
          { time: base, count: 2 },
          { time: base + minute, count: 1 },
          { time: base + 2 * minute, count: 0 },
          { time: base + 3 * minute, count: 2 },
        ]);
        for (const b of (await store.histogram({}, 7_000)).buckets) assert.equal(b.time % 7_000, 0);
        const filtered = await store.histogram({ start: base + minute, end: base + 4 * minute }, minute);
        assert.equal(filtered.total, 3);
        assert.deepEqual(await store.histogram({ exact: { verb: ['none'] } }, minute), { total: 0, buckets: [] });
        // the same answer through any filter that keeps every event, and with many small buckets
        assert.deepEqual(await store.histogram({ fuzzy: { verb: ['IS'] }, text: ['admin'] }, minute), h);
        const fine = await store.histogram({}, 100);
        assert.equal(fine.total, 5);
        assert.equal(fine.buckets.length, (3 * minute + 59_900) / 100 + 1);
        assert.deepEqual(fine.buckets[0], { time: base, count: 1 });
        assert.deepEqual(fine.buckets.at(-1), { time: base + 3 * minute + 59_900, count: 1 });
        assert.deepEqual(await store.histogram({ fuzzy: { verb: ['IS'] } }, 100), fine);
      });
    });

    test('stats: top values with counts, the total and distinct audit IDs', async () => {
      await withStore(async (store) => {
        const one = makeEvent({
          user: { username: 'alice' },
          stage: 'ResponseStarted',
          sourceIPs: ['1.1.1.1', '2.2.2.2'],
        });
        await store.append([
          one,
          { ...one, stage: 'ResponseComplete' },
          makeEvent({ user: { username: 'alice' }, sourceIPs: ['2.2.2.2'], responseStatus: { code: 403 } }),
          makeEvent({ user: { username: 'bob' }, sourceIPs: ['3.3.3.3'] }),
        ]);
        const s = await store.stats({}, 'user', 10);
        assert.deepEqual(s, {
          total: 4,
          auditIDs: 3,
          top: [
            { key: 'alice', count: 3 },
            { key: 'bob', count: 1 },
          ],
        });
        assert.deepEqual((await store.stats({}, 'user', 1)).top, [{ key: 'alice', count: 3 }]);
        assert.deepEqual((await store.stats({}, 'sourceIP', 10)).top, [
          { key: '2.2.2.2', count: 3 },
          { key: '1.1.1.1', count: 2 },
          { key: '3.3.3.3', count: 1 },
        ]);
        assert.deepEqual((await store.stats({}, 'code', 10)).top, [
          { key: '200', count: 3 },
          { key: '403', count: 1 },
        ]);
        assert.deepEqual((await store.stats({ exact: { user: ['bob'] } }, 'verb', 10)).top, [
          { key: 'list', count: 1 },
        ]);
        assert.deepEqual(await store.stats({ exact: { user: ['nobody'] } }, 'user', 10), {
          total: 0,
          auditIDs: 0,
          top: [],
        });
      });
    });

    test('deleteBefore removes at most `limit` events received before the cutoff, from every index', async () => {
      await withStore(async (store) => {
        const old = Array.from({ length: 5 }, (_, i) =>
          makeEvent({ user: { username: 'old-user', groups: ['old-group'] }, sourceIPs: ['9.9.9.9'] }, T0 + i),
        );
        const young = makeEvent({ user: { username: 'young' } }, T0 + 100);
        await store.append([...old, young]);
        assert.equal(await store.deleteBefore(T0 + 100, 2), 2);
        assert.equal(await store.deleteBefore(T0 + 100, 10), 3);
        assert.equal(await store.deleteBefore(T0 + 100, 10), 0);
        const left = await all(store, {});
        assert.deepEqual(
          left.map((e) => e.auditID),
          [young.auditID],
        );
        for (const q of [
          { text: ['old-user'] },
          { fuzzy: { user: ['old'] } },
          { exact: { group: ['old-group'] } },
          { exact: { sourceIP: ['9.9.9.9'] } },
        ] as EventQuery[])
          assert.equal((await store.query(q, { sort: 'asc', size: 10 })).total, 0, JSON.stringify(q));
        assert.equal((await store.size()).events, 1);
        // a deleted event's (auditID, stage) may be stored again, and is found again by every field
        assertCounts(await store.append([old[0]!]), { inserted: 1, duplicates: 0 });
        for (const q of [
          { text: ['old-user'] },
          { fuzzy: { user: ['old'], group: ['old-gr'] } },
          { exact: { user: ['old-user'], group: ['old-group'], sourceIP: ['9.9.9.9'] } },
        ] as EventQuery[])
          assert.equal((await store.query(q, { sort: 'asc', size: 10 })).total, 1, JSON.stringify(q));
      });
    });

    test('checkpoint signs the chain head over the events stored, after appends, collapses and retention', async () => {
      await withStore(async (store) => {
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const key = { privateKey, publicKey, keyId: keyIdOf(publicKey) };
        await store.append(Array.from({ length: 5 }, (_, i) => makeEvent({}, T0 + i * 1000)));
        const req = makeEvent({ stage: 'RequestReceived', source: 'cadf' }, T0 + 5000);
        await store.append([req], { collapseStages: true });
        await store.append([{ ...req, stage: 'ResponseComplete' }], { collapseStages: true });
        const first = await store.checkpoint(key);
        assert.ok(first);
        assert.equal(first.count, 6);
        assert.equal(first.keyId, key.keyId);
        assert.ok(checkpointSignatureValid(first, publicKey));
        // nothing new: no checkpoint unless forced, and a forced one is the next in line over the same head
        assert.equal(await store.checkpoint(key), undefined);
        const forced = await store.checkpoint(key, { force: true });
        assert.deepEqual([forced?.seq, forced?.lastSeq, forced?.count], [first.seq + 1, first.lastSeq, 6]);
        assert.equal(await store.deleteBefore(T0 + 2500, 100), 3);
        const after = await store.checkpoint(key);
        assert.ok(after && after.lastSeq > first.lastSeq);
        assert.equal(after.count, 3);
        assert.equal(after.count, (await store.size()).events);
      });
    });

    test('retention deletes in small steps everything older than the maximum age', async () => {
      await withStore(async (store) => {
        await store.append(Array.from({ length: 23 }, (_, i) => makeEvent({}, T0 + i)));
        await store.append([makeEvent({}, T0 + 10_000)]);
        const steps: number[] = [];
        const counting: Store = Object.create(store, {
          // retention takes its lock through the real store (whose private fields a wrapper has not)
          runExclusive: { value: store.runExclusive?.bind(store) },
          deleteBefore: {
            value: async (cutoff: number, limit: number) => {
              const n = await store.deleteBefore(cutoff, limit);
              steps.push(n);
              return n;
            },
          },
        });
        const r = startRetention(counting, {
          maxAgeMs: 5_000,
          stepLimit: 5,
          intervalMs: 3_600_000,
          now: () => T0 + 10_000,
        });
        try {
          assert.equal(await r.runOnce(), 23);
          assert.deepEqual(steps, [5, 5, 5, 5, 3]);
          assert.equal((await store.size()).events, 1);
          assert.equal(await r.runOnce(), 0);
        } finally {
          await r.stop();
        }
      });
    });

    test('retention runs on its own every interval until stopped', async () => {
      await withStore(async (store) => {
        await store.append(Array.from({ length: 3 }, (_, i) => makeEvent({}, T0 + i)));
        let deleted!: () => void;
        let total = 0;
        const done = new Promise<void>((resolve) => {
          deleted = resolve;
        });
        const watching: Store = Object.create(store, {
          runExclusive: { value: store.runExclusive?.bind(store) },
          deleteBefore: {
            value: async (cutoff: number, limit: number) => {
              const n = await store.deleteBefore(cutoff, limit);
              total += n;
              if (total === 3) deleted();
              return n;
            },
          },
        });
        const r = startRetention(watching, { maxAgeMs: 1_000, stepLimit: 2, intervalMs: 5, now: () => T0 + 60_000 });
        const timeout = setTimeout(() => assert.fail('retention did not run within 5 s'), 5_000);
        try {
          await done;
        } finally {
          clearTimeout(timeout);
          await r.stop();
        }
        assert.equal((await store.size()).events, 0);
      });
    });

    test('subscribe: listeners get each committed batch with ids, duplicates excluded; unsubscribe stops it', async () => {
      await withStore(async (store) => {
        const got: StoredEvent[][] = [];
        const off = store.subscribe((events) => got.push(events));
        const a = makeEvent();
        await store.append([a, makeEvent()]);
        await store.append([a]);
        assert.equal(got.length, 1);
        assert.equal(got[0]!.length, 2);
        const [stored] = await all(store, { exact: { auditID: [a.auditID] } });
        assert.deepEqual(got[0]![0], stored);
        off();
        await store.append([makeEvent()]);
        assert.equal(got.length, 1);
      });
    });

    test('size counts events and reports bytes', async () => {
      await withStore(async (store) => {
        assert.equal((await store.size()).events, 0);
        await store.append([makeEvent(), makeEvent()]);
        const s = await store.size();
        assert.equal(s.events, 2);
        assert.ok(s.bytes > 0);
      });
    });

    test('durability: after close and reopen every event, id, batchKey and index is still there', async () => {
      await withStore(async (store, o) => {
        const events = Array.from({ length: 50 }, (_, i) =>
          makeEvent({ user: { username: `user-${i % 5}`, groups: ['g'] }, workspace: 'ws' }, T0 + i),
        );
        await store.append(events, { batchKey: 'k1' });
        const before = await all(store, {});
        await store.close();
        const again = await o.reopen();
        assert.deepEqual(await all(again, {}), before);
        assert.equal((await all(again, { fuzzy: { user: ['ser-3'] } })).length, 10);
        assert.equal((await all(again, { exact: { group: ['g'] } })).length, 50);
        assertCounts(await again.append(events.slice(0, 3), { batchKey: 'k1' }), { inserted: 0, duplicates: 3 });
        assertCounts(await again.append(events.slice(0, 3)), { inserted: 0, duplicates: 3 });
        await again.append([makeEvent({}, T0 + 100)]);
        const after = await all(again, {});
        assert.equal(after.length, 51);
        assert.ok(!before.some((e) => e.id === after[50]!.id), 'new ids after reopen');
      });
    });
  });
}
