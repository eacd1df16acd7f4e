// `vigil import` goes through the collector's pipeline: the config's rules (the default ones drop reads), alerts,
// ingest.mask, limits and CADF pairing apply to a file exactly as to events sent to `vigil serve`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { alertsPathFor, openSqliteAlertStore } from '../../src/alerts/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { vigil } from '../helpers/cli.ts';
import { event } from '../server/fixtures.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as {
    payload: Record<string, unknown>;
  };

describe('vigil import stores as the collector does', () => {
  let dir: string;
  let store: Store;
  let result: Awaited<ReturnType<typeof vigil>>;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-import-'));
    writeFileSync(path.join(dir, 'vigil.yaml'), 'ingest:\n  mask: ["requestObject.spec.note"]\n');
    // A CADF call that the default rules keep (a write), as keystonemiddleware sends it: request, then response.
    const [request, response] = ['cadf-request-notification.json', 'cadf-response-notification.json'].map((f) => {
      const n = fixture(f);
      return { ...n, payload: { ...n.payload, action: 'create' } };
    });
    const lines = [
      event({ auditID: 'read-1', verb: 'get' }),
      event({
        auditID: 'hostnet-1',
        verb: 'create',
        requestURI: '/api/v1/namespaces/demo/pods',
        user: { username: 'mallory', groups: ['system:authenticated'] },
        objectRef: { resource: 'pods', namespace: 'demo', name: 'web', apiVersion: 'v1' },
        level: 'Request',
        requestObject: { kind: 'Pod', spec: { hostNetwork: true, note: 'hunter2', containers: [] } },
        responseStatus: { metadata: {}, code: 201 },
      }),
      request,
      response,
    ];
    const file = path.join(dir, 'audit.log');
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    result = await vigil(['import', '--config', path.join(dir, 'vigil.yaml'), '--data', dir, file]);
    store = await openStore({ type: 'sqlite', path: path.join(dir, 'vigil.db') });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('it succeeds and says what the rules ignored and the alerts raised', () => {
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /imported \d+ events \(0 already stored, 1 ignored by the rules, 1 alerts raised\)/);
  });

  test('a get, which the default rules drop, is not stored', async () => {
    assert.equal((await store.query({ exact: { auditID: ['read-1'] } }, { sort: 'desc', size: 10 })).total, 0);
  });

  test('an alerting event is stored and raises its alert', async () => {
    const page = await store.query({ exact: { auditID: ['hostnet-1'] } }, { sort: 'desc', size: 10 });
    assert.equal(page.total, 1);
    const alerts = openSqliteAlertStore(alertsPathFor(path.join(dir, 'vigil.db')), path.join(dir, 'vigil.db'));
    try {
      const raised = await alerts.query({ size: 10 });
      assert.equal(raised.total, 1);
      assert.equal(raised.items[0]!.rule, 'alerting-rule.CreateHostnetworkPod');
      assert.equal(raised.items[0]!.eventId, page.items[0]!.id);
    } finally {
      await alerts.close();
    }
  });

  test('a path of ingest.mask is masked', async () => {
    const [e] = (await store.query({ exact: { auditID: ['hostnet-1'] } }, { sort: 'desc', size: 10 })).items;
    assert.equal((e!.requestObject as { spec: { note: string } }).spec.note, '***');
  });

  test("a CADF call's request and response are one event, with the response's outcome", async () => {
    const page = await store.query(
      { exact: { auditID: ['8cf14af5-246e-5739-a11e-513ca13b7d36'] } },
      { sort: 'desc', size: 10 },
    );
    assert.equal(page.total, 1);
    assert.equal(page.items[0]!.stage, 'ResponseComplete');
    assert.equal((page.items[0]!.origin?.cadf as { outcome?: string } | undefined)?.outcome, 'success');
  });
});

test("vigil import applies the config's limits: a field over ingest.limits.maxFieldLength fails, naming it", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-import-'));
  try {
    writeFileSync(
      path.join(dir, 'vigil.yaml'),
      'rules: { enabled: false }\ningest:\n  limits: { maxFieldLength: 256 }\n',
    );
    const file = path.join(dir, 'long.log');
    writeFileSync(file, `${JSON.stringify(event({ auditID: 'long-1', user: { username: 'u'.repeat(300) } }))}\n`);
    const r = await vigil(['import', '--config', path.join(dir, 'vigil.yaml'), '--data', dir, file]);
    assert.equal(r.code, 2);
    assert.match(r.err, /long\.log: line 1: user\.username: 300 characters exceed the limit of 256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
