// Tenant isolation, exhaustively: every query endpoint, every filter parameter (taken from the parameter table, so
// a new one is covered automatically) with the other tenant's values, its own and a mix, stats by every field,
// the histogram, KubeSphere's path with every operation (and its cluster form), `after` cursors taken from the
// admin's pages, ids guessed by counting, and the live stream. A tenant must find nothing of another tenant:
// no marker of another tenant's values appears in any answer, every item and count is its own, and each answer
// equals what the admin gets for the same question restricted to the tenant's scope.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sseEvents } from '../../src/cli/tail.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { FILTER_PARAMS, STATS_BY } from '../../src/query/params.ts';
import type { FilterField } from '../../src/store/fields.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { startTestServer, type TestServer } from './helpers.ts';

// The events are of 2024: a retention of years keeps the minutely retention pass (the suite runs over a minute)
// from deleting them between a tenant's answer and the admin's.
const CONFIG = `
retention: 3650d
auth:
  tokens:
    - { name: ops, token: admin-token, role: admin }
    - { name: team-a, token: a-token, role: tenant, workspaces: [wa] }
    - { name: team-b, token: b-token, role: tenant, namespaces: [ns-b] }
    - { name: shipper, token: ingest-token, role: ingest }
  rateLimit: { queryPerSecond: 0, ingestPerSecond: 0 }
workspaces:
  wa: [ns-a]
`;

/** Every value of an event carries its owner's marker, so a leak shows up as text in an answer. */
function ev(owner: 'A' | 'B' | 'C', n: number, over: Partial<AuditEvent> = {}): AuditEvent {
  const m = `ZZ${owner}`;
  const levels = { A: 'Metadata', B: 'RequestResponse', C: 'Request' } as const;
  const stages = { A: 'ResponseComplete', B: 'ResponseStarted', C: 'RequestReceived' } as const;
  const sources = { A: 'kubernetes', B: 'kubesphere', C: 'cadf' } as const;
  const codes = { A: 200, B: 418, C: 503 } as const;
  const t = new Date(Date.UTC(2024, 4, 1, 10, n * 7 + { A: 0, B: 1, C: 2 }[owner])).toISOString();
  return {
    level: levels[owner],
    auditID: `${m}-id-${n}`,
    stage: stages[owner],
    requestURI: `/api/${m}/uri/${n}`,
    verb: `verb${m}`,
    user: { username: `user${m}`, groups: [`group${m}`] },
    sourceIPs: [{ A: '10.1.1.1', B: '10.2.2.2', C: '10.3.3.3' }[owner]],
    userAgent: `agent${m}`,
    objectRef:
      owner === 'C'
        ? { resource: `nodes${m}`, name: `name${m}` }
        : {
            resource: `res${m}`,
            subresource: `sub${m}`,
            name: `name${m}`,
            namespace: owner === 'A' ? (n % 2 ? 'ns-a' : `ns${m}`) : 'ns-b',
          },
    responseStatus: { code: codes[owner], status: `status${m}` },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    source: sources[owner],
    cluster: `cluster${m}`,
    devops: `devops${m}`,
    // A's events in ns-a get workspace wa from the workspaces map; the others carry it.
    ...(owner === 'A' && n % 2 === 0 ? { workspace: 'wa' } : {}),
    ...(owner === 'B' ? { workspace: `ws${m}` } : {}),
    ...over,
  };
}

const EVENTS = [1, 2, 3, 4].flatMap((n) => [ev('A', n), ev('B', n), ev('C', n)]);

/** A field's value in an event, as a query parameter takes it. */
function fieldValue(e: AuditEvent, f: FilterField): string | undefined {
  switch (f) {
    case 'workspace':
    case 'cluster':
    case 'devops':
    case 'verb':
    case 'level':
    case 'stage':
    case 'source':
    case 'auditID':
      return e[f];
    case 'namespace':
    case 'resource':
    case 'subresource':
    case 'name':
      return e.objectRef?.[f];
    case 'user':
      return e.user.username;
    case 'group':
      return e.user.groups?.[0];
    case 'sourceIP':
      return e.sourceIPs?.[0];
    case 'code':
      return String(e.responseStatus?.code);
    case 'status':
      return e.responseStatus?.status;
  }
}

