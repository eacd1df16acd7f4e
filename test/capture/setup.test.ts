import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import express from 'express';
import Fastify from 'fastify';
import { createAuditor } from '../../src/index.ts';
import { PolicyError } from '../../src/policy/index.ts';
import { createSink } from '../../src/sinks/index.ts';
import { waitFor } from '../helpers/net.ts';

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    nonResourceURLs: ["/healthz"]
  - level: Metadata
`;

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-setup-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function lines(path: string) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

test('createAuditor from a policy file and a log sink audits an Express app; close flushes the log', async () => {
  const { dir, cleanup } = tempDir();
  const log = join(dir, 'audit.log');
  const auditor = await createAuditor({
    policy: join(dir, 'policy.yaml'),
    sinks: [{ type: 'log', path: log, format: 'json' }],
  });
  const app = express();
  app.use(auditor.express());
  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });
  app.get('/api/v1/namespaces/:ns/pods', (_req, res) => {
    res.json({ kind: 'PodList', items: [] });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/api/v1/namespaces/demo/pods`)).status, 200);
    await new Promise((resolve) => server.close(resolve));
    await auditor.close();
    const events = lines(log);
    assert.equal(events.length, 1, 'healthz is level None; RequestReceived is omitted');
    assert.equal(events[0].kind, 'Event');
    assert.equal(events[0].apiVersion, 'audit.k8s.io/v1');
    assert.equal(events[0].stage, 'ResponseComplete');
    assert.equal(events[0].verb, 'list');
    assert.deepEqual(events[0].objectRef, { resource: 'pods', namespace: 'demo', apiVersion: 'v1' });
    assert.equal(events[0].responseStatus.code, 200);
  } finally {
    server.close();
    cleanup();
  }
});

test('createAuditor sends every event to each of several sinks (Fastify, json and legacy logs)', async () => {
  const { dir, cleanup } = tempDir();
  const json = join(dir, 'audit.json.log');
  const legacy = join(dir, 'audit.legacy.log');
  const auditor = await createAuditor({
    policy: join(dir, 'policy.yaml'),
    sinks: [
      { type: 'log', path: json, format: 'json' },
      { type: 'log', path: legacy, format: 'legacy' },
    ],
  });
  const app = Fastify();
  await app.register(auditor.fastify());
  app.delete('/api/v1/namespaces/:ns/secrets/:name', async () => ({ kind: 'Status', status: 'Success' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const port = (app.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/prod/secrets/db`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    await app.close();
    await auditor.close();
    const [e] = lines(json);
    assert.equal(e.verb, 'delete');
    assert.equal(e.objectRef.name, 'db');
    const legacyLines = readFileSync(legacy, 'utf8').trim().split('\n');
    assert.equal(legacyLines.length, 1);
    assert.match(legacyLines[0], new RegExp(`AUDIT: id="${e.auditID}" stage="ResponseComplete" .*method="delete"`));
    assert.match(legacyLines[0], /namespace="prod" uri="\/api\/v1\/namespaces\/prod\/secrets\/db" response="200"$/);
  } finally {
    await app.close();
    cleanup();
  }
});

test('createAuditor refuses a bad policy file with its position, and a setup without sinks', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Loud\n');
    await assert.rejects(
      createAuditor({ policy: bad, sinks: [{ type: 'noop' }] }),
      (err: unknown) => err instanceof PolicyError && /bad\.yaml:4:12: rules\[0\]\.level/.test(err.message),
    );
    await assert.rejects(createAuditor({ policy: join(dir, 'policy.yaml') }), /give `sinks`/);
  } finally {
    cleanup();
  }
});

test('close() while an event waits out a 60 s retry backoff returns at once, the event spooled for the next process', async (t) => {
  let down = true;
  const received: string[] = [];
  let attempts = 0;
  const endpoint = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      attempts++;
      if (down) res.writeHead(503).end();
      else {
        for (const e of JSON.parse(body).items) received.push(`${e.auditID} ${e.stage}`);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  t.after(() => {
    endpoint.closeAllConnections();
    endpoint.close();
  });
  const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/audit`;
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  // In a child process that ends by itself (see the fixture): a close() that waited for the retry never returns.
  const app = spawn(
    process.execPath,
    [fileURLToPath(new URL('./fixtures/closing-app.ts', import.meta.url)), url, dir],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  t.after(() => {
    if (app.exitCode === null) app.kill('SIGKILL');
  });
  let out = '';
  app.stdout.on('data', (d) => {
    out += d;
  });
  await waitFor('the first delivery attempts (RequestReceived, ResponseComplete) to fail', () => attempts === 2);
  app.stdin.write('go\n');
  const code = await new Promise((resolve) => app.once('exit', resolve));
  assert.equal(out, 'closed\n');
  assert.equal(code, 0);
  assert.equal(attempts, 2, 'no retry was waited for');
  // The next process on the same spool delivers both stages.
  down = false;
  const sink = await createSink({ type: 'webhook', url, spool: { dir, maxBytes: 1_000_000, replayBackoffMs: 5 } });
  t.after(() => sink.close());
  await waitFor('the spooled events', () => received.length === 2);
  assert.deepEqual(received.sort(), ['closing-1 RequestReceived', 'closing-1 ResponseComplete']);
});
