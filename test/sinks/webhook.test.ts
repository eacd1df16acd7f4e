import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { Registry } from '../../src/metrics/registry.ts';
import { createSink } from '../../src/sinks/create.ts';
import { standardWebhooksKey, verifyHmacSha256Hex, verifyStandardWebhooks } from '../../src/sinks/sign.ts';
import { DeliveryError, type SinkLogger, type WebhookSinkConfig } from '../../src/sinks/types.ts';
import { parseRetryAfter } from '../../src/sinks/util.ts';
import { captureLogger, events, receiver, tempDir, waitFor } from './helpers.ts';

const quiet: SinkLogger = { warn() {}, error() {} };
const fast = { initialBackoffMs: 2, factor: 1.5, jitter: 0.2, maxAttempts: 3 };

function sinkOf(config: Omit<WebhookSinkConfig, 'type'>, logger = quiet) {
  return createSink({ type: 'webhook', ...config }, { registry: new Registry(), logger });
}

/** A port nothing listens on (listened on, then closed), for an endpoint that is down. */
async function deadPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function missing(expected: AuditEvent[], delivered: string[]): string[] {
  const got = new Set(delivered);
  return expected.map((e) => e.auditID).filter((id) => !got.has(id));
}

test('batch mode posts EventLists of maxBatchSize events, in order, the rest on flush', async (t) => {
  const r = await receiver(t);
  const sink = await sinkOf({
    url: r.url,
    batch: { maxBatchSize: 4, maxWaitMs: 60_000, throttle: false, maxInFlight: 1 },
  });
  const all = events(0, 10);
  for (const e of all) await sink.write([e]);
  await waitFor(() => r.requests.length === 2, 'two full batches');
  await sink.flush();
  assert.deepEqual(
    r.requests.map((q) => JSON.parse(q.body.toString()).items.length),
    [4, 4, 2],
  );
  assert.deepEqual(
    r.delivered(),
    all.map((e) => e.auditID),
  );
  const first = JSON.parse(r.requests[0]!.body.toString());
  assert.equal(first.kind, 'EventList');
  assert.equal(first.apiVersion, 'audit.k8s.io/v1');
  assert.equal(r.requests[0]!.headers['content-type'], 'application/json');
  const m = sink.metrics.snapshot();
  assert.equal(m.events, 10);
  assert.equal(m.delivered, 10);
  assert.equal(m.batches, 3);
  await sink.close();
});

test('a partial batch goes out after maxWait without a flush', async (t) => {
  const r = await receiver(t);
  const sink = await sinkOf({ url: r.url, batch: { maxBatchSize: 100, maxWaitMs: 20, throttle: false } });
  await sink.write(events(0, 3));
  await waitFor(() => r.requests.length === 1, 'the timed batch');
  assert.equal(r.delivered().length, 3);
  await sink.close();
});

test('OpenFaaS delivery: JSON array, api_access, HMAC of the raw body, stable delivery id across retries', async (t) => {
  const secret = 'shared-secret';
  const swSecret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const r = await receiver(t, (_q, n) => ({ status: n === 0 ? 500 : 200 }));
  const sink = await sinkOf({
    url: r.url,
    mode: 'blocking',
    body: 'openfaas',
    secret,
    standardWebhooks: { secret: swSecret },
    retry: fast,
  });
  await sink.write(events(0, 2));
  assert.equal(r.requests.length, 2, 'one failure, one retry');
  const [a, b] = r.requests as [(typeof r.requests)[0], (typeof r.requests)[0]];
  for (const q of [a, b]) {
    const body = JSON.parse(q.body.toString());
    assert.ok(Array.isArray(body) && body.length === 2);
    assert.equal(body[0].path, '/api/v1/namespaces/default/pods/p0');
    assert.equal(q.headers['x-openfaas-event'], 'api_access');
    assert.match(q.headers['x-openfaas-delivery'] as string, /^[0-9a-f-]{36}$/);
    assert.ok(verifyHmacSha256Hex(secret, q.body, q.headers['x-openfaas-signature-256'] as string));
    assert.ok(
      verifyStandardWebhooks(
        standardWebhooksKey(swSecret),
        {
          id: q.headers['webhook-id'] as string,
          timestamp: q.headers['webhook-timestamp'] as string,
          signature: q.headers['webhook-signature'] as string,
        },
        q.body,
      ),
    );
  }
  assert.equal(a.headers['x-openfaas-delivery'], b.headers['x-openfaas-delivery'], 'a retry keeps the delivery id');
  assert.equal(a.headers['webhook-id'], b.headers['webhook-id']);
  assert.ok(!verifyHmacSha256Hex('wrong', a.body, a.headers['x-openfaas-signature-256'] as string));
  await sink.close();
});

