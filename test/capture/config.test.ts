// The `capture:` section of vigil.yaml: createAuditor({config}) drives a real server from it, bad sections fail at
// start with file:line:col, and the collector's loader accepts a file that has one.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createAuditor } from '../../src/index.ts';

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    nonResourceURLs: ["/healthz"]
  - level: Request
`;

/** A config folder with the policy in a subfolder, so that relative paths must be resolved against the file. */
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-capture-config-'));
  mkdirSync(join(dir, 'audit'));
  writeFileSync(join(dir, 'audit', 'policy.yaml'), POLICY);
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  return { dir, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function lines(path: string) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const CONFIG = `listen: 127.0.0.1:0
storage:
  path: ./data/vigil.db
capture:
  policy: audit/policy.yaml
  trustedProxies: [127.0.0.1]
  bodyLimit: 1024
  routes:
    - method: [GET, POST]
      pattern: /system/functions
      resource: functions
      namespace: "?namespace"
      action: Function:List
    - method: DELETE
      pattern: /system/functions/:name
      resource: functions
      name: ":name"
  sinks:
    - type: log
      path: audit/audit.log
      format: json
`;

test('createAuditor({config}) builds the auditor from the capture section: Express, routes, relative paths', async () => {
  const { dir, write, cleanup } = tempDir();
  const config = write('vigil.yaml', CONFIG);
  const auditor = await createAuditor({
    config,
    identify: (req) => (req.headers['x-user'] ? { username: String(req.headers['x-user']) } : undefined),
  });
  const app = express();
  app.use(express.json());
  app.use(auditor.express());
  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });
  app.get('/system/functions', (_req, res) => {
    res.json([]);
  });
  app.delete('/system/functions/:name', (_req, res) => {
    res.status(202).end();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const list = await fetch(`${base}/system/functions?namespace=openfaas-fn`, {
      headers: { 'x-user': 'alice', 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(list.status, 200);
    assert.equal((await fetch(`${base}/system/functions/figlet`, { method: 'DELETE' })).status, 202);
    await new Promise((resolve) => server.close(resolve));
    await auditor.close();
    const events = lines(join(dir, 'audit', 'audit.log'));
    assert.equal(events.length, 2, 'healthz is level None; RequestReceived is omitted by the policy');
    const [get, del] = events;
    assert.equal(get.stage, 'ResponseComplete');
    assert.equal(get.level, 'Request');
    assert.equal(get.verb, 'list');
    assert.equal(get.user.username, 'alice');
    assert.deepEqual(get.objectRef, { resource: 'functions', namespace: 'openfaas-fn' });
    // trustedProxies from the file: the loopback peer's X-Forwarded-For is believed
    assert.deepEqual(get.sourceIPs, ['203.0.113.9', '127.0.0.1']);
    assert.equal(del.verb, 'delete');
    assert.deepEqual(del.objectRef, { resource: 'functions', name: 'figlet' });
    assert.equal(del.user.username, 'system:anonymous');
  } finally {
    server.close();
    cleanup();
  }
});

test('createAuditor({config, ...overrides}) with Fastify: a field given in code wins over the file', async () => {
  const { dir, write, cleanup } = tempDir();
  const config = write('vigil.yaml', CONFIG);
  const other = join(dir, 'other.log');
  const auditor = await createAuditor({ config, sinks: [{ type: 'log', path: other, format: 'legacy' }] });
  const app = Fastify();
  await app.register(auditor.fastify());
  app.get('/api/v1/namespaces/:ns/pods', async () => ({ kind: 'PodList', items: [] }));
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    assert.equal((await fetch(`${base}/api/v1/namespaces/demo/pods`)).status, 200);
    await app.close();
    await auditor.close();
    const text = readFileSync(other, 'utf8');
    assert.match(text, /stage="ResponseComplete".*method="list".*namespace="demo"/);
    assert.throws(() => readFileSync(join(dir, 'audit', 'audit.log')), /ENOENT/);
  } finally {
    await app.close();
    cleanup();
  }
});

async function refused(text: string, pattern: RegExp) {
  const { write, cleanup } = tempDir();
  const config = write('vigil.yaml', text);
  try {
    await assert.rejects(createAuditor({ config }), (err: Error) => {
      assert.ok(err instanceof ConfigError, err.message);
      assert.match(err.message, pattern);
      assert.ok(err.message.startsWith(`${config}:`), err.message);
      return true;
    });
  } finally {
    cleanup();
  }
}

test('bad capture sections fail at start naming file:line:col and what is wrong', async () => {
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  polcy: x\n  sinks: [{type: noop}]\n',
    /vigil\.yaml:3:3: capture\.polcy: unknown key/,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  sinks:\n    - type: kafka\n      path: x\n',
    /vigil\.yaml:4:13: capture\.sinks\[0\]\.type: .*log/,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  sinks:\n    - type: log\n      path: a.log\n      maxsize: lots\n',
    /vigil\.yaml:6:16: capture\.sinks\[0\]\.maxsize: /,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  sinks:\n    - type: log\n      format: json\n',
    /vigil\.yaml:4:7: capture\.sinks\[0\]: type log needs "path"/,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  bodyLimit: big\n  sinks: [{type: noop}]\n',
    /vigil\.yaml:3:14: capture\.bodyLimit: must be an integer/,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  routes:\n    - pattern: /a\n      resource: b\n      verbs: get\n  sinks: [{type: noop}]\n',
    /vigil\.yaml:6:7: capture\.routes\[0\]\.verbs: unknown key/,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  routes:\n    - pattern: "/a/:("\n      resource: b\n  sinks: [{type: noop}]\n',
    /vigil\.yaml:4:16: capture\.routes\[0\]\.pattern: not a URLPattern/,
  );
  await refused(
    'capture:\n  policy: audit/policy.yaml\n  routes:\n    - pattern: /a\n  sinks: [{type: noop}]\n',
    /vigil\.yaml:4:7: capture\.routes\[0\]: missing required key "resource"/,
  );
  await refused('listen: 127.0.0.1:0\n', /no capture section/);
  await refused('capture:\n  sinks: [{type: noop}]\n', /capture\.policy is required/);
});

test('the collector accepts a vigil.yaml with a capture section and ignores it', () => {
  const { dir, write, cleanup } = tempDir();
  try {
    const cfg = loadConfig(write('vigil.yaml', CONFIG));
    assert.equal(cfg.listen, '127.0.0.1:0');
    // Relative to the config file's folder, as every path of the file.
    assert.deepEqual(cfg.storage, { type: 'sqlite', path: join(dir, 'data', 'vigil.db') });
    // still strict: a bad capture section fails the collector's load as well
    assert.throws(
      () => loadConfig(write('bad.yaml', 'capture:\n  sinks:\n    - {type: log}\n')),
      /bad\.yaml:3:7: capture\.sinks\[0\]: type log needs "path"/,
    );
  } finally {
    cleanup();
  }
});
