// Hostile times (issue 15, item 1): one accepted time range (1970 … now + the clock-skew allowance) on every way in
// and for query times, one timestamp parser for both, no query depending on the whole table's extreme rows, and a
// store that already holds a far row (stored by an older version) still answering and running retention — on
// SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { connect } from 'amqplib';
import { parseConfig } from '../../src/config/index.ts';
import { DEFAULT_DECODE_LIMITS } from '../../src/event/index.ts';
import { FORMATS } from '../../src/ingest/formats.ts';
import { Ingestor } from '../../src/ingest/pipeline.ts';
import { openStore } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL, withAdmin } from '../helpers/postgres.ts';
import { event, startTestServer, type TestServer, until } from '../server/helpers.ts';

const FAR = ['9999-12-31T23:59:59.999999Z', '0000-01-01T00:00:00Z', '2256-01-01T00:00:00Z', '1969-12-31T23:59:59Z'];
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const hoursFromNow = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

describe('the accepted time range on every way in', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.stop());

  const total = async () => (await s.get('/api/v1/events?size=1')).body.total as number;

  test('a far requestReceivedTimestamp or stageTimestamp is a 400 naming the field, on each HTTP path', async () => {
    for (const t of [...FAR, hoursFromNow(2)]) {
      const list = {
        kind: 'EventList',
        apiVersion: 'audit.k8s.io/v1',
        items: [event({ auditID: 'a', requestReceivedTimestamp: t })],
      };
      let r = await s.post('/audit/webhook/event', JSON.stringify(list));
      assert.equal(r.status, 400, `${t}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.field, 'items[0].requestReceivedTimestamp', JSON.stringify(r.body));
      r = await s.post('/ingest/events', JSON.stringify([event({ auditID: 'b', stageTimestamp: t })]));
      assert.equal(r.status, 400, `${t}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.field, /stageTimestamp$/);
      const cadf = fixture('cadf-response-notification.json');
      cadf.payload.eventTime = t;
      r = await s.post('/ingest/cadf', JSON.stringify(cadf));
      assert.equal(r.status, 400, `${t}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.field, /Timestamp$/);
      const openfaas = fixture('openfaas-delivery.json');
      openfaas[0].time = t;
      r = await s.post('/ingest/openfaas', JSON.stringify(openfaas));
      assert.equal(r.status, 400, `${t}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.field, '[0].requestReceivedTimestamp', JSON.stringify(r.body));
    }
    assert.equal(await total(), 0);
  });

  test('the range is 1970 … now + 1 h by default: an old import and a slightly fast clock are accepted', async () => {
    const r = await s.post(
      '/ingest/events',
      JSON.stringify([
        event({
          auditID: 'epoch',
          requestReceivedTimestamp: '1970-01-01T00:00:00Z',
          stageTimestamp: '1970-01-01T00:00:01Z',
        }),
        event({ auditID: 'fast', requestReceivedTimestamp: hoursFromNow(0.5), stageTimestamp: hoursFromNow(0.5) }),
      ]),
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.inserted, 2);
  });

  test('ingest.limits.maxClockSkew moves the upper bound', () => {
    const config = parseConfig('ingest:\n  limits:\n    maxClockSkew: 3h\n', 'vigil.yaml', {});
    assert.equal(config.ingest.limits.maxClockSkew, 3 * 3_600_000);
    const ingestor = new Ingestor(s.store, {}, undefined, { limits: config.ingest.limits });
    const body = JSON.stringify([
      event({ auditID: 'x', requestReceivedTimestamp: hoursFromNow(2), stageTimestamp: hoursFromNow(2) }),
    ]);
    assert.equal(ingestor.decode(FORMATS.events, body).length, 1);
    assert.equal(DEFAULT_DECODE_LIMITS.maxClockSkew, 3_600_000);
  });

  test('query times: the same parser and range; 2024-02-30 is not 1 March', async () => {
    for (const [param, v] of [
      ['start_time', '2024-02-30T00:00:00Z'],
      ['start_time', '9999-12-31T23:59:59Z'],
      ['end_time', '0000-01-01T00:00:00Z'],
      ['end_time', '1969-12-31T23:59:59Z'],
      ['start_time', String(Math.floor(Date.now() / 1000) + 86_400)],
      ['end_time', '253402300799'],
    ] as const) {
      for (const p of [
        '/api/v1/events',
        '/api/v1/events/histogram',
        '/api/v1/events/stats',
        '/api/v1/alerts',
        '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events',
      ]) {
        const r = await s.get(`${p}?${param}=${encodeURIComponent(v)}`);
        if (p === '/api/v1/alerts' && r.status === 404) continue; // no rules, no alerts API
        assert.equal(r.status, 400, `${p} ${param}=${v}: ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.field, param, JSON.stringify(r.body));
      }
    }
    const r = await s.get('/api/v1/events?start_time=2024-02-29T00:00:00Z&end_time=2024-03-01T00:00:00.5Z');
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  test('vigil import refuses a file with a far time, naming line and field, storing nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hostile-time-'));
    try {
      const file = path.join(dir, 'audit.log');
      writeFileSync(
        file,
        `${JSON.stringify(event({ auditID: 'ok', verb: 'create' }))}\n${JSON.stringify(event({ auditID: 'far', verb: 'create', requestReceivedTimestamp: FAR[0] }))}\n`,
      );
      const r = await vigil(['import', '--data', dir, file]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /line 2: requestReceivedTimestamp: .* is later than now plus the clock-skew allowance/);
      const store = await openStore({ type: 'sqlite', path: path.join(dir, 'vigil.db') });
      try {
        assert.equal((await store.query({}, { sort: 'desc', size: 0 })).total, 0);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('the AMQP source (RabbitMQ) rejects a far eventTime without requeue, stores nothing, and goes on', async () => {
  const exchange = `vigil-hostile-time-${randomUUID()}`;
  const queue = `vigil-hostile-time-q-${randomUUID()}`;
  const url = 'amqp://guest:guest@127.0.0.1:5672';
  const conn = await connect(url);
  const ch = await conn.createChannel();
  const s = await startTestServer(
    `ingest:\n  amqp:\n    - { url: '${url}', exchange: ${exchange}, topic: notifications, queue: ${queue} }\n`,
  );
  try {
    await s.amqp[0]!.connected();
    const publish = (id: string, eventTime?: string) => {
      const n = fixture('cadf-response-notification.json');
      n.payload.id = id;
      if (eventTime) n.payload.eventTime = eventTime;
      ch.publish(exchange, 'notifications.info', Buffer.from(JSON.stringify(n)));
    };
    publish('far', FAR[0]);
    publish('early', FAR[1]);
    publish('after');
    const total = async (q: string) => (await s.get(`/api/v1/events?size=1&${q}`)).body.total as number;
    await until(async () => (await total('audit_id_filter=after')) === 1, 'the good message after the far ones');
    await until(async () => (await ch.checkQueue(queue)).messageCount === 0, 'the queue to drain');
    assert.match((await s.get('/metrics')).body, /vigil_ingest_rejected_total\{path="amqp",reason="undecodable"\} 2/);
    assert.equal(await total(''), 1);
  } finally {
    await s.stop();
    await ch.deleteQueue(queue).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await conn.close();
  }
});

// A row written by an older version, which accepted any four-digit year: its received time is beyond the exact JS
// integers (year 9999: 2.5e17 µs; year 0000: -6.2e16 µs).
const POISON = { far: 253402300799999999n, early: -62167219200000000n };

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`a ${kind} store already holding far rows answers and keeps its retention`, () => {
    let s: TestServer;
    const schema = `vigil_hostile_time_${process.pid}_${Date.now() % 1e6}`;
    /** Sets a stored event's received time directly, as an older version stored it. */
    let poison: (auditID: string, received: bigint) => Promise<void>;
    before(async () => {
      if (kind === 'postgres') await dropSchema(schema);
      s = await startTestServer(
        kind === 'postgres' ? `storage:\n  type: postgres\n  url: ${PG_URL}\n  schema: ${schema}\n` : '',
      );
      const recent = new Date(Date.now() - 60_000).toISOString();
      const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
      const events = [
        event({ auditID: 'old', requestReceivedTimestamp: old, stageTimestamp: old }),
        event({ auditID: 'recent', requestReceivedTimestamp: recent, stageTimestamp: recent }),
        event({ auditID: 'far', objectRef: { resource: 'pods', namespace: 'team' } }),
        event({ auditID: 'early', objectRef: { resource: 'pods', namespace: 'team' } }),
      ];
      const r = await s.post('/ingest/events', JSON.stringify(events));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      if (kind === 'sqlite') {
        const db = new DatabaseSync(path.join(s.dir, 'vigil.db'));
        db.exec('PRAGMA busy_timeout = 5000');
        poison = async (auditID, received) => {
          // its minute moves with it, as an older version would have counted it
          db.prepare(
            'UPDATE event_minutes SET n = n - 1 WHERE minute = (SELECT received / 60000000 FROM events WHERE audit_id = ?)',
          ).run(auditID);
          db.prepare('UPDATE events SET received = ? WHERE audit_id = ?').run(received, auditID);
          db.prepare('INSERT OR REPLACE INTO event_minutes (minute, n) VALUES (?, 1)').run(received / 60_000_000n);
        };
        after(() => db.close());
      } else {
        poison = (auditID, received) =>
          withAdmin(async (c) => {
            await c.query(`SET search_path TO "${schema}"`);
            await c.query(
              `INSERT INTO event_minutes (minute, shard, n) SELECT div(received, 60000000), 0, -1 FROM events
               WHERE audit_id = $1 ON CONFLICT (minute, shard) DO UPDATE SET n = event_minutes.n - 1`,
              [auditID],
            );
            await c.query('UPDATE events SET received = $1 WHERE audit_id = $2', [String(received), auditID]);
            await c.query('INSERT INTO event_minutes (minute, shard, n) VALUES ($1, 0, 1) ON CONFLICT DO NOTHING', [
              String(received / 60_000_000n),
            ]);
          });
      }
      await poison('far', POISON.far);
      await poison('early', POISON.early);
    });
    after(async () => {
      await s.stop();
      if (kind === 'postgres') await dropSchema(schema);
    });

    test('lists, histograms, stats and KubeSphere answer 200, with and without a time range', async () => {
      const since = Math.floor(Date.now() / 1000) - 3600;
      for (const p of [
        '/api/v1/events',
        '/api/v1/events?sort=asc',
        '/api/v1/events?objectref_namespace_filter=team',
        '/api/v1/events/histogram',
        '/api/v1/events/histogram?interval=1m',
        '/api/v1/events/histogram?interval=1s',
        `/api/v1/events/histogram?interval=1m&start_time=${since}`,
        '/api/v1/events/histogram?interval=1d&objectref_namespace_filter=default',
        '/api/v1/events/stats',
        '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events?operation=histogram&interval=1m',
        '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events?operation=statistics',
        '/kapis/tenant.kubesphere.io/v1alpha2/auditing/events',
      ]) {
        const r = await s.get(p);
        // a 1 s histogram over the stored years is legitimately too many buckets: a 400, never a 500
        if (p.endsWith('interval=1s')) assert.ok(r.status === 200 || r.status === 400, `${p}: ${r.status}`);
        else assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.body)}`);
      }
      const h = await s.get(`/api/v1/events/histogram?interval=1m&start_time=${since}`);
      assert.equal(h.body.total, 1, JSON.stringify(h.body));
      // pages walk past the far rows with their cursors
      let next: string | undefined;
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await s.get(`/api/v1/events?size=1${next ? `&after=${next}` : ''}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        seen.push(...r.body.items.map((e: { auditID: string }) => e.auditID));
        next = r.body.next;
        if (!next) break;
      }
      assert.deepEqual(seen.sort(), ['early', 'far', 'old', 'recent']);
    });

    test('retention deletes past the early row and the old one, keeping the recent', async () => {
      const deleted = await s.store.deleteBefore(Date.now() - 86_400_000, 1);
      assert.equal(deleted, 1);
      let more = 1;
      for (let i = 0; i < 5 && more > 0; i++) more = await s.store.deleteBefore(Date.now() - 86_400_000, 1);
      const r = await s.get('/api/v1/events');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.items.map((e: { auditID: string }) => e.auditID).sort(), ['far', 'recent']);
    });
  });
}

test('vigil migrate-data copies what a store can keep and leaves far rows behind, saying so', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hostile-time-'));
  const schema = `vigil_hostile_time_m${process.pid}`;
  await dropSchema(schema);
  try {
    const file = path.join(dir, 'vigil.db');
    const store = await openStore({ type: 'sqlite', path: file });
    await store.append([event({ auditID: 'ok' }), event({ auditID: 'far' }), event({ auditID: 'early' })]);
    await store.close();
    const db = new DatabaseSync(file);
    db.prepare('UPDATE events SET received = ? WHERE audit_id = ?').run(POISON.far, 'far');
    db.prepare('UPDATE events SET received = ? WHERE audit_id = ?').run(POISON.early, 'early');
    db.close();
    const r = await vigil(['migrate-data', '--from', `sqlite:${file}`, '--to', PG_URL, '--schema', schema]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /2 source events have a time outside 1970…2255/);
    assert.match(r.out, /1 events in the source, 1 stored by this run/);
  } finally {
    await dropSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }
});
