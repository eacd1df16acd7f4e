// Two `vigil serve` collectors on one PostgreSQL schema (each test its own, dropped afterwards): ingest on one and
// query on the other, live tail across them, retention that runs once, one alert per event, and no event lost or
// stored twice when PostgreSQL kills the collectors' connections in the middle of an ingest.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { openPostgresAlertStore } from '../../src/alerts/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import type { PostgresStore } from '../../src/store/index.ts';
import { faultAuditID } from '../fault/events.ts';
import { type Child, kill, startCollector, startProducer } from '../fault/helpers.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { dropSchema, PG_URL, randomSchema, withAdmin } from '../helpers/postgres.ts';
import { event } from '../server/fixtures.ts';
import { falcoEvents } from '../server/helpers.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };

interface Collector extends RunningServer {
  /** The collector's log lines (pino JSON), for what it reports doing. */
  logs: { msg: string; [k: string]: unknown }[];
}

interface Cluster {
  schema: string;
  /** `application_name` of every connection the collectors open, to tell them from other tests' ones. */
  app: string;
  collectors: Collector[];
}

/** Starts `n` collectors on free ports sharing one fresh schema; stops them and drops the schema afterwards. */
async function withCluster(n: number, yaml: string, fn: (c: Cluster) => Promise<void>): Promise<void> {
  const schema = randomSchema();
  const app = `vigil-cluster-${randomBytes(4).toString('hex')}`;
  const url = `${PG_URL}?application_name=${app}`;
  const text = `${/^rules:/m.test(yaml) ? '' : 'rules:\n  enabled: false\n'}storage:\n  type: postgres\n  url: "${url}"\n  schema: ${schema}\n  poolSize: 4\n${yaml}`;
  const collectors: Collector[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const logs: Collector['logs'] = [];
      const stream = new Writable({
        write(chunk, _enc, done) {
          for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
          done();
        },
      });
      const config = parseConfig(text, 'cluster.yaml', { listen: '127.0.0.1:0' });
      const s = await startServer(config, { logger: { level: 'info', stream }, retentionIntervalMs: 3_600_000 });
      collectors.push(Object.assign(s, { logs }));
    }
    await fn({ schema, app, collectors });
  } finally {
    await Promise.all(collectors.map((c) => c.close()));
    await dropSchema(schema);
  }
}

const post = (c: RunningServer, body: unknown) =>
  fetch(`${c.url}/audit/webhook/event`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });

// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
const get = async (c: RunningServer, p: string): Promise<any> => {
  const r = await fetch(c.url + p);
  assert.equal(r.status, 200, p);
  return r.json();
};

const eventList = (items: AuditEvent[]) => ({
  kind: 'EventList',
  apiVersion: 'audit.k8s.io/v1',
  items: items.map(({ source: _s, ...e }) => e),
});

test('ingest on one collector, query on the other: the same totals, items, histogram and stats', async () => {
  await withCluster(2, '', async ({ collectors: [a, b] }) => {
    const items = falcoEvents();
    // The data holds two retried deliveries of one (auditID, stage): stored once.
    const unique = new Set(items.map((e) => `${e.auditID}/${e.stage}`)).size;
    const r = await post(a!, { kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items });
    assert.equal(r.status, 200, await r.text());
    for (const p of [
      '/api/v1/events?size=100&sort=asc',
      '/api/v1/events?size=10&verb_filter=create',
      '/api/v1/events/histogram?interval=1d',
      '/api/v1/events/stats',
    ]) {
      const fromA = await get(a!, p);
      const fromB = await get(b!, p);
      assert.deepEqual(fromB, fromA, p);
    }
    const page = await get(b!, '/api/v1/events?size=100');
    assert.equal(page.total, unique);
    assert.deepEqual(new Set(page.items.map((e: AuditEvent) => e.auditID)), new Set(items.map((e) => e.auditID)));
    // The same batch retried on the other collector stores nothing twice.
    await post(b!, { kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items });
    assert.equal((await get(a!, '/api/v1/events?size=1')).total, unique);
  });
});

