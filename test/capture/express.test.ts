import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { createCapture } from '../../src/capture/index.ts';
import { CollectingSink, policyOf } from './helpers.ts';
import { captureSuite, type Start } from './suite.ts';

const podList = { kind: 'PodList', items: [{ metadata: { name: 'a', managedFields: [{ manager: 'kubectl' }] } }] };

/** The suite's API (see suite.ts) as an Express app. */
function app(capture: ReturnType<typeof createCapture>): express.Express {
  const a = express();
  a.set('env', 'test'); // no stack traces of the deliberate errors on stderr
  a.use(capture.express());
  a.get('/healthz', (_req, res) => {
    res.type('text').send('ok');
  });
  a.get('/api/v1/pods', (_req, res) => {
    res.type('json');
    res.write('{"type":"ADDED"}\n');
    res.end('{"type":"MODIFIED"}\n');
  });
  a.get('/api/v1/namespaces/:ns/pods', (_req, res) => {
    res.json(podList);
  });
  a.post('/api/v1/namespaces/:ns/pods', express.json(), (req, res) => {
    res.status(201).json(req.body);
  });
  a.get('/api/v1/namespaces/:ns/pods/:name', (req, res) => {
    res.json({ kind: 'Pod', metadata: { name: req.params.name, namespace: req.params.ns } });
  });
  a.get('/api/v1/namespaces/:ns/secrets/:name', (req, res) => {
    const name = req.params.name;
    res.status(404).json({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `secrets "${name}" not found`,
      reason: 'NotFound',
      details: { name, kind: 'secrets' },
      code: 404,
    });
  });
  a.get('/api/v1/namespaces/:ns/panics', () => {
    throw new Error('boom');
  });
  a.get('/sse', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    res.end();
  });
  a.get('/hang', () => {});
  a.get('/system/functions', (_req, res) => {
    res.json([]);
  });
  a.get('/system/function/:name', (req, res) => {
    res.json({ name: req.params.name });
  });
  a.all('/v2/lbaas/*rest', express.json(), (req, res) => {
    res.json(req.body ?? {});
  });
  a.use(capture.expressErrors());
  return a;
}

const start: Start = async (options) => {
  const capture = createCapture(options);
  const server = app(capture).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
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

captureSuite('express', start);

test('express: a deliberate 4xx error is not a panic; the auditor works mounted under a path', async () => {
  const sink = new CollectingSink();
  const capture = createCapture({ policy: policyOf(() => 'Metadata'), sink });
  const a = express();
  a.set('env', 'test');
  const router = express.Router();
  router.use(capture.express());
  router.get('/namespaces/:ns/pods/:name', () => {
    throw Object.assign(new Error('forbidden'), { status: 403 });
  });
  router.use(capture.expressErrors());
  a.use('/api/v1', router);
  const server = a.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/namespaces/d/pods/p`);
    assert.equal(res.status, 403);
    await res.text();
    const events = await sink.stages(res.headers.get('audit-id')!);
    assert.deepEqual(
      events.map((e) => e.stage),
      ['RequestReceived', 'ResponseComplete'],
    );
    assert.deepEqual(events[1].objectRef, { resource: 'pods', namespace: 'd', name: 'p', apiVersion: 'v1' });
    assert.equal(events[1].responseStatus?.code, 403);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('express: a body parser placed before the auditor still gives the request object', async () => {
  const sink = new CollectingSink();
  const capture = createCapture({ policy: policyOf(() => 'Request'), sink, bodyLimit: 100 });
  const a = express();
  a.use(express.json());
  a.use(capture.express());
  a.post('/api/v1/namespaces/:ns/pods', (req, res) => {
    res.status(201).json(req.body);
  });
  const server = a.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/namespaces/d/pods`;
  try {
    const small = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"metadata":{"name":"p"}}',
    });
    await small.text();
    const [, done] = await sink.stages(small.headers.get('audit-id')!);
    assert.deepEqual(done.requestObject, { metadata: { name: 'p' } });
    assert.equal(done.objectRef?.name, 'p');
    const big = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'x'.repeat(200) } }),
    });
    await big.text();
    const [, bigDone] = await sink.stages(big.headers.get('audit-id')!);
    assert.equal(bigDone.requestObject, undefined);
    assert.match(
      bigDone.annotations?.['capture.vigil.dev/request-object-omitted'] ?? '',
      /^body of 2\d\d bytes exceeds the 100-byte limit$/,
    );
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
