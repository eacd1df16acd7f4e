import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createCapture } from '../../src/capture/index.ts';
import { CollectingSink, policyOf } from './helpers.ts';
import { captureSuite, type Start } from './suite.ts';

const podList = { kind: 'PodList', items: [{ metadata: { name: 'a', managedFields: [{ manager: 'kubectl' }] } }] };

/** The suite's API (see suite.ts) as a Fastify app; the routes live in a child plugin to show the hooks reach them. */
async function app(capture: ReturnType<typeof createCapture>): Promise<FastifyInstance> {
  const a = Fastify();
  await a.register(capture.fastify());
  await a.register(async (f) => {
    f.get('/healthz', async () => 'ok');
    f.get('/api/v1/pods', (_req, reply) => {
      reply.type('application/json').send(Readable.from(['{"type":"ADDED"}\n', '{"type":"MODIFIED"}\n']));
    });
    f.get('/api/v1/namespaces/:ns/pods', async () => podList);
    f.post('/api/v1/namespaces/:ns/pods', async (req, reply) => reply.code(201).send(req.body));
    f.get<{ Params: { ns: string; name: string } }>('/api/v1/namespaces/:ns/pods/:name', async (req) => ({
      kind: 'Pod',
      metadata: { name: req.params.name, namespace: req.params.ns },
    }));
    f.get<{ Params: { name: string } }>('/api/v1/namespaces/:ns/secrets/:name', async (req, reply) => {
      const name = req.params.name;
      return reply.code(404).send({
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
    f.get('/api/v1/namespaces/:ns/panics', async () => {
      throw new Error('boom');
    });
    f.get('/sse', (_req, reply) => {
      reply.header('content-type', 'text/event-stream').send(Readable.from(['data: 1\n\n']));
    });
    f.get('/hang', (_req, _reply) => {});
    f.get('/system/functions', async () => []);
    f.get<{ Params: { name: string } }>('/system/function/:name', async (req) => ({ name: req.params.name }));
    f.all('/v2/lbaas/*', async (req) => req.body ?? {});
  });
  return a;
}

const start: Start = async (options) => {
  const capture = createCapture(options);
  const a = await app(capture);
  const base = await a.listen({ port: 0, host: '127.0.0.1' });
  return {
    base,
    close: async () => {
      a.server.closeAllConnections();
      await a.close();
      await capture.close();
    },
  };
};

captureSuite('fastify', start);

test('fastify: an error with a 4xx status code is an answer, not a panic', async () => {
  const sink = new CollectingSink();
  const capture = createCapture({ policy: policyOf(() => 'Metadata'), sink });
  const a = Fastify();
  await a.register(capture.fastify());
  a.get('/api/v1/namespaces/:ns/pods/:name', async () => {
    throw Object.assign(new Error('nope'), { statusCode: 403 });
  });
  const base = await a.listen({ port: 0, host: '127.0.0.1' });
  try {
    const res = await fetch(`${base}/api/v1/namespaces/d/pods/p`);
    assert.equal(res.status, 403);
    await res.text();
    const events = await sink.stages(res.headers.get('audit-id')!);
    assert.deepEqual(
      events.map((e) => e.stage),
      ['RequestReceived', 'ResponseComplete'],
    );
    assert.equal(events[1].responseStatus?.code, 403);
  } finally {
    await a.close();
  }
});