test('429 and 503 are retried after Retry-After (not the 60 s backoff); 500 with backoff', async (t) => {
  const replies = [
    { status: 429, headers: { 'retry-after': '0' } },
    { status: 503, headers: { 'retry-after': '0' } },
    { status: 500 },
    { status: 200 },
  ];
  const r = await receiver(t, (_q, n) => replies[n] ?? { status: 200 });
  // initialBackoff is 60 s: only honouring Retry-After lets the two retries happen within the test's
  // time; the 500 is the third and last attempt, so its backoff is never waited out.
  const sink = await sinkOf({
    url: r.url,
    mode: 'blocking-strict',
    retry: { initialBackoffMs: 60_000, maxAttempts: 3 },
  });
  await assert.rejects(sink.write(events(0, 1)), (err: unknown) => err instanceof DeliveryError && err.status === 500);
  assert.deepEqual(
    r.requests.map((q) => q.status),
    [429, 503, 500],
  );
  assert.equal(sink.metrics.snapshot().retries, 2);
  await sink.close();

  const r2 = await receiver(t, (_q, n) => ({ status: n < 2 ? 500 : 200 }));
  const sink2 = await sinkOf({ url: r2.url, mode: 'blocking-strict', retry: fast });
  await sink2.write(events(0, 1));
  assert.deepEqual(
    r2.requests.map((q) => q.status),
    [500, 500, 200],
  );
  await sink2.close();
});

test('a 4xx other than 429 is not retried', async (t) => {
  const r = await receiver(t, () => ({ status: 400 }));
  const sink = await sinkOf({ url: r.url, mode: 'blocking-strict', retry: fast });
  await assert.rejects(sink.write(events(0, 1)), /answered 400/);
  assert.equal(r.requests.length, 1);
  await sink.close();
});