interface Tenant {
  token: string;
  owner: 'A' | 'B';
  /** Markers of what it must never see. */
  foreign: string[];
  /** The admin's parameter that selects exactly this tenant's events. */
  scope: [string, string];
}
const TENANTS: Tenant[] = [
  { token: 'a-token', owner: 'A', foreign: ['ZZB', 'ZZC'], scope: ['workspace_filter', 'wa'] },
  { token: 'b-token', owner: 'B', foreign: ['ZZA', 'ZZC'], scope: ['objectref_namespace_filter', 'ns-b'] },
];

const KS = '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events';

describe('tenant isolation, every endpoint and parameter', () => {
  let s: TestServer;
  const own = new Map<string, Set<string>>();
  before(async () => {
    s = await startTestServer(CONFIG);
    const r = await s.post('/ingest/events', JSON.stringify(EVENTS), {
      'content-type': 'application/json',
      authorization: 'Bearer ingest-token',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const t of TENANTS) {
      const page = await s.get(`/api/v1/events?size=1000&${t.scope[0]}=${t.scope[1]}`, 'admin-token');
      own.set(t.owner, new Set(page.body.items.map((e: StoredEvent) => e.id)));
      assert.equal(page.body.total, 4, `${t.owner} has 4 events`);
    }
  });
  after(() => s.stop());

  /** Nothing foreign in the text; every item id is the tenant's. */
  function noLeak(t: Tenant, what: string, body: unknown): void {
    const text = JSON.stringify(body);
    for (const m of t.foreign) assert.ok(!text.includes(m), `${what}: ${t.owner} sees ${m}: ${text.slice(0, 300)}`);
    const b = body as { items?: StoredEvent[] };
    for (const e of b.items ?? []) assert.ok(own.get(t.owner)!.has(e.id), `${what}: foreign id ${e.id}`);
  }

  /** The tenant's answer to `path?query`, checked for leaks and (when the scope parameter is free) against the admin's. */
  async function same(t: Tenant, path: string, query: string): Promise<void> {
    const sep = query ? '&' : '';
    const mine = await s.get(`${path}?${query}`, t.token);
    const what = `${t.owner} ${path}?${query}`;
    assert.ok(mine.status === 200 || mine.status === 400, `${what}: ${mine.status}`);
    noLeak(t, what, mine.body);
    if (query.includes(`${t.scope[0]}=`)) return;
    const admin = await s.get(`${path}?${query}${sep}${t.scope[0]}=${t.scope[1]}`, 'admin-token');
    assert.equal(mine.status, admin.status, what);
    assert.deepEqual(mine.body, admin.body, what);
  }

  /** Parameter values to try: the other owners' values, the tenant's own, a mix, and fragments. */
  function values(t: Tenant, param: string): string[] {
    const spec = FILTER_PARAMS[param]!;
    const byOwner = (o: string) => EVENTS.filter((e) => e.auditID.startsWith(`ZZ${o}`));
    const vals = new Set<string>();
    for (const o of ['A', 'B', 'C'])
      for (const e of byOwner(o)) {
        const v = fieldValue(e, spec.field);
        if (v !== undefined) vals.add(v);
      }
    const out = [...vals];
    const mine = byOwner(t.owner)
      .map((e) => fieldValue(e, spec.field))
      .find((v) => v !== undefined);
    const theirs = out.find((v) => v !== mine);
    if (mine && theirs) out.push(`${theirs},${mine}`);
    if (spec.kind === 'fuzzy') out.push('ZZ', 'ZZB', 'ZZA', 'ZZC', '1', 'ns');
    return out;
  }

  for (const t of TENANTS) {
    test(`${t.owner}: every filter parameter on list, histogram, stats and KubeSphere's operations`, async () => {
      const endpoints: [string, string][] = [
        ['/api/v1/events', 'size=1000'],
        ['/api/v1/events', 'size=1&sort=asc'],
        ['/api/v1/events/histogram', 'interval=1m'],
        ['/api/v1/events/stats', 'by=user'],
        [KS, 'operation=query&size=1000'],
        [KS, 'operation=statistics'],
        [KS, 'operation=histogram&interval=1m'],
      ];
      const queries = [''];
      for (const param of Object.keys(FILTER_PARAMS))
        for (const v of values(t, param)) queries.push(`${param}=${encodeURIComponent(v)}`);
      for (const q of ['ZZ', 'ZZA', 'ZZB', 'ZZC', 'ns-b', 'wa', 'agent', '10.2']) queries.push(`q=${q}`);
      queries.push(
        'start_time=0',
        // the accepted time range ends at now + the clock-skew allowance (issue 15)
        `end_time=${Math.floor(Date.now() / 1000)}`,
        'start_time=2024-05-01T10:00:00Z&end_time=2024-05-01T11:00:00Z',
      );
      for (const [path, base] of endpoints) for (const q of queries) await same(t, path, q ? `${base}&${q}` : base);
    });

    test(`${t.owner}: an object's history holds its own writes only`, async () => {
      for (const e of EVENTS) {
        const o = e.objectRef!;
        const q = new URLSearchParams({ resource: o.resource!, name: o.name! });
        if (o.namespace) q.set('namespace', o.namespace);
        for (const extra of ['', '&limit=1', `&subresource=${o.subresource ?? ''}`]) {
          const r = await s.get(`/api/v1/objects/history?${q}${extra}`, t.token);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          // the answer names the object asked for: only its items must be the tenant's own
          noLeak(t, `history of ${q}${extra}`, { items: r.body.items });
          const admin = await s.get(`/api/v1/objects/history?${q}${extra}`, 'admin-token');
          const ownIds = admin.body.items
            .map((i: { id: string }) => i.id)
            .filter((id: string) => own.get(t.owner)!.has(id));
          assert.deepEqual(
            r.body.items.map((i: { id: string }) => i.id),
            ownIds,
            `${t.owner}: history of ${q}${extra}`,
          );
        }
      }
    });

    test(`${t.owner}: stats by every field`, async () => {
      for (const by of Object.keys(STATS_BY))
        for (const q of ['', 'q=ZZ', `user_filter=userZZB,userZZA`, 'response_code_filter=418,200,503'])
          await same(t, '/api/v1/events/stats', `by=${by}&size=1000${q ? `&${q}` : ''}`);
    });

    test(`${t.owner}: KubeSphere's cluster path with every cluster and operation`, async () => {
      for (const cluster of ['clusterZZA', 'clusterZZB', 'clusterZZC', 'nope'])
        for (const op of ['query', 'statistics', 'histogram']) {
          const path = `/kapis/clusters/${cluster}/tenant.kubesphere.io/v1alpha2/auditing/events`;
          await same(t, path, `operation=${op}`);
          await same(t, path, `operation=${op}&q=ZZ`);
        }
    });

    test(`${t.owner}: "after" cursors from the admin's pages never reach another tenant's events`, async () => {
      const cursors: string[] = [];
      for (const sort of ['asc', 'desc']) {
        let next: string | undefined;
        do {
          const page: { body: { next?: string } } = await s.get(
            `/api/v1/events?size=1&sort=${sort}${next ? `&after=${encodeURIComponent(next)}` : ''}`,
            'admin-token',
          );
          next = page.body.next;
          if (next) cursors.push(`sort=${sort}&after=${encodeURIComponent(next)}`);
        } while (next);
      }
      assert.equal(cursors.length, 2 * (EVENTS.length - 1));
      for (const c of cursors) {
        for (const size of [1, 1000]) {
          await same(t, '/api/v1/events', `size=${size}&${c}`);
          await same(t, KS, `size=${size}&${c}`);
        }
      }
      // Paging through its own events one by one yields exactly its events, each once.
      const seen: string[] = [];
      let next: string | undefined;
      do {
        const page: { body: { items: StoredEvent[]; next?: string } } = await s.get(
          `/api/v1/events?size=1${next ? `&after=${encodeURIComponent(next)}` : ''}`,
          t.token,
        );
        seen.push(...page.body.items.map((e) => e.id));
        next = page.body.next;
      } while (next);
      assert.deepEqual(seen.sort(), [...own.get(t.owner)!].sort());
    });

    test(`${t.owner}: ids guessed by counting and malformed ids find only its own events`, async () => {
      const all = await s.get('/api/v1/events?size=1000', 'admin-token');
      const max = Math.max(...all.body.items.map((e: StoredEvent) => Number(e.id)));
      const found: string[] = [];
      for (const id of [
        ...Array.from({ length: max + 5 }, (_, i) => String(i)),
        '-1',
        '01',
        '1e0',
        '0x1',
        'abc',
        '%20',
        '1.0',
      ]) {
        const r = await s.get(`/api/v1/events/${id}`, t.token);
        noLeak(t, `get ${id}`, r.body);
        assert.ok(r.status === 404 || r.status === 400 || r.status === 200, `get ${id}: ${r.status}`);
        if (r.status === 200) found.push(r.body.id);
        else assert.ok(!('auditID' in r.body), `get ${id}`);
      }
      assert.deepEqual(found.sort(), [...own.get(t.owner)!].sort());
    });
  }

  test('the live stream, whatever its filters, carries only the tenant’s new events', async () => {
    const filters = [
      '',
      '?q=ZZ',
      '?workspace_filter=wsZZB',
      '?objectref_namespace_filter=ns-b,ns-a',
      '?user_filter=userZZA,userZZB,userZZC',
      '?cluster_filter=clusterZZC',
    ];
    const streams: { t: Tenant; filter: string; got: StoredEvent[]; ac: AbortController; done: Promise<void> }[] = [];
    try {
      for (const t of TENANTS)
        for (const filter of filters) {
          const ac = new AbortController();
          const res = await fetch(`${s.url}/api/v1/events/stream${filter}`, {
            headers: { authorization: `Bearer ${t.token}` },
            signal: ac.signal,
          });
          assert.equal(res.status, 200);
          const st = { t, filter, got: [] as StoredEvent[], ac, done: Promise.resolve() };
          st.done = (async () => {
            try {
              for await (const e of sseEvents(res)) st.got.push(e);
            } catch {}
          })();
          streams.push(st);
        }
      // The stream is live once the server said so; sseEvents skips the comment, so wait on an admin probe.
      const live = [5, 6].flatMap((n) => [ev('A', n), ev('B', n), ev('C', n)]);
      // Markers last: each tenant's catch-all stream must see its own marker, proving the others came before.
      const markers = [ev('A', 7, { verb: 'markerZZA' }), ev('B', 7, { verb: 'markerZZB' })];
      const r = await s.post('/ingest/events', JSON.stringify([...live, ...markers]), {
        'content-type': 'application/json',
        authorization: 'Bearer ingest-token',
      });
      assert.equal(r.status, 200);
      const deadline = Date.now() + 5000;
      for (const st of streams.filter((x) => x.filter === '' || x.filter === '?q=ZZ'))
        while (!st.got.some((e) => e.verb.startsWith('marker'))) {
          if (Date.now() > deadline) throw new Error(`${st.t.owner} stream ${st.filter}: no marker`);
          await new Promise((res) => setTimeout(res, 10));
        }
      for (const st of streams) {
        noLeak(st.t, `stream ${st.filter}`, st.got);
        for (const e of st.got) assert.ok(e.auditID.startsWith(`ZZ${st.t.owner}`), `stream ${st.filter}: ${e.auditID}`);
      }
      const a = streams.find((x) => x.t.owner === 'A' && x.filter === '')!;
      assert.deepEqual(a.got.map((e) => e.auditID).sort(), ['ZZA-id-5', 'ZZA-id-6', 'ZZA-id-7']);
    } finally {
      for (const st of streams) st.ac.abort();
      await Promise.all(streams.map((st) => st.done));
    }
  });
});
