import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  decodeCadf,
  decodeEvents,
  decodeKubernetesEvent,
  EventValidationError,
  encodeOsloWire,
  formatLegacyLine,
} from '../../src/event/index.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const falco = () => readFileSync(new URL('../fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8');

test('JSON lines of Kubernetes events (the falco file)', () => {
  const events = decodeEvents(falco());
  assert.equal(events.length, 51);
  assert.deepStrictEqual(events[0], decodeKubernetesEvent(JSON.parse(falco().split('\n')[0])));
});

test('an EventList document, pretty-printed, and a KubeSphere batch', () => {
  assert.equal(
    decodeEvents(fixture('k8s-eventlist-v1alpha1.json'))[0].objectRef?.apiGroup,
    'rbac.authorization.k8s.io',
  );
  const ks = decodeEvents(fixture('kubesphere-batch.json'));
  assert.deepStrictEqual(
    ks.map((e) => e.source),
    ['kubesphere', 'kubesphere'],
  );
});

test('a JSON array mixing CADF notifications, a wire envelope, a bare CADF event and OpenFaaS events', () => {
  const req = JSON.parse(fixture('cadf-request-notification.json'));
  const resp = JSON.parse(fixture('cadf-response-notification.json'));
  const faas = JSON.parse(fixture('openfaas-delivery.json'))[0];
  const events = decodeEvents(JSON.stringify([req, encodeOsloWire(resp), resp.payload, faas]));
  assert.deepStrictEqual(
    events.map((e) => [e.source, e.stage]),
    [
      ['cadf', 'RequestReceived'],
      ['cadf', 'ResponseComplete'],
      ['cadf', 'ResponseComplete'],
      ['openfaas', 'ResponseComplete'],
    ],
  );
  assert.deepStrictEqual(events[2], { ...decodeCadf(resp), origin: { cadf: decodeCadf(resp).origin?.cadf } });
});

test('an OpenFaaS delivery body as sent (a JSON array)', () => {
  const [e] = decodeEvents(fixture('openfaas-delivery.json'));
  assert.equal(e.source, 'openfaas');
  assert.equal(e.verb, 'list');
});

test('legacy lines: the old two-line form pairs up, so the response line becomes a full event', () => {
  const events = decodeEvents(fixture('k8s-legacy.log'));
  assert.equal(events.length, 4);
  const [req, resp, req17, resp17] = events;
  assert.equal(resp.stage, 'ResponseComplete');
  assert.equal(resp.responseStatus?.code, 200);
  // Filled from the request line with the same id:
  assert.equal(resp.verb, 'get');
  assert.equal(resp.requestURI, '/api/v1/namespaces/default/pods');
  assert.deepStrictEqual(resp.user, req.user);
  assert.deepStrictEqual(resp.sourceIPs, ['127.0.0.1']);
  assert.deepStrictEqual(resp.objectRef, { namespace: 'default' });
  assert.equal(resp.requestReceivedTimestamp, req.requestReceivedTimestamp);
  assert.equal(resp.stageTimestamp, '2017-03-21T07:57:09.108403Z');
  // …and every line still formats back exactly.
  assert.deepStrictEqual(
    events.map((e) => formatLegacyLine(e)),
    fixture('k8s-legacy.log').split('\n').filter(Boolean),
  );
  assert.equal(req17.stage, 'RequestReceived');
  assert.equal(resp17.stage, 'ResponseComplete');
});

test('oslo log driver lines', () => {
  const n = JSON.stringify(JSON.parse(fixture('cadf-response-notification.json')));
  const line = `2024-05-01 10:00:00.123 1234 INFO oslo.messaging.notification.audit.http.response [None req-9 - - - - - -] ${n}`;
  const [e] = decodeEvents(`${line}\n`);
  assert.equal(e.source, 'cadf');
  assert.equal(e.responseStatus?.code, 200);
});

test("oslo.log's other lines (the service's own warnings) are passed over, its notifications read", () => {
  const n = JSON.stringify(JSON.parse(fixture('cadf-response-notification.json')));
  const text = [
    '2024-05-01 09:59:59.001 1234 WARNING keystonemiddleware.audit [-] The option "audit_map_file" is not known',
    `2024-05-01 10:00:00.123 1234 INFO oslo.messaging.notification.audit.http.response [None req-9 - - - - - -] ${n}`,
    '2024-05-01 10:00:00.200 1234 INFO octavia.api [None req-9 - - - - - -] GET /v2/lbaas/loadbalancers 200',
  ].join('\n');
  const events = decodeEvents(text);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.source, 'cadf');
  // a line that is neither is still an error: only oslo.log's own line shape is passed over
  assert.throws(() => decodeEvents(`${text}\nhello world\n`), /line 4: neither a JSON event nor a legacy audit line/);
});