test('Retry-After as seconds or HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('2015-10-21T07:28:00Z')), 5000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});

test('blocking ignores (and counts) a failure without a spool; blocking-strict throws it', async (t) => {
  const r = await receiver(t, () => ({ status: 500 }));
  const logger = captureLogger();
  const blocking = await sinkOf({ url: r.url, mode: 'blocking', retry: { ...fast, maxAttempts: 2 } }, logger);
  await blocking.write(events(0, 3));
  assert.equal(blocking.metrics.snapshot().dropped.delivery_failed, 3);
  assert.deepEqual(
    logger.lines.at(-1)?.fields?.auditIDs,
    events(0, 3).map((e) => e.auditID),
  );
  const strict = await sinkOf({ url: r.url, mode: 'blocking-strict', retry: { ...fast, maxAttempts: 2 } });
  await assert.rejects(strict.write(events(0, 1)), DeliveryError);
  await blocking.close();
  await strict.close();
});

test('blocking-strict with a spool throws and keeps the event; it arrives when the endpoint recovers', async (t) => {
  let down = true;
  const r = await receiver(t, () => ({ status: down ? 503 : 200 }));
  const sink = await sinkOf({
    url: r.url,
    mode: 'blocking-strict',
    retry: { ...fast, maxAttempts: 1 },
    spool: { dir: tempDir(t), maxBytes: 1_000_000, replayBackoffMs: 5, replayMaxBackoffMs: 20 },
  });
  await assert.rejects(sink.write(events(0, 1)), DeliveryError);
  assert.equal(sink.metrics.snapshot().spooled, 1);
  down = false;
  await waitFor(() => r.delivered().length === 1, 'the spooled event');
  await sink.close();
});

test('endpoint down for a while, then up: every event arrives (buffer overflow and failed batches spool)', async (t) => {
  const port = await deadPort();
  const url = `http://127.0.0.1:${port}/audit`;
  const sink = await sinkOf({
    url,
    batch: { maxBatchSize: 10, maxWaitMs: 5, throttle: false, bufferSize: 20, maxInFlight: 2 },
    retry: { ...fast, maxAttempts: 2 },
    spool: { dir: tempDir(t), maxBytes: 10_000_000, segmentBytes: 8192, replayBackoffMs: 5, replayMaxBackoffMs: 50 },
  });
  const all = events(0, 300);
  for (let i = 0; i < all.length; i += 15) await sink.write(all.slice(i, i + 15));
  await sink.flush();
  const m = sink.metrics.snapshot();
  assert.equal(m.delivered, 0);
  assert.equal(m.spooled, 300, 'nothing lost while down: all 300 spooled');
  // The endpoint comes back on the same port.
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push(...JSON.parse(Buffer.concat(chunks).toString()).items.map((e: AuditEvent) => e.auditID));
      res.end();
    });
  });
  const got: string[] = [];
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  await waitFor(() => missing(all, got).length === 0, 'every event after recovery');
  await waitFor(() => sink.metrics.snapshot().spoolBytes === 0, 'an empty spool');
  // And live writes go straight through again.
  await sink.write(events(300, 10));
  await sink.flush();
  await waitFor(() => missing(events(300, 10), got).length === 0, 'live events');
  assert.equal(sink.metrics.snapshot().dropped.spool_full, 0);
  server.closeAllConnections();
  await sink.close();
});

test('producer killed and restarted: a new process on the same spool dir sends what was left', async (t) => {
  const port = await deadPort();
  const url = `http://127.0.0.1:${port}/audit`;
  const dir = tempDir(t);
  const child = spawn(
    process.execPath,
    [new URL('./fixtures/producer.ts', import.meta.url).pathname, url, dir, '123'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  await waitFor(() => out.includes('\n'), 'the producer to spool its events', 20_000);
  assert.equal(JSON.parse(out).spooled, 123);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const r = await receiver(t);
  const sink = await sinkOf({
    url: r.url,
    retry: fast,
    spool: { dir, maxBytes: 10_000_000, replayBackoffMs: 5 },
  });
  await waitFor(
    () => missing(events(0, 123), r.delivered()).length === 0,
    'every spooled event from the killed producer',
  );
  await waitFor(() => sink.metrics.snapshot().replayed === 123, 'the acks');
  await sink.close();
});

test('close() while batches wait out a 60 s retry backoff: it returns at once with every event spooled', async (t) => {
  // In a child process that ends by itself: backoff timers do not keep a process alive, so a close() that waited
  // for the retries would let it exit with the events still in memory.
  let down = true;
  const r = await receiver(t, () => ({ status: down ? 503 : 200 }));
  const dir = tempDir(t);
  const child = spawn(process.execPath, [new URL('./fixtures/closer.ts', import.meta.url).pathname, r.url, dir, '25'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), {
    spooled: 25,
    delivered: 0,
    dropped: { buffer_full: 0, spool_full: 0, too_large: 0, delivery_failed: 0 },
  });
  // The next process on the same spool delivers them.
  down = false;
  const sink = await sinkOf({ url: r.url, retry: fast, spool: { dir, maxBytes: 10_000_000, replayBackoffMs: 5 } });
  await waitFor(() => missing(events(0, 25), r.delivered()).length === 0, 'every event spooled on close');
  await sink.close();
});

/** Runs test/sinks/fixtures/flusher.ts to its end: its exit code and what it printed. */
async function flusher(
  t: { after(fn: () => void): void },
  url: string,
  dir: string,
  n: number,
  retry: object,
  mode = 'batch',
): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    [new URL('./fixtures/flusher.ts', import.meta.url).pathname, url, dir, String(n), JSON.stringify(retry), mode],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out };
}

