import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Registry } from '../../src/metrics/registry.ts';
import { createSink } from '../../src/sinks/create.ts';
import { loadKubeconfig, parseKubeconfig } from '../../src/sinks/kubeconfig.ts';
import { DeliveryError } from '../../src/sinks/types.ts';
import { events, tempDir } from './helpers.ts';

const tls = fileURLToPath(new URL('./fixtures/tls/', import.meta.url));
const pem = (f: string) => readFileSync(`${tls}${f}`);

/** An HTTPS receiver on 127.0.0.1 that asks for a client certificate and records who sent what. */
async function tlsReceiver(t: { after(fn: () => Promise<void>): void }) {
  const seen: { cn: string | undefined; authorized: boolean; items: number }[] = [];
  const server = https.createServer(
    {
      key: pem('server.key'),
      cert: pem('server.crt'),
      ca: pem('ca.crt'),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const sock = req.socket as TLSSocket;
        const cn = sock.getPeerCertificate()?.subject?.CN;
        seen.push({
          cn: typeof cn === 'string' ? cn : undefined,
          authorized: sock.authorized,
          items: JSON.parse(Buffer.concat(chunks).toString()).items.length,
        });
        res.end();
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/audit`, seen };
}

function kubeconfig(dir: string, cluster: string, user: string): string {
  const file = `${dir}/audit-webhook.kubeconfig`;
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: vigil
    cluster:
${cluster}
users:
  - name: apiserver
    user:
${user}
contexts:
  - name: webhook
    context: { cluster: vigil, user: apiserver }
current-context: webhook
`,
  );
  return file;
}

const quiet = { warn() {}, error() {} };

test('mutual TLS from a kubeconfig: CA and client certificate files relative to the kubeconfig', async (t) => {
  const r = await tlsReceiver(t);
  const dir = tempDir(t);
  for (const f of ['ca.crt', 'client.crt', 'client.key']) writeFileSync(`${dir}/${f}`, pem(f));
  const file = kubeconfig(
    dir,
    `      server: ${r.url}\n      certificate-authority: ca.crt`,
    '      client-certificate: client.crt\n      client-key: client.key',
  );
  const sink = await createSink(
    { type: 'webhook', kubeconfig: file, mode: 'blocking-strict', retry: { maxAttempts: 1 } },
    { registry: new Registry(), logger: quiet },
  );
  await sink.write(events(0, 2));
  assert.deepEqual(r.seen, [{ cn: 'vigil-shipper', authorized: true, items: 2 }]);
  await sink.close();
});

test('the -data forms carry base64 PEM inline', async (t) => {
  const r = await tlsReceiver(t);
  const b64 = (f: string) => pem(f).toString('base64');
  const file = kubeconfig(
    tempDir(t),
    `      server: ${r.url}\n      certificate-authority-data: ${b64('ca.crt')}`,
    `      client-certificate-data: ${b64('client.crt')}\n      client-key-data: ${b64('client.key')}`,
  );
  const target = loadKubeconfig(file);
  assert.deepEqual(target.ca, pem('ca.crt'));
  const sink = await createSink(
    { type: 'webhook', kubeconfig: file, mode: 'blocking-strict', retry: { maxAttempts: 1 } },
    { registry: new Registry(), logger: quiet },
  );
  await sink.write(events(0, 1));
  assert.equal(r.seen[0]!.cn, 'vigil-shipper');
  await sink.close();
});

test('an unknown CA fails the delivery; insecure-skip-tls-verify accepts it', async (t) => {
  const r = await tlsReceiver(t);
  const dir = tempDir(t);
  const strict = await createSink(
    {
      type: 'webhook',
      kubeconfig: kubeconfig(dir, `      server: ${r.url}`, '      token: t'),
      mode: 'blocking-strict',
      retry: { maxAttempts: 1 },
    },
    { registry: new Registry(), logger: quiet },
  );
  await assert.rejects(
    strict.write(events(0, 1)),
    (e: unknown) => e instanceof DeliveryError && /certificate/.test(e.message),
  );
  await strict.close();
  const insecure = await createSink(
    {
      type: 'webhook',
      kubeconfig: kubeconfig(dir, `      server: ${r.url}\n      insecure-skip-tls-verify: true`, '      token: t'),
      mode: 'blocking-strict',
      retry: { maxAttempts: 1 },
    },
    { registry: new Registry(), logger: quiet },
  );
  await insecure.write(events(0, 1));
  assert.equal(r.seen.length, 1);
  await insecure.close();
});

test('kubeconfig errors name the file, line and column', () => {
  assert.throws(() => parseKubeconfig('clusters: [\n', 'a.yaml'), /^KubeconfigError: a\.yaml:2:1: /);
  assert.throws(
    () =>
      parseKubeconfig(
        'clusters:\n  - name: c\n    cluster: { server: "x" }\ncontexts:\n  - name: k\n    context: { cluster: c }\ncurrent-context: nope\n',
        'b.yaml',
      ),
    /b\.yaml:5:3: no contexts entry named "nope"/,
  );
  assert.throws(
    () => parseKubeconfig('clusters:\n  - name: c\n    cluster: { server: "ftp://x" }\n', 'c.yaml'),
    /c\.yaml:3:24: server "ftp:\/\/x" must be http or https/,
  );
  assert.throws(
    () =>
      parseKubeconfig(
        'clusters:\n  - name: c\n    cluster: { server: "https://x" }\nusers:\n  - name: u\n    user: { client-certificate-data: YQ== }\ncontexts:\n  - name: k\n    context: { cluster: c, user: u }\ncurrent-context: k\n',
        'd.yaml',
      ),
    /d\.yaml:6:11: user "u" needs both a client certificate and a client key/,
  );
  assert.throws(() => loadKubeconfig('/nonexistent/kubeconfig'), /\/nonexistent\/kubeconfig: cannot read kubeconfig/);
});

test('a single cluster without contexts is enough (minimal audit kubeconfigs)', () => {
  assert.deepEqual(parseKubeconfig('clusters:\n  - name: c\n    cluster: { server: "http://h/p" }\n', 'e.yaml'), {
    url: 'http://h/p',
  });
});
