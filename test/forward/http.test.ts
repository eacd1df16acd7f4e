// The HTTP destinations against local receivers that check the documented wire format and answer as the real
// servers do (no Splunk or Elasticsearch runs here): a Standard Webhooks receiver, Splunk HEC's event endpoint and
// Elasticsearch's `_bulk`, including whole-request back-pressure (429/503 with Retry-After) and partial bulk failures.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, test } from 'node:test';
import type { ForwardConfig } from '../../src/config/index.ts';
import { startForwarding } from '../../src/forward/index.ts';
import { standardWebhooksKey, verifyStandardWebhooks } from '../../src/sinks/sign.ts';
import type { Store } from '../../src/store/types.ts';
import { waitFor } from '../helpers/net.ts';
import { event, sqliteStore } from './helpers.ts';

const servers: Server[] = [];
const stores: Store[] = [];
after(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const s of stores) await s.close();
});

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function receiver(handle: Handler): Promise<string> {
  const srv = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => handle(req, body, res));
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function storeWith(n: number): Promise<{ store: Store; ids: string[] }> {
  const store = await sqliteStore();
  stores.push(store);
  return { store, ids: (await store.append(Array.from({ length: n }, () => event()))).ids.map(String) };
}

const forward = (store: Store, c: Record<string, unknown>, log?: { error: (o: object, m: string) => void }) =>
  startForwarding(store, [c as ForwardConfig], {
    pollMs: 50,
    minBackoffMs: 50,
    log: log && { info() {}, warn() {}, error: log.error },
  });