test('flush() during an outage, then the process ends by itself: every event is in the spool, delivered later', async (t) => {
  const port = await deadPort();
  const dir = tempDir(t);
  // A minute's backoff: flush must neither wait it out nor let the process end with the events in memory.
  const { code, out } = await flusher(t, `http://127.0.0.1:${port}/audit`, dir, 40, {
    initialBackoffMs: 60_000,
    maxAttempts: 5,
  });
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), {
    spooled: 40,
    delivered: 0,
    dropped: { buffer_full: 0, spool_full: 0, too_large: 0, delivery_failed: 0 },
  });
  const r = await receiver(t);
  const sink = await sinkOf({ url: r.url, retry: fast, spool: { dir, maxBytes: 10_000_000, replayBackoffMs: 5 } });
  await waitFor(() => missing(events(0, 40), r.delivered()).length === 0, 'every event flushed to the spool');
  await sink.close();
});

test('a blocking write during an outage keeps the process alive until its batch is spooled', async (t) => {
  const port = await deadPort();
  const dir = tempDir(t);
  const retry = { initialBackoffMs: 300, maxAttempts: 2, jitter: 0 };
  const { code, out } = await flusher(t, `http://127.0.0.1:${port}/audit`, dir, 12, retry, 'blocking');
  assert.equal(code, 0);
  assert.equal(JSON.parse(out).spooled, 12);
});

test('flush() without a spool waits out the retries, keeping the process alive: a short outage loses nothing', async (t) => {
  const r = await receiver(t, (_req, n) => ({ status: n === 0 ? 503 : 200 }));
  const { code, out } = await flusher(t, r.url, '-', 30, { initialBackoffMs: 300, maxAttempts: 3, jitter: 0 });
  assert.equal(code, 0);
  assert.equal(JSON.parse(out).delivered, 30);
  assert.deepEqual(missing(events(0, 30), r.delivered()), []);
});

test('close() lets a delivery already under way finish: a slow but healthy endpoint gets the event', async (t) => {
  // The endpoint holds its answer until close() has begun; closing must not abort the request.
  let answer: (() => void) | undefined;
  const got: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      answer = () => {
        for (const e of JSON.parse(body).items) got.push(e.auditID);
        res.end();
      };
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const sink = await sinkOf({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`,
    batch: { maxBatchSize: 1, throttle: false },
    retry: { initialBackoffMs: 60_000, maxAttempts: 5 },
  });
  await sink.write(events(0, 1));
  await waitFor(() => answer !== undefined, 'the request to arrive');
  const closing = sink.close();
  answer!();
  await closing;
  assert.deepEqual(got, [events(0, 1)[0]!.auditID]);
  const m = sink.metrics.snapshot();
  assert.equal(m.delivered, 1);
  assert.equal(m.dropped.delivery_failed, 0);
});

test('the spool cap is the only place events are dropped, and every drop is counted', async (t) => {
  const port = await deadPort();
  const logger = captureLogger();
  const one = Buffer.byteLength(JSON.stringify(events(0, 1)[0])) + 1;
  const sink = await sinkOf(
    {
      url: `http://127.0.0.1:${port}/`,
      batch: { maxBatchSize: 5, maxWaitMs: 5, throttle: false, bufferSize: 10 },
      retry: { ...fast, maxAttempts: 1 },
      spool: { dir: tempDir(t), maxBytes: one * 30, replayBackoffMs: 60_000 },
    },
    logger,
  );
  await sink.write(events(0, 100));
  await sink.flush();
  const m = sink.metrics.snapshot();
  assert.ok(m.spooled > 0 && m.spooled <= 30, `spooled ${m.spooled}`);
  assert.equal(m.dropped.spool_full, 100 - m.spooled, 'every event is either spooled or counted as dropped');
  assert.equal(m.dropped.buffer_full, 0);
  const loggedDrops = logger.lines
    .filter((l) => /spool full/.test(l.msg))
    .flatMap((l) => l.fields?.auditIDs as string[]);
  assert.equal(loggedDrops.length, m.dropped.spool_full, 'and every drop is logged with its auditID');
  await sink.close();
});