test('live tail on one collector streams an event ingested on the other', async () => {
  await withCluster(2, '', async ({ collectors: [a, b] }) => {
    const ac = new AbortController();
    const res = await fetch(`${b!.url}/api/v1/events/stream?verb_filter=delete`, { signal: ac.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const read = async (until: (t: string) => boolean) => {
      const deadline = setTimeout(() => ac.abort(), 10_000);
      try {
        while (!until(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
      } finally {
        clearTimeout(deadline);
      }
      assert.ok(until(text), `stream so far: ${text}`);
    };
    try {
      await read((t) => t.includes(': subscribed'));
      // The store's LISTEN connection is up: every batch stored from now on reaches B's subscribers.
      await (b!.store as PostgresStore).listening();
      const e = event({ auditID: 'tail-across', verb: 'delete' });
      const skipped = event({ auditID: 'tail-filtered', verb: 'get' });
      assert.equal((await post(a!, eventList([skipped, e]))).status, 200);
      await read((t) => t.includes('"auditID":"tail-across"'));
      assert.ok(!text.includes('tail-filtered'), 'the stream filter applies to events from other collectors');
      const data = text.split('\n').find((l) => l.startsWith('data: '))!;
      const streamed = JSON.parse(data.slice(6));
      const stored = await get(b!, `/api/v1/events/${streamed.id}`);
      assert.equal(stored.auditID, 'tail-across');
    } finally {
      ac.abort();
      await reader.cancel().catch(() => {});
    }
  });
});

test('retention runs on one collector at a time: a pass held elsewhere is skipped, the next deletes once', async () => {
  await withCluster(2, 'retention: 1h\n', async ({ schema, collectors: [a, b] }) => {
    const old = Date.now() - 2 * 86_400_000;
    const items = Array.from({ length: 30 }, (_, i) => {
      const t = new Date(old + i * 1000).toISOString();
      return event({ auditID: `old-${i}`, requestReceivedTimestamp: t, stageTimestamp: t });
    });
    const now = new Date().toISOString();
    const fresh = event({ auditID: 'fresh', requestReceivedTimestamp: now, stageTimestamp: now });
    assert.equal((await post(a!, eventList([...items, fresh]))).status, 200);
    const passes = () => [a!, b!].flatMap((c) => c.logs.filter((l) => l.msg === 'retention pass'));

    // Another collector's pass in progress (its lock held): neither of these runs one.
    await withAdmin(async (admin) => {
      await admin.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`${schema}:job:retention`]);
      try {
        assert.deepEqual(await Promise.all([a!.retention.runOnce(), b!.retention.runOnce()]), [0, 0]);
      } finally {
        await admin.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`${schema}:job:retention`]);
      }
    });
    assert.deepEqual(passes(), []);
    assert.equal((await get(b!, '/api/v1/events?size=1')).total, 31);

    const deleted = await Promise.all([a!.retention.runOnce(), b!.retention.runOnce()]);
    assert.equal(deleted[0]! + deleted[1]!, 30);
    // Every old event was deleted by one pass; a pass that ran after it found nothing left.
    const logged = passes().map((l) => l.deleted);
    assert.ok(logged.length >= 1 && logged.length <= 2, JSON.stringify(logged));
    assert.deepEqual(
      logged.filter((d) => d !== 0),
      [30],
    );
    const left = await get(a!, '/api/v1/events?size=10');
    assert.deepEqual(
      left.items.map((e: AuditEvent) => e.auditID),
      ['fresh'],
    );
  });
});

function hostNetworkPod(auditID: string): AuditEvent {
  return event({
    auditID,
    verb: 'create',
    requestURI: '/api/v1/namespaces/demo/pods',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    objectRef: { resource: 'pods', namespace: 'demo', name: `web-${auditID}`, apiVersion: 'v1' },
    level: 'Request',
    requestObject: { kind: 'Pod', spec: { hostNetwork: true, containers: [{ name: 'c', image: 'nginx' }] } },
    responseStatus: { metadata: {}, code: 201 },
  });
}

test('one alert per event when both collectors receive the same retried batch', async () => {
  const received: { auditID: string; rule: string }[] = [];
  const hook: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      for (const a of JSON.parse(body).items) received.push({ auditID: a.auditID, rule: a.rule });
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  try {
    await withCluster(
      2,
      `rules:\n  enabled: true\nreceivers:\n  - { name: hook, type: webhook, url: "${url}" }\n`,
      async ({ schema, collectors: [a, b] }) => {
        const batch = eventList(['p1', 'p2', 'p3'].map(hostNetworkPod));
        // The producer retries (say, after a timeout) on the other collector, and again on the first.
        const replies = await Promise.all([post(a!, batch), post(b!, batch), post(a!, batch)]);
        for (const r of replies) assert.equal(r.status, 200, await r.text());
        for (const c of [a!, b!]) assert.equal((await get(c, '/api/v1/alerts')).total, 3);
        await waitFor('three alerts delivered', () => received.length >= 3);
        // Nothing left to send anywhere: every stored delivery was sent and removed.
        const alerts = await openPostgresAlertStore({ url: PG_URL, schema, poolSize: 1 });
        try {
          await waitFor('no pending deliveries', async () => (await alerts.nextDue()) === undefined);
        } finally {
          await alerts.close();
        }
        await Promise.all([a!.close(), b!.close()]); // waits for a send in progress, if any
        assert.deepEqual(received.map((r) => r.auditID).sort(), ['p1', 'p2', 'p3']);
        assert.equal(new Set(received.map((r) => r.rule)).size, 1);
      },
    );
  } finally {
    await new Promise((r) => hook.close(r));
  }
});

