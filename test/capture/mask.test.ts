// What the capture middleware writes is masked as the collector masks what it ingests, with the same function:
// secret query parameters and `kubectl exec` arguments of the requestURI, secret members and pairs of the bodies,
// configured paths. The handler's own objects are not touched. End to end: Express, a log file, the collector.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import express from 'express';
import { createAuditor } from '../../src/index.ts';
import type { Policy } from '../../src/policy/index.ts';
import { waitFor } from '../helpers/net.ts';
import { startTestServer } from '../server/helpers.ts';

const POLICY: Policy = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'RequestResponse' }],
};

// biome-ignore lint/suspicious/noExplicitAny: events are walked as arbitrary JSON
type Json = any;

test('capture writes events masked as the collector stores them; the handler keeps its own objects', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-capture-mask-'));
  const collector = await startTestServer();
  const log = join(dir, 'audit.log');
  const auditor = await createAuditor({
    policy: POLICY,
    mask: ['requestObject.note'],
    sinks: [
      { type: 'log', path: log, format: 'json' },
      { type: 'webhook', url: `${collector.url}/audit/webhook/event`, mode: 'blocking' },
    ],
  });
  const seen: Json[] = [];
  const app = express();
  // A body parser before the middleware for configmaps: there capture records the handler's parsed object.
  const json = express.json();
  app.use((req, res, next) => (req.path.includes('/configmaps') ? json(req, res, next) : next()));
  app.use(auditor.express());
  const handle: express.RequestHandler = (req, res) => {
    if (req.body !== undefined) seen.push(req.body);
    res.json({ kind: 'Status', token: 'SECRET-response', items: [{ name: 'API_TOKEN', value: 'SECRET-pair' }] });
  };
  app.post('/api/v1/namespaces/:ns/pods/:name/exec', handle);
  app.post('/api/v1/namespaces/:ns/configmaps', handle);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const body = {
    password: 'SECRET-member',
    note: 'SECRET-configured',
    spec: {
      env: [
        { name: 'DB_PASSWORD', value: 'SECRET-env' },
        { name: 'MODE', value: 'prod' },
      ],
    },
  };
  try {
    const post = (path: string) =>
      fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // kubectl exec pod -- admincli --token=SECRET-arg (kubernetes#97795)
    assert.equal(
      (await post('/api/v1/namespaces/a/pods/p/exec?command=admincli&command=--token%3DSECRET-arg')).status,
      200,
    );
    assert.equal((await post('/api/v1/namespaces/a/configmaps?access_token=SECRET-query')).status, 200);
    await new Promise((resolve) => server.close(resolve));
    await auditor.close();

    const text = readFileSync(log, 'utf8');
    assert.doesNotMatch(text, /SECRET/, 'no secret in the capture log');
    const logged: Json[] = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    // exec is long-running: ResponseStarted, then ResponseComplete; the other call ResponseComplete only.
    assert.deepEqual(
      logged.map((e) => e.stage),
      ['ResponseStarted', 'ResponseComplete', 'ResponseComplete'],
    );
    const [, exec, parsed] = logged;
    assert.equal(exec.requestURI, '/api/v1/namespaces/a/pods/p/exec?command=admincli&command=--token%3D***');
    assert.equal(parsed.requestURI, '/api/v1/namespaces/a/configmaps?access_token=***');
    for (const e of logged) {
      assert.deepEqual(e.requestObject, {
        password: '***',
        note: '***',
        spec: {
          env: [
            { name: 'DB_PASSWORD', value: '***' },
            { name: 'MODE', value: 'prod' },
          ],
        },
      });
      if (e.stage === 'ResponseComplete')
        assert.deepEqual(e.responseObject, {
          kind: 'Status',
          token: '***',
          items: [{ name: 'API_TOKEN', value: '***' }],
        });
    }
    // The handler's parsed body is its own: masking worked on a copy.
    assert.deepEqual(seen.at(-1), body);

    // The collector stores them as capture wrote them: the same masking.
    const stored = async () =>
      (await collector.get('/api/v1/events?sort=asc')).body as { total: number; items: Json[] };
    await waitFor('the events stored', async () => (await stored()).total === 3);
    for (const e of (await stored()).items) {
      const mine = logged.find((l) => l.auditID === e.auditID && l.stage === e.stage);
      assert.ok(mine, e.auditID);
      for (const k of ['requestURI', 'requestObject', 'responseObject']) assert.deepEqual(e[k], mine[k], k);
    }
  } finally {
    server.close();
    await collector.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