test('truncate in the chain splits batches by bytes and strips oversized objects', async (t) => {
  const r = await receiver(t);
  const one = Buffer.byteLength(JSON.stringify(events(0, 1)[0]));
  const sink = await sinkOf({
    url: r.url,
    batch: { maxBatchSize: 50, maxWaitMs: 60_000, throttle: false },
    truncate: { maxEventBytes: one + 100, maxBatchBytes: (one + 100) * 3 },
  });
  const big = { ...events(99, 1)[0]!, level: 'RequestResponse' as const, responseObject: { x: 'y'.repeat(10_000) } };
  await sink.write([...events(0, 9), big]);
  await sink.flush();
  const sizes = r.requests.map((q) => JSON.parse(q.body.toString()).items.length);
  assert.deepEqual(sizes, [3, 3, 3, 1], 'split by bytes, not by the 50-event batch size');
  const items = r.requests.flatMap((q) => JSON.parse(q.body.toString()).items);
  assert.equal(items.length, 10);
  const cut = items.find((e) => e.auditID === big.auditID);
  assert.equal(cut.responseObject, undefined);
  assert.equal(cut.annotations['audit.k8s.io/truncated'], 'true');
  await sink.close();
});

test('a kubeconfig selects the server and sends the bearer token', async (t) => {
  const r = await receiver(t);
  const dir = tempDir(t);
  const file = `${dir}/webhook.kubeconfig`;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: other
    cluster: { server: "http://127.0.0.1:1/nowhere" }
  - name: audit
    cluster:
      server: ${r.url}
users:
  - name: shipper
    user:
      token: s3cret
contexts:
  - name: default
    context: { cluster: audit, user: shipper }
current-context: default
`,
  );
  const sink = await sinkOf({ kubeconfig: file, mode: 'blocking-strict', retry: fast });
  await sink.write(events(0, 1));
  assert.equal(r.requests[0]!.headers.authorization, 'Bearer s3cret');
  await sink.close();
});

test('a write after close is refused', async (t) => {
  const r = await receiver(t);
  const sink = await sinkOf({ url: r.url });
  await sink.close();
  await assert.rejects(sink.write(events(0, 1)), /closed/);
  await assert.rejects(sinkOf({ url: 'ftp://x' }), /must be http or https/);
  await assert.rejects(sinkOf({}), /exactly one of url and kubeconfig/);
});

test('an attempt that gets no answer times out and is retried', async (t) => {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls++;
    req.resume();
    if (calls > 1) res.end(); // the first request is left hanging
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const sink = await sinkOf({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    mode: 'blocking-strict',
    timeoutMs: 50,
    retry: fast,
  });
  await sink.write(events(0, 1));
  assert.equal(calls, 2);
  assert.equal(sink.metrics.snapshot().errors, 1);
  await sink.close();
});

test('noop accepts and counts; an unknown mode is refused', async () => {
  const sink = await createSink({ type: 'noop' }, { registry: new Registry() });
  await sink.write(events(0, 2));
  await sink.close();
  assert.equal(sink.metrics.snapshot().events, 2);
  await assert.rejects(
    sinkOf({ url: 'http://127.0.0.1:1/', mode: 'sometimes' as 'batch' }),
    /webhook.mode must be one of batch, blocking, blocking-strict/,
  );
});
