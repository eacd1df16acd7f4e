// The `ocsf` output format validated field by field against OCSF 1.8.0's definition of the API Activity class
// (test/fixtures/ocsf-1.8.0, vendored unchanged with its licence): every attribute written is one the class or its
// object defines, with the dictionary's type, an enum value the schema lists and its caption as the sibling name;
// every required attribute is there, and each object's "at least one of" constraint holds. Run over the 51 real
// Kubernetes audit events of Falco's tests and events made to cover every verb, outcome and missing field.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { decodeKubernetesEvent } from '../../src/event/kubernetes.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { encodeOcsf, OCSF_VERSION } from '../../src/event/ocsf.ts';

const DIR = path.join(import.meta.dirname, '../fixtures/ocsf-1.8.0');
const load = (f: string) => JSON.parse(readFileSync(path.join(DIR, f), 'utf8'));
const DICT = load('dictionary.json');
const CATEGORIES = load('categories.json').attributes;

interface AttrDef {
  type?: string;
  object_type?: string;
  is_array?: boolean;
  requirement?: string;
  enum?: Record<string, { caption: string }>;
  sibling?: string;
  caption?: string;
}
interface Shape {
  attributes: Record<string, AttrDef>;
  constraints?: { at_least_one?: string[] };
  caption: string;
}

/** A definition with what it extends merged in (profiles, `$include`, are left out: Vigil writes none of theirs). */
function resolve(kind: 'events' | 'objects', name: string): Shape {
  const file =
    kind === 'objects'
      ? `objects/${name}.json`
      : name === 'base_event'
        ? 'events/base_event.json'
        : `events/application/${name}.json`;
  const d = load(file);
  const base: Shape = d.extends ? resolve(kind, d.extends) : { attributes: {}, caption: '' };
  const attributes = { ...base.attributes };
  for (const [k, v] of Object.entries(d.attributes ?? {}))
    if (k !== '$include') attributes[k] = { ...attributes[k], ...(v as AttrDef) };
  return { attributes, constraints: d.constraints ?? base.constraints, caption: d.caption ?? base.caption };
}

/** The dictionary's definition of an attribute, with the class's or object's overrides. */
function attr(name: string, local: AttrDef): AttrDef {
  const d = DICT.attributes[name] as AttrDef | undefined;
  assert.ok(d, `${name} is not in the OCSF dictionary`);
  return { ...d, ...local, enum: local.enum ? { ...d.enum, ...local.enum } : d.enum };
}

const SCALARS: Record<string, (v: unknown) => boolean> = {
  string_t: (v) => typeof v === 'string',
  integer_t: (v) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31,
  long_t: (v) => Number.isInteger(v),
  timestamp_t: (v) => Number.isInteger(v) && (v as number) > 0,
  ip_t: (v) => typeof v === 'string' && isIP(v) !== 0,
  boolean_t: (v) => typeof v === 'boolean',
  float_t: (v) => typeof v === 'number',
  json_t: () => true,
  url_t: (v) => typeof v === 'string',
  port_t: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535,
};

const CLASSIFIED = ['category_uid', 'class_uid', 'type_uid'];