test('webhook: JSON arrays signed as Standard Webhooks; a failed request is sent again with the same webhook-id', async () => {
  const secret = `whsec_${Buffer.from('forward-test-secret').toString('base64')}`;
  const key = standardWebhooksKey(secret);
  const got: { id: string; events: Record<string, unknown>[] }[] = [];
  let answers = [500, 429];
  const url = await receiver((req, body, res) => {
    const h = { id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']) };
    const ok =
      req.method === 'POST' &&
      req.headers['content-type'] === 'application/json' &&
      verifyStandardWebhooks(key, { ...h, signature: String(req.headers['webhook-signature']) }, body);
    if (!ok) return json(res, 401, { error: 'bad signature' });
    const status = answers.shift();
    got.push({ id: h.id, events: status ? [] : JSON.parse(body) });
    if (status) return json(res, status, { error: 'try later' }, status === 429 ? { 'retry-after': '1' } : {});
    json(res, 204, {});
  });
  const { store, ids } = await storeWith(30);
  const fwd = forward(store, { type: 'http', name: 'hook', url: `${url}/vigil`, secret, batchSize: 10 });
  try {
    await waitFor('every event', () => got.flatMap((g) => g.events).length >= 30, 20_000);
    assert.deepEqual(
      got.flatMap((g) => g.events.map((e) => e.auditID)),
      await Promise.all(ids.map(async (id) => (await store.get(id))!.auditID)),
    );
    assert.equal(got[0]!.id, got[2]!.id, 'the same batch, the same webhook-id');
    assert.equal(fwd.status()[0]!.failed, 2);
  } finally {
    answers = [];
    await fwd.stop();
  }
});

test('Splunk HEC: events with time and sourcetype, Authorization: Splunk <token>; 503 busy waits and retries', async () => {
  const events: Record<string, unknown>[] = [];
  let busy = 1;
  const url = await receiver((req, body, res) => {
    if (req.url !== '/services/collector/event') return json(res, 404, { text: 'Not Found', code: 404 });
    if (!req.headers.authorization) return json(res, 401, { text: 'Token is required', code: 2 });
    if (req.headers.authorization !== 'Splunk 0f1e2d3c') return json(res, 403, { text: 'Invalid token', code: 4 });
    const objects = body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const bad = objects.findIndex((o) => o.event === undefined);
    if (bad >= 0) return json(res, 400, { text: 'Event field is required', code: 12, 'invalid-event-number': bad });
    if (objects.some((o) => typeof o.time !== 'number'))
      return json(res, 400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
    if (busy-- > 0) return json(res, 503, { text: 'Server is busy', code: 9 }, { 'retry-after': '1' });
    events.push(...objects);
    json(res, 200, { text: 'Success', code: 0 });
  });
  const { store, ids } = await storeWith(25);
  const fwd = forward(store, {
    type: 'http',
    api: 'splunk-hec',
    name: 'splunk',
    url: `${url}/services/collector/event`,
    token: '0f1e2d3c',
    index: 'k8s_audit',
    format: 'ocsf',
  });
  try {
    await waitFor('every event', () => events.length >= 25, 20_000);
    assert.equal(events.length, 25);
    const first = (await store.get(ids[0]!))!;
    assert.equal(events[0]!.time, Date.parse(first.requestReceivedTimestamp) / 1000);
    assert.equal(events[0]!.sourcetype, 'vigil:audit:ocsf');
    assert.equal(events[0]!.index, 'k8s_audit');
    assert.equal((events[0]!.event as Record<string, unknown>).class_uid, 6003);
    assert.equal(fwd.status()[0]!.failed, 1);
  } finally {
    await fwd.stop();
  }
});

test('Elasticsearch _bulk: create with the event id as _id; refused items retried one by one, stored once', async () => {
  const docs = new Map<string, Record<string, unknown>>();
  let requests = 0;
  const permanentlyBad = new Set<string>();
  const url = await receiver((req, body, res) => {
    requests++;
    if (req.url !== '/_bulk' || req.headers['content-type'] !== 'application/x-ndjson')
      return json(res, 400, { error: 'want POST /_bulk with application/x-ndjson' });
    if (req.headers.authorization !== 'ApiKey a2V5') return json(res, 401, { error: 'unauthorized' });
    // the whole cluster busy once
    if (requests === 1)
      return json(
        res,
        429,
        { error: { type: 'es_rejected_execution_exception' }, status: 429 },
        { 'retry-after': '1' },
      );
    assert.ok(body.endsWith('\n'), 'a bulk body ends with a newline');
    const lines = body.slice(0, -1).split('\n');
    assert.equal(lines.length % 2, 0);
    const items: unknown[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i]!) as { create?: { _index: string; _id: string } };
      assert.ok(action.create?._index && action.create._id, lines[i]);
      const doc = JSON.parse(lines[i + 1]!) as Record<string, unknown>;
      assert.ok(typeof doc['@timestamp'] === 'string');
      const key = `${action.create._index}/${action.create._id}`;
      const base = { _index: action.create._index, _id: action.create._id };
      if (permanentlyBad.has(action.create._id))
        items.push({ create: { ...base, status: 400, error: { type: 'mapper_parsing_exception' } } });
      // the second request: every third item refused for load
      else if (requests === 2 && (i / 2) % 3 === 0)
        items.push({ create: { ...base, status: 429, error: { type: 'es_rejected_execution_exception' } } });
      else if (docs.has(key))
        items.push({ create: { ...base, status: 409, error: { type: 'version_conflict_engine_exception' } } });
      else {
        docs.set(key, doc);
        items.push({ create: { ...base, _version: 1, result: 'created', status: 201 } });
      }
    }
    json(res, 200, {
      took: 1,
      errors: items.some((it) => (it as { create: { status: number } }).create.status > 299),
      items,
    });
  });
  const { store, ids } = await storeWith(40);
  permanentlyBad.add(ids[5]!);
  const refused: object[] = [];
  const fwd = forward(
    store,
    {
      type: 'http',
      api: 'elasticsearch-bulk',
      name: 'es',
      url,
      token: 'a2V5',
      index: 'vigil-audit',
      format: 'ocsf',
    },
    { error: (o) => refused.push(o) },
  );
  try {
    await waitFor('every event but the bad one', () => docs.size >= 39, 20_000);
    await waitFor('the cursor at the head', () => fwd.status()[0]!.lagEvents === 0);
    // retried items land after the others (Elasticsearch keeps no order anyway: documents sort by their time)
    assert.deepEqual(
      new Set(docs.keys()),
      new Set(ids.filter((id) => !permanentlyBad.has(id)).map((id) => `vigil-audit/${id}`)),
    );
    assert.equal(docs.get(`vigil-audit/${ids[0]}`)!.class_uid, 6003);
    assert.equal(refused.length, 1);
    assert.match(JSON.stringify(refused[0]), new RegExp(`${ids[5]}: 400 .*mapper_parsing_exception`));
    // resent from the start: 409 for every one, nothing stored twice
    await fwd.reset('es', Date.now() - 3_600_000);
    const before = requests;
    await waitFor('the replay sent', () => requests > before && fwd.status()[0]!.lagEvents === 0, 20_000);
    assert.equal(docs.size, 39);
  } finally {
    await fwd.stop();
  }
});
