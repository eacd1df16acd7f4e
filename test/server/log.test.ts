// The collector's log: one line per request (not Fastify's two), at the configured level.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { createApp } from '../../src/server/index.ts';
import { openStore } from '../../src/store/index.ts';

async function logLines(yaml: string, overrides = {}): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  const config = parseConfig(yaml, 'vigil.yaml', overrides);
  const store = await openStore({ type: 'sqlite', path: ':memory:' });
  const app = createApp({ config, store, logger: { level: config.log.level, stream } });
  try {
    await app.fastify.inject('/healthz');
    await app.fastify.inject('/api/v1/events?size=1');
    await app.fastify.inject('/no/such/path');
  } finally {
    await app.fastify.close();
    await store.close();
  }
  return lines;
}

test('each request is logged once, when it ends, with its method, URL, status and time', async () => {
  const lines = await logLines('');
  assert.deepEqual(
    lines.map((l) => [l.msg, l.method, l.url, l.statusCode]),
    [
      ['request', 'GET', '/healthz', 200],
      ['request', 'GET', '/api/v1/events?size=1', 200],
      ['request', 'GET', '/no/such/path', 404],
    ],
  );
  assert.ok(lines.every((l) => typeof l.responseTime === 'number'));
});

test('log.level in the config, and --log-level over it', async () => {
  assert.equal(parseConfig('', 'vigil.yaml').log.level, 'info');
  assert.equal(parseConfig('log: { level: warn }\n', 'vigil.yaml').log.level, 'warn');
  assert.equal(parseConfig('log: { level: warn }\n', 'vigil.yaml', { logLevel: 'debug' }).log.level, 'debug');
  assert.throws(
    () => parseConfig('log: { level: loud }\n', 'vigil.yaml'),
    /vigil\.yaml:1:15: log\.level: must be one of/,
  );
  assert.throws(() => parseConfig('', 'vigil.yaml', { logLevel: 'loud' }), /log level: expected one of/);
  assert.deepEqual(await logLines('log: { level: warn }\n'), []);
});