function validate(value: unknown, shape: Shape, at: string, problems: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${at}: must be an object`);
    return;
  }
  const v = value as Record<string, unknown>;
  for (const [k, local] of Object.entries(shape.attributes))
    if (local.requirement === 'required' && !(k in v)) problems.push(`${at}.${k}: required, missing`);
  const one = shape.constraints?.at_least_one;
  if (one && !one.some((k) => k in v)) problems.push(`${at}: needs at least one of ${one.join(', ')}`);
  for (const [k, item] of Object.entries(v)) {
    const local = shape.attributes[k];
    if (!local) {
      problems.push(`${at}.${k}: not an attribute of ${shape.caption}`);
      continue;
    }
    const def = attr(k, local);
    if (def.is_array && !Array.isArray(item)) problems.push(`${at}.${k}: must be an array`);
    const items = def.is_array ? (Array.isArray(item) ? item : []) : [item];
    for (const [i, x] of items.entries()) {
      const p = def.is_array ? `${at}.${k}[${i}]` : `${at}.${k}`;
      const type = def.type!;
      // a dictionary type (username_t…) stands on a base scalar (string_t)
      const scalar = DICT.types.attributes[type] ? (DICT.types.attributes[type].type ?? type) : undefined;
      if (scalar !== undefined) {
        const check = SCALARS[type] ?? SCALARS[scalar];
        assert.ok(check, `no check for ${type}`);
        if (!check(x)) problems.push(`${p}: ${JSON.stringify(x)} is not a ${type}`);
      } else if (type === 'object') {
        if (typeof x !== 'object' || x === null) problems.push(`${p}: must be an object`);
      } else validate(x, resolve('objects', type), p, problems);
      // the base event's class and category enums are placeholders the schema compiler fills per class: these are
      // checked against categories.json and the class's uid below instead
      if (def.enum && !CLASSIFIED.includes(k)) {
        const e = def.enum[String(x)];
        if (!e) problems.push(`${p}: ${x} is not one of ${Object.keys(def.enum).join(', ')}`);
        else if (def.sibling && x !== 99 && def.sibling in v && v[def.sibling] !== e.caption)
          problems.push(`${at}.${def.sibling}: ${JSON.stringify(v[def.sibling])} is not the caption "${e.caption}"`);
      }
    }
  }
}

const CLASS = resolve('events', 'api_activity');
const CLASS_UID = CATEGORIES.application.uid * 1000 + load('events/application/api_activity.json').uid;

function problemsOf(e: AuditEvent & { id?: string }): string[] {
  const out = encodeOcsf(e);
  const problems: string[] = [];
  validate(out, CLASS, 'event', problems);
  if (out.class_uid !== CLASS_UID) problems.push(`class_uid ${out.class_uid} is not ${CLASS_UID}`);
  if (out.category_uid !== CATEGORIES.application.uid) problems.push('category_uid');
  if (out.category_name !== CATEGORIES.application.caption) problems.push('category_name');
  if (out.class_name !== CLASS.caption) problems.push(`class_name ${out.class_name} is not ${CLASS.caption}`);
  if (out.type_uid !== CLASS_UID * 100 + (out.activity_id as number)) problems.push('type_uid');
  return problems;
}

function made(over: Partial<AuditEvent>): AuditEvent {
  return {
    level: 'RequestResponse',
    auditID: '8f6ad5f2-3a4e-4b0f-9d5c-1c2b3a4d5e6f',
    stage: 'ResponseComplete',
    requestURI: '/apis/apps/v1/namespaces/payments/deployments/api?fieldManager=kubectl-client-side-apply',
    verb: 'patch',
    user: { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'] },
    sourceIPs: ['10.0.0.7', '192.168.0.1'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'deployments', namespace: 'payments', name: 'api', apiGroup: 'apps', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2026-03-01T12:00:00.123456Z',
    stageTimestamp: '2026-03-01T12:00:00.223456Z',
    workspace: 'finance',
    cluster: 'prod',
    annotations: { 'authorization.k8s.io/decision': 'allow' },
    source: 'kubernetes',
    ...over,
  };
}

test('the vendored class is API Activity 6003 of OCSF 1.8.0, the version the output names', () => {
  assert.equal(CLASS_UID, 6003);
  assert.equal(load('version.json').version, OCSF_VERSION);
  assert.deepEqual(
    Object.entries(CLASS.attributes)
      .filter(([, a]) => a.requirement === 'required')
      .map(([k]) => k)
      .sort(),
    [
      'activity_id',
      'actor',
      'api',
      'category_uid',
      'class_uid',
      'metadata',
      'severity_id',
      'src_endpoint',
      'time',
      'type_uid',
    ],
  );
});

test('every real Kubernetes audit event of the Falco fixtures maps to a valid API Activity', () => {
  const lines = readFileSync(path.join(import.meta.dirname, '../fixtures/falco/k8saudit-events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 50);
  for (const [i, line] of lines.entries()) {
    const e = { ...decodeKubernetesEvent(JSON.parse(line)), id: String(i + 1) };
    assert.deepEqual(problemsOf(e), [], `line ${i + 1}`);
  }
});

test('every verb, outcome and missing field maps to a valid API Activity', () => {
  const cases: Partial<AuditEvent>[] = [
    ...['create', 'get', 'list', 'watch', 'update', 'patch', 'delete', 'deletecollection', 'proxy', 'escalate'].map(
      (verb) => ({ verb }),
    ),
    { responseStatus: { metadata: {}, code: 403, reason: 'Forbidden', message: 'secrets is forbidden' } },
    { responseStatus: undefined },
    { sourceIPs: undefined },
    { user: {} },
    { objectRef: undefined, requestURI: '/healthz' },
    { objectRef: { resource: 'pods', subresource: 'exec', namespace: 'a', name: 'p' } },
    { impersonatedUser: { username: 'bob' }, workspace: undefined, cluster: undefined, annotations: undefined },
    { sourceIPs: ['fd00::1'] },
  ];
  for (const c of cases) assert.deepEqual(problemsOf({ ...made(c), id: '7' }), [], JSON.stringify(c));
});

test('the mapping of docs/forwarding.md', () => {
  const o = encodeOcsf({ ...made({}), id: '42' }) as Record<string, unknown>;
  assert.equal(o.activity_id, 3);
  assert.equal(o.type_uid, 600303);
  assert.equal(o.type_name, 'API Activity: Update');
  assert.equal(o.time, Date.parse('2026-03-01T12:00:00.123Z'));
  assert.equal(o.end_time, Date.parse('2026-03-01T12:00:00.223Z'));
  assert.equal(o.status_id, 1);
  assert.equal(o.status_code, '200');
  assert.deepEqual(o.metadata, {
    version: '1.8.0',
    product: { name: 'Vigil', vendor_name: 'Vigil' },
    uid: '42',
    correlation_uid: '8f6ad5f2-3a4e-4b0f-9d5c-1c2b3a4d5e6f',
    event_code: 'ResponseComplete',
    log_name: 'kubernetes',
    original_time: '2026-03-01T12:00:00.123456Z',
    labels: ['cluster:prod', 'workspace:finance'],
  });
  assert.deepEqual(o.actor, {
    user: { name: 'alice', uid: 'u-1', groups: [{ name: 'dev' }, { name: 'system:authenticated' }] },
  });
  assert.deepEqual(o.api, {
    operation: 'patch',
    version: 'v1',
    group: { name: 'apps' },
    service: { name: 'kubernetes' },
    request: { uid: '8f6ad5f2-3a4e-4b0f-9d5c-1c2b3a4d5e6f' },
    response: { code: 200 },
  });
  assert.deepEqual(o.src_endpoint, { ip: '10.0.0.7', intermediate_ips: ['192.168.0.1'] });
  assert.deepEqual(o.resources, [
    { type: 'deployments', name: 'api', namespace: 'payments', version: 'v1', group: { name: 'apps' } },
  ]);
  assert.deepEqual(o.http_request, {
    user_agent: 'kubectl/v1.30.0',
    url: {
      path: '/apis/apps/v1/namespaces/payments/deployments/api',
      query_string: 'fieldManager=kubectl-client-side-apply',
    },
  });
  assert.deepEqual(o.http_response, { code: 200 });
  const denied = encodeOcsf(made({ verb: 'get', responseStatus: { metadata: {}, code: 403, message: 'forbidden' } }));
  assert.equal(denied.status_id, 2);
  assert.equal(denied.status, 'Failure');
  assert.equal(denied.status_detail, 'forbidden');
});