test('empty input is no events; CRLF and a BOM are fine', () => {
  assert.deepStrictEqual(decodeEvents(''), []);
  assert.deepStrictEqual(decodeEvents(' \n\n'), []);
  const lines = falco().split('\n').filter(Boolean).slice(0, 2);
  assert.equal(decodeEvents(`\ufeff${lines.join('\r\n')}\r\n`).length, 2);
});

function rejects(text: string, line: number | undefined, field: string, why: RegExp) {
  assert.throws(
    () => decodeEvents(text),
    (err: unknown) => {
      assert.ok(err instanceof EventValidationError, String(err));
      assert.equal(err.line, line);
      assert.equal(err.field, field);
      assert.match(err.message, why);
      return true;
    },
  );
}

test('errors name the line (1-based) and the field', () => {
  const lines = falco().split('\n').filter(Boolean).slice(0, 3);
  const bad = JSON.parse(lines[1]);
  bad.stage = 'Done';
  lines[1] = JSON.stringify(bad);
  rejects(lines.join('\n'), 2, 'stage', /^line 2: stage: "Done" is not one of RequestReceived/);
  rejects(`${lines[0]}\n{"kind": 0}\n`, 2, 'kind', /^line 2: kind: expected a string, got number 0$/);
  rejects(`${lines[0]}\n{oops\n`, 2, '', /^line 2: not valid JSON/);
  rejects(`${lines[0]}\nhello world\n`, 2, '', /neither a JSON event nor a legacy audit line/);
  rejects('2024-01-01T00:00:00Z AUDIT: id="x" stage="Done"\n', 1, 'stage', /"Done"/);
  // Documents: the JSON path, and the line where that value starts.
  rejects('[{"kind": 0}]', 1, '[0].kind', /^line 1: \[0\]\.kind: expected a string/);
  rejects('{"items":[{},{"kind":0}]}', 1, 'items[0].level', /required/);
  rejects('{\n  "items": [\n    {,\n  ]\n}\n', undefined, '', /not valid JSON: .*line 3/);
  rejects('[1]', 1, '[0]', /expected an event object, got number 1/);
  const list = JSON.parse(fixture('k8s-eventlist-v1alpha1.json'));
  list.items.push({ ...list.items[0], user: { username: 'x', groups: ['a', 7] } });
  const pretty = JSON.stringify(list, null, 2);
  const want = pretty.split('\n').findIndex((l) => l.trim() === '7') + 1;
  rejects(pretty, want, 'items[1].user.groups[1]', /expected a string, got number 7/);
  // PascalCase members are found whatever their case; a path not found stops at the deepest part that is.
  const ks = JSON.parse(fixture('kubesphere-batch.json'));
  ks.Items[1].ObjectRef.Name = 5;
  const ksText = JSON.stringify(ks, null, 2);
  rejects(
    ksText,
    ksText.split('\n').findIndex((l) => l.includes('"Name": 5')) + 1,
    'Items[1].ObjectRef.Name',
    /string/,
  );
  delete ks.Items[1].AuditID;
  ks.Items[1].ObjectRef.Name = 'n';
  const noId = JSON.stringify(ks, null, 2);
  const secondItem = noId
    .split('\n')
    .findIndex((l, i, all) => l.trim() === '{' && all[i + 1]?.includes('"Devops"') && i > 10);
  rejects(noId, secondItem + 1, 'Items[1].auditID', /required/);
});

test("Vigil's canonical events (an export) read back unchanged, whatever format they came from", () => {
  const originals = [
    ...decodeEvents(fixture('k8s-legacy.log')),
    ...decodeEvents(fixture('kubesphere-batch.json')),
    ...decodeEvents(fixture('k8s-eventlist-v1alpha1.json')),
    decodeCadf(JSON.parse(fixture('cadf-response-notification.json'))),
    ...decodeEvents(fixture('openfaas-delivery.json')),
  ];
  const jsonLines = originals.map((e) => JSON.stringify(e)).join('\n');
  assert.deepStrictEqual(decodeEvents(jsonLines), originals);
  assert.deepStrictEqual(decodeEvents(JSON.stringify(originals)), originals);
  rejects(
    '{"level":"Metadata","auditID":"a","stage":"Panic","requestReceivedTimestamp":"2024-01-01T00:00:00Z","source":"x"}',
    1,
    'source',
    /"x" is not one of kubernetes/,
  );
});