test('killing the collectors database connections mid-ingest loses nothing: every event lands once', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cluster-kill-'));
  const producers: Child[] = [];
  try {
    await withCluster(2, '', async ({ schema, app, collectors: [a, b] }) => {
      const N = 1000;
      // One producer per collector, each with its own events, retrying and spooling as a capture sink does.
      producers.push(
        startProducer([
          `${a!.url}/audit/webhook/event`,
          path.join(dir, 'spool-a'),
          String(N),
          JSON.stringify({ perTick: 25 }),
        ]),
        startProducer([
          `${b!.url}/audit/webhook/event`,
          path.join(dir, 'spool-b'),
          String(N),
          JSON.stringify({ perTick: 25, first: N }),
        ]),
      );
      const stored = () =>
        withAdmin(async (c) => Number((await c.query(`SELECT count(*) AS n FROM "${schema}".events`)).rows[0].n));
      let kills = 0;
      for (const at of [200, 700, 1200]) {
        await waitFor(`${at} events stored`, async () => (await stored()) >= at, 30_000);
        kills += await withAdmin(
          async (c) =>
            (
              await c.query(
                'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1',
                [app],
              )
            ).rows[0].n,
        );
      }
      assert.ok(Number(kills) > 0, 'some connections were killed');
      for (const p of producers) {
        const code = await Promise.race([
          p.exited,
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('producer did not finish')), 60_000).unref()),
        ]);
        assert.equal(code, 0, p.output());
      }
      const counts = await withAdmin(
        async (c) =>
          new Map(
            (await c.query(`SELECT audit_id, count(*)::int AS n FROM "${schema}".events GROUP BY audit_id`)).rows.map(
              (r) => [r.audit_id as string, r.n as number],
            ),
          ),
      );
      const lost = Array.from({ length: 2 * N }, (_, i) => faultAuditID(i)).filter((id) => !counts.has(id));
      const twice = [...counts].filter(([, n]) => n !== 1);
      assert.deepEqual(lost, [], 'no event lost');
      assert.deepEqual(twice, [], 'no event stored twice');
      assert.equal(counts.size, 2 * N);
      // And both collectors answer queries again on fresh connections.
      assert.equal((await get(a!, '/api/v1/events?size=1')).total, 2 * N);
      assert.equal((await get(b!, '/api/v1/events?size=1')).total, 2 * N);
    });
  } finally {
    for (const p of producers) await kill(p);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil serve processes: --storage-url points two collectors at one database; ingest on one, query the other', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-cluster-cli-'));
  const schema = randomSchema();
  const children: Child[] = [];
  try {
    // The file names a database that does not exist: --storage-url replaces it, keeping schema and poolSize.
    const file = path.join(dir, 'vigil.yaml');
    writeFileSync(
      file,
      `rules: { enabled: false }\nstorage: { type: postgres, url: "postgres://nobody@127.0.0.1:1/none", schema: ${schema}, poolSize: 2 }\n`,
    );
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      children.push(
        await startCollector(url, ['--config', file, '--listen', `127.0.0.1:${port}`, '--storage-url', PG_URL]),
      );
      urls.push(url);
    }
    const r = await fetch(`${urls[0]}/audit/webhook/event`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(eventList([event({ auditID: 'cli-1' }), event({ auditID: 'cli-2' })])),
    });
    assert.equal(r.status, 200, await r.text());
    const page = (await (await fetch(`${urls[1]}/api/v1/events?size=10&sort=asc`)).json()) as { items: AuditEvent[] };
    assert.deepEqual(
      page.items.map((e) => e.auditID),
      ['cli-1', 'cli-2'],
    );
  } finally {
    for (const c of children) await kill(c);
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }
});
