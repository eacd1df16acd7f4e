import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createCapture } from '../../src/capture/index.ts';
import { CollectingSink, policyOf } from './helpers.ts';
import { captureSuite, type Start } from './suite.ts';

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s;
}

/** The suite's API (see suite.ts) on bare node:http. */
async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  const pods = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p);
  const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(p);
  const secret = /^\/api\/v1\/namespaces\/[^/]+\/secrets\/([^/]+)$/.exec(p);
  const fn = /^\/system\/function\/([^/]+)$/.exec(p);
  if (p === '/healthz') {
    res.end('ok');
  } else if (p === '/api/v1/pods' && url.searchParams.get('watch') === 'true') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"type":"ADDED"}\n');
    res.end('{"type":"MODIFIED"}\n');
  } else if (pods) {
    if (req.method === 'POST') json(res, 201, JSON.parse(await readBody(req)));
    else
      json(res, 200, {
        kind: 'PodList',
        items: [{ metadata: { name: 'a', managedFields: [{ manager: 'kubectl' }] } }],
      });
  } else if (pod) {
    json(res, 200, { kind: 'Pod', metadata: { name: pod[2], namespace: pod[1] } });
  } else if (secret) {
    json(res, 404, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `secrets "${secret[1]}" not found`,
      reason: 'NotFound',
      details: { name: secret[1], kind: 'secrets' },
      code: 404,
    });
  } else if (/^\/api\/v1\/namespaces\/[^/]+\/panics$/.test(p)) {
    throw new Error('boom');
  } else if (p === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    res.end();
  } else if (p === '/hang') {
    // Never answers.
  } else if (p === '/system/functions') {
    json(res, 200, []);
  } else if (fn) {
    json(res, 200, { name: fn[1] });
  } else if (p.startsWith('/v2/lbaas/')) {
    const body = await readBody(req);
    json(res, 200, body === '' ? {} : JSON.parse(body));
  } else {
    json(res, 404, { message: 'not found' });
  }
}

const start: Start = async (options) => {
  const capture = createCapture(options);
  const server = createServer(capture.wrap(handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await capture.close();
    },
  };
};

captureSuite('node:http', start);

test('node:http: a synchronous throw is recovered as Panic and reported to onError', async () => {
  const sink = new CollectingSink();
  const errors: unknown[] = [];
  const capture = createCapture({
    policy: policyOf(() => 'Metadata'),
    sink,
    onError: (err, during) => errors.push([during, (err as Error).message]),
  });
  const server = createServer(
    capture.wrap(() => {
      throw new Error('sync boom');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
    assert.equal(res.status, 500);
    await res.text();
    const events = await sink.stages(res.headers.get('audit-id')!);
    assert.deepEqual(
      events.map((e) => e.stage),
      ['RequestReceived', 'Panic'],
    );
    assert.deepEqual(errors, [['handler', 'sync boom']]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('node:http: close() waits for the writes in flight; a long User-Agent is cut at 1024 bytes', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered!: () => void;
  const writing = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const written: string[] = [];
  const capture = createCapture({
    policy: policyOf(() => ['Metadata', ['RequestReceived']]),
    sink: {
      async write(events) {
        entered();
        await gate;
        for (const e of events) written.push(e.userAgent ?? '');
      },
    },
  });
  const server = createServer(capture.wrap((_req, res) => res.end('ok')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, {
      headers: { 'user-agent': 'a'.repeat(2000) },
    });
    assert.equal(await res.text(), 'ok');
    await writing; // ResponseComplete is with the sink, which holds it until released
    let closed = false;
    const done = capture.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false);
    release();
    await done;
    assert.deepEqual(written, [`${'a'.repeat(1024)}...TRUNCATED`]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
