// HTTPS with the certificate and key from vigil.yaml, and mutual TLS: a client certificate that chains to
// tls.clientCA and whose CN is in auth.clientCerts authenticates with that entry's role and scope. The sender is
// the capture webhook sink configured from a kubeconfig with client-certificate/client-key, as a kube-apiserver's
// --audit-webhook-config-file. Certificates are made with openssl at test time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { createSink } from '../../src/sinks/create.ts';
import { event } from './fixtures.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-tls-'));
const f = (name: string) => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A P-256 key and a certificate for `cn` signed by `ca`; with `san`, a server certificate. */
function cert(name: string, cn: string, ca: string, san?: string): void {
  openssl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  );
  const ext = [`extendedKeyUsage=${san ? 'serverAuth' : 'clientAuth'}`, ...(san ? [`subjectAltName=${san}`] : [])];
  writeFileSync(f(`${name}.ext`), `${ext.join('\n')}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

function ca(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
  );
}

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  body: any;
}

/** One HTTPS request trusting the test CA, optionally with a client certificate. */
function request(
  url: string,
  o: { method?: string; body?: string; token?: string; client?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const req = https.request(
      url,
      {
        method: o.method ?? 'GET',
        headers,
        ca: readFileSync(f('ca.crt')),
        ...(o.client && { cert: readFileSync(f(`${o.client}.crt`)), key: readFileSync(f(`${o.client}.key`)) }),
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(clientAuth: 'request' | 'require'): Promise<RunningServer> {
  const file = f(`vigil-${clientAuth}.yaml`);
  writeFileSync(
    file,
    `tls: { cert: server.crt, key: server.key, clientCA: ca.crt, clientAuth: ${clientAuth} }
auth:
  tokens:
    - { name: ops, token: ops-token, role: admin }
  clientCerts:
    - { subject: kube-apiserver, role: ingest }
    - { subject: tenant-a, role: tenant, workspaces: [wa] }
workspaces:
  wa: [ns-a]
rules: { enabled: false }
`,
  );
  const config = loadConfig(file, { listen: '127.0.0.1:0', data: f(`data-${clientAuth}`) });
  const s = await startServer(config, { logger: false });
  servers.push(s);
  return s;
}

describe('HTTPS and client certificates', () => {
  let s: RunningServer;
  before(async () => {
    ca('ca');
    cert('server', '127.0.0.1', 'ca', 'IP:127.0.0.1');
    cert('apiserver', 'kube-apiserver', 'ca');
    cert('tenant', 'tenant-a', 'ca');
    cert('stranger', 'stranger', 'ca');
    // Same CN as the apiserver's, but signed by a CA Vigil does not trust.
    ca('rogue-ca');
    cert('rogue', 'kube-apiserver', 'rogue-ca');
    s = await serve('request');
  });

  test('the collector listens on HTTPS with the configured certificate', async () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await request(`${s.url}/healthz`)).status, 200);
  });

  test('a kube-apiserver authenticated by its kubeconfig client certificate ships events through the webhook sink', async () => {
    const kubeconfig = f('audit-webhook.kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters:
  - name: vigil
    cluster: { server: "${s.url}/audit/webhook/event", certificate-authority: ca.crt }
users:
  - name: kube-apiserver
    user: { client-certificate: apiserver.crt, client-key: apiserver.key }
contexts:
  - name: default
    context: { cluster: vigil, user: kube-apiserver }
current-context: default
`,
    );
    const sink = await createSink(
      { type: 'webhook', kubeconfig, mode: 'blocking-strict', retry: { maxAttempts: 1 } },
      { logger: { warn() {}, error() {} } },
    );
    try {
      await sink.write([
        event({ auditID: 'tls-1', objectRef: { resource: 'pods', namespace: 'ns-a' } }),
        event({ auditID: 'tls-2', objectRef: { resource: 'pods', namespace: 'ns-b' } }),
      ]);
    } finally {
      await sink.close();
    }
    const all = await request(`${s.url}/api/v1/events`, { token: 'ops-token' });
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.items.map((e: { auditID: string }) => e.auditID).sort(), ['tls-1', 'tls-2']);
  });

  test('a certificate maps to its role: the ingest certificate may not read', async () => {
    assert.equal((await request(`${s.url}/api/v1/events`, { client: 'apiserver' })).status, 403);
  });

  test('a tenant certificate sees only its workspace and may not ingest', async () => {
    const r = await request(`${s.url}/api/v1/events`, { client: 'tenant' });
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.items.map((e: { auditID: string }) => e.auditID),
      ['tls-1'],
    );
    const w = await request(`${s.url}/ingest/events`, {
      method: 'POST',
      client: 'tenant',
      body: JSON.stringify([event({ auditID: 'tls-x' })]),
    });
    assert.equal(w.status, 403);
  });

  test('unknown CN, untrusted CA, or no certificate and no token: 401', async () => {
    const body = JSON.stringify([event({ auditID: 'tls-y' })]);
    for (const client of ['stranger', 'rogue', undefined]) {
      const r = await request(`${s.url}/ingest/events`, { method: 'POST', client, body });
      assert.equal(r.status, 401, `client ${client}`);
      assert.equal(typeof r.body.error, 'string');
    }
    const all = await request(`${s.url}/api/v1/events`, { token: 'ops-token' });
    assert.equal(all.body.total, 2);
  });

  test('clientAuth: require refuses a TLS connection without a trusted certificate', async () => {
    const strict = await serve('require');
    assert.equal((await request(`${strict.url}/healthz`, { client: 'apiserver' })).status, 200);
    await assert.rejects(request(`${strict.url}/healthz`));
    await assert.rejects(request(`${strict.url}/healthz`, { client: 'rogue' }));
  });
});

test('tls files are read relative to the config; a missing one is a clear error', () => {
  const file = f('bad.yaml');
  writeFileSync(file, 'tls: { cert: nope.crt, key: server.key }\n');
  assert.throws(() => loadConfig(file), /bad\.yaml:\d+:\d+: tls\.cert: not found: .*nope\.crt/);
  writeFileSync(
    file,
    'tls: { cert: server.crt, key: server.key }\nauth:\n  clientCerts: [{ subject: x, role: ingest }]\n',
  );
  assert.throws(() => loadConfig(file), /auth\.clientCerts needs tls\.clientCA/);
});
