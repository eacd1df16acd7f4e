// `vigil k8s webhook-config` prints kube-apiserver's --audit-webhook-config-file. The printed kubeconfig is read by
// Vigil's own kubeconfig loader and drives the webhook sink (what kube-apiserver's webhook backend does) against a
// real collector on HTTPS that takes only that client certificate or that bearer token.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { createSink, DeliveryError, loadKubeconfig } from '../../src/sinks/index.ts';
import { vigil } from '../helpers/cli.ts';
import { Pki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/temp.ts';
import { event } from '../server/fixtures.ts';

const pki = new Pki(tempDir('vigil-k8s-pki-'));
const f = (name: string) => pki.file(name);
let server: RunningServer;
let hook: string;

before(async () => {
  pki.ca('ca');
  pki.cert('server', '127.0.0.1', 'ca', 'IP:127.0.0.1');
  pki.cert('apiserver', 'kube-apiserver', 'ca');
  pki.cert('other', 'someone-else', 'ca');
  pki.ca('rogue-ca');
  writeFileSync(f('apiserver.token'), 'apiserver-token-4f2a9c\n');
  writeFileSync(f('wrong.token'), 'not-the-token\n');
  writeFileSync(
    f('vigil.yaml'),
    `tls: { cert: server.crt, key: server.key, clientCA: ca.crt, clientAuth: request }
auth:
  tokens:
    - { name: ops, token: ops-token, role: admin }
    - { name: apiserver, token: apiserver-token-4f2a9c, role: ingest }
  clientCerts:
    - { subject: kube-apiserver, role: ingest }
rules: { enabled: false }
`,
  );
  server = await startServer(loadConfig(f('vigil.yaml'), { listen: '127.0.0.1:0', data: f('data') }), {
    logger: false,
  });
  hook = `${server.url}/audit/webhook/event`;
});
after(() => server?.close());

/** The audit IDs stored, asked over HTTPS with the admin token. */
function stored(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server.url}/api/v1/events?size=1000`,
      { headers: { authorization: 'Bearer ops-token' }, ca: readFileSync(f('ca.crt')), agent: false },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve(JSON.parse(text).items.map((e: AuditEvent) => e.auditID)));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Prints the kubeconfig with `args`, saves it in a folder of its own, and returns its path and text. */
async function printed(args: string[]): Promise<{ file: string; text: string }> {
  const r = await vigil(['k8s', 'webhook-config', ...args]);
  assert.equal(r.code, 0, r.err);
  const file = path.join(tempDir('vigil-k8s-kubeconfig-'), 'audit-webhook.kubeconfig');
  writeFileSync(file, r.out);
  return { file, text: r.out };
}

/** Delivers `events` as kube-apiserver would, through the webhook sink built from the kubeconfig. */
async function deliver(kubeconfig: string, events: AuditEvent[]): Promise<void> {
  const sink = await createSink(
    { type: 'webhook', kubeconfig, mode: 'blocking-strict', retry: { maxAttempts: 1 } },
    { logger: { warn() {}, error() {} } },
  );
  try {
    await sink.write(events);
  } finally {
    await sink.close();
  }
}

describe('vigil k8s webhook-config', () => {
  test('a client certificate: the printed kubeconfig embeds CA, certificate and key, and the collector takes the batch', async () => {
    const { file, text } = await printed([
      '--server',
      hook,
      '--ca-file',
      f('ca.crt'),
      '--client-cert',
      f('apiserver.crt'),
      '--client-key',
      f('apiserver.key'),
    ]);
    const doc = parse(text);
    assert.equal(doc.kind, 'Config');
    assert.equal(doc['current-context'], 'vigil');
    assert.equal(doc.clusters[0].cluster.server, hook);
    assert.ok(doc.clusters[0].cluster['certificate-authority-data']);
    assert.ok(doc.users[0].user['client-certificate-data']);
    assert.ok(doc.users[0].user['client-key-data']);
    assert.doesNotMatch(text, new RegExp(pki.dir.replace(/[/\\.]/g, '\\$&')), 'embedded, not referring to files');
    const target = loadKubeconfig(file);
    assert.equal(target.url, hook);
    assert.equal(target.token, undefined);
    await deliver(file, [event({ auditID: 'k8s-cert-1' }), event({ auditID: 'k8s-cert-2' })]);
    const ids = await stored();
    assert.ok(ids.includes('k8s-cert-1') && ids.includes('k8s-cert-2'));
  });

  test('a bearer token: the printed kubeconfig carries it and the collector takes the batch', async () => {
    const { file, text } = await printed([
      '--server',
      hook,
      '--ca-file',
      f('ca.crt'),
      '--token-file',
      f('apiserver.token'),
    ]);
    assert.equal(parse(text).users[0].user.token, 'apiserver-token-4f2a9c');
    await deliver(file, [event({ auditID: 'k8s-token-1' })]);
    assert.ok((await stored()).includes('k8s-token-1'));
  });

  test('--reference writes absolute file names (tokenFile, certificate-authority), which the loader reads', async () => {
    const { file, text } = await printed([
      '--server',
      hook,
      '--ca-file',
      f('ca.crt'),
      '--token-file',
      f('apiserver.token'),
      '--reference',
    ]);
    const doc = parse(text);
    assert.equal(doc.clusters[0].cluster['certificate-authority'], f('ca.crt'));
    assert.equal(doc.users[0].user.tokenFile, f('apiserver.token'));
    assert.equal(doc.users[0].user.token, undefined);
    await deliver(file, [event({ auditID: 'k8s-ref-1' })]);
    assert.ok((await stored()).includes('k8s-ref-1'));
  });

  test('the collector refuses a kubeconfig without those credentials, or with others', async () => {
    const cases: [string[], number][] = [
      [['--ca-file', f('ca.crt')], 401],
      [['--ca-file', f('ca.crt'), '--token-file', f('wrong.token')], 401],
      [['--ca-file', f('ca.crt'), '--client-cert', f('other.crt'), '--client-key', f('other.key')], 401],
    ];
    for (const [args, status] of cases) {
      const { file } = await printed(['--server', hook, ...args]);
      await assert.rejects(
        deliver(file, [event({ auditID: 'k8s-refused' })]),
        (err: unknown) => err instanceof DeliveryError && err.status === status,
        args.join(' '),
      );
    }
    // Another CA than the collector's: the TLS handshake fails before anything is sent.
    const { file } = await printed([
      '--server',
      hook,
      '--ca-file',
      f('rogue-ca.crt'),
      '--token-file',
      f('apiserver.token'),
    ]);
    await assert.rejects(deliver(file, [event({ auditID: 'k8s-refused' })]), /certificate/);
    assert.ok(!(await stored()).includes('k8s-refused'));
  });

  test('a server URL without a path gets /audit/webhook/event', async () => {
    const { text } = await printed(['--server', server.url, '--ca-file', f('ca.crt')]);
    assert.equal(parse(text).clusters[0].cluster.server, hook);
  });

  test('bad flags and files: one line naming the problem, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--server URL is required/],
      [['--server', 'not a url'], /"not a url" is not a URL/],
      [['--server', 'ftp://x/'], /must be an https/],
      [['--server', hook, '--client-cert', f('apiserver.crt')], /--client-cert and --client-key go together/],
      [
        ['--server', hook, '--client-cert', f('apiserver.crt'), '--client-key', f('other.key')],
        /apiserver\.crt|other\.key.*is not the key/,
      ],
      [
        [
          '--server',
          hook,
          '--client-cert',
          f('apiserver.crt'),
          '--client-key',
          f('apiserver.key'),
          '--token-file',
          f('apiserver.token'),
        ],
        /either a client certificate .* or --token-file/,
      ],
      [['--server', hook, '--ca-file', f('missing.crt')], /--ca-file .*missing\.crt: cannot read: ENOENT/],
      [['--server', hook, '--ca-file', f('apiserver.key')], /no PEM certificate/],
      [['--server', 'http://127.0.0.1:1/x', '--ca-file', f('ca.crt')], /plain http/],
    ];
    for (const [args, message] of cases) {
      const r = await vigil(['k8s', 'webhook-config', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.out, '');
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
  });
});
