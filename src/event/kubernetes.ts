// Kubernetes audit events (audit.k8s.io v1, v1beta1, v1alpha1) and KubeSphere's events (the same struct, written
// with Go's default PascalCase member names, plus Workspace/Devops/Cluster/Message) ⇄ the canonical AuditEvent.
//
// Decoding is on the hot path of every receiver (a webhook batch is an EventList of up to 400 events), so the common
// case — camelCase keys as kube-apiserver writes them — reuses the parsed sub-objects (user, objectRef,
// responseStatus, bodies, annotations) after type checks and allocates only the event itself. Anything else
// (PascalCase, odd casing) is first re-keyed case-insensitively, as Go's decoder matches member names, then takes
// the same path.

import { applyFieldLimits, checkDepth, checkEventCount, type DecodeLimits, resolveLimits } from './limits.ts';
import {
  type AuditEvent,
  type EventOrigin,
  isLevel,
  isStage,
  LEVELS,
  type ObjectReference,
  SOURCES,
  type Source,
  STAGES,
  type UserInfo,
} from './model.ts';
import { isMicroTime, toMicroTime } from './time.ts';
import { EventValidationError, expected, fail, isObject, parseJson, put } from './validate.ts';

export const AUDIT_V1 = 'audit.k8s.io/v1';
const VERSIONS = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1', 'audit.k8s.io/v1alpha1'];

type Obj = Record<string, unknown>;

// Canonical member names by their lower-cased spelling, per nested struct (Go matches case-insensitively).
const EVENT_KEYS = keyTable([
  'kind',
  'apiVersion',
  'metadata',
  'level',
  'timestamp',
  'auditID',
  'stage',
  'requestURI',
  'verb',
  'user',
  'impersonatedUser',
  'authenticationMetadata',
  'sourceIPs',
  'userAgent',
  'objectRef',
  'responseStatus',
  'requestObject',
  'responseObject',
  'requestReceivedTimestamp',
  'stageTimestamp',
  'annotations',
  'workspace',
  'devops',
  'cluster',
  'message',
]);
const USER_KEYS = keyTable(['username', 'uid', 'groups', 'extra']);
const OBJECT_REF_KEYS = keyTable([
  'resource',
  'namespace',
  'name',
  'uid',
  'apiGroup',
  'apiVersion',
  'resourceVersion',
  'subresource',
]);
const STATUS_KEYS = keyTable(['kind', 'apiVersion', 'metadata', 'status', 'message', 'reason', 'details', 'code']);
const NESTED: Record<string, Map<string, string>> = {
  user: USER_KEYS,
  impersonatedUser: USER_KEYS,
  objectRef: OBJECT_REF_KEYS,
  responseStatus: STATUS_KEYS,
};

function isSource(v: unknown): v is Source {
  return typeof v === 'string' && (SOURCES as readonly string[]).includes(v);
}

function keyTable(names: string[]): Map<string, string> {
  return new Map(names.map((n) => [n.toLowerCase(), n]));
}

/**
 * Re-keys `obj` to canonical camelCase (unknown members dropped, as Go ignores them). `spelled` collects the
 * original spelling of every renamed path so errors can name the field as the input wrote it.
 */
function rekey(
  obj: Obj,
  table: Map<string, string>,
  nested: boolean,
  spelled: Map<string, string>,
  prefix: string,
  original: string,
): Obj {
  const out: Obj = {};
  for (const k in obj) {
    const name = table.get(k.toLowerCase());
    if (name === undefined) continue;
    let v = obj[k];
    // KubeSphere writes Go's internal struct without omitempty: "" and null mean "not set".
    if (v === '' || v === null) continue;
    const path = prefix + name;
    const as = original + k;
    if (path !== as) spelled.set(path, as);
    const sub = nested ? NESTED[name] : undefined;
    if (sub && isObject(v)) v = rekey(v, sub, false, spelled, `${path}.`, `${as}.`);
    out[name] = v;
  }
  return out;
}

/** The field of an error as the input spelled it (`objectRef.name` → `ObjectRef.Name`). */
function respell(err: unknown, spelled: Map<string, string>): unknown {
  if (!(err instanceof EventValidationError) || spelled.size === 0) return err;
  const parts = err.field.split('.');
  for (let n = Math.min(parts.length, 2); n > 0; n--) {
    const head = parts.slice(0, n).join('.');
    const as = spelled.get(head);
    if (as !== undefined) return new EventValidationError([as, ...parts.slice(n)].join('.'), err.reason, err.line);
  }
  return err;
}

/** An optional string member, read by the caller with a named (monomorphic) property access. */
function str(v: unknown, base: string, key: string): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (v === undefined || v === null) return undefined;
  return expected(base, key, 'a string', v);
}

function stringArray(v: unknown, base: string, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) expected(base, key, 'an array of strings', v);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') expected(base, `${key}[${i}]`, 'a string', v[i]);
  }
  return v as string[];
}

function checkUser(v: unknown, key: string): UserInfo | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) expected('', key, 'an object', v);
  str(v.username, key, 'username');
  str(v.uid, key, 'uid');
  stringArray(v.groups, key, 'groups');
  const extra = v.extra;
  if (extra !== undefined && extra !== null) {
    if (!isObject(extra)) expected(key, 'extra', 'an object of string arrays', extra);
    for (const k in extra) stringArray(extra[k], `${key}.extra`, k);
  }
  return v as UserInfo;
}

function checkStringMap(v: unknown, key: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) expected('', key, 'an object of strings', v);
  for (const k in v) if (typeof v[k] !== 'string') expected(key, k, 'a string', v[k]);
  return v as Record<string, string>;
}

function time(v: unknown, key: string): string {
  if (typeof v !== 'string') expected('', key, 'an RFC 3339 timestamp string', v);
  if (isMicroTime(v)) return v;
  try {
    return toMicroTime(v);
  } catch (err) {
    throw new EventValidationError(key, (err as Error).message);
  }
}

function checkObjectRef(v: unknown, version: string | undefined): ObjectReference | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) expected('', 'objectRef', 'an object', v);
  const b = 'objectRef';
  str(v.resource, b, 'resource');
  str(v.namespace, b, 'namespace');
  str(v.name, b, 'name');
  str(v.uid, b, 'uid');
  str(v.apiGroup, b, 'apiGroup');
  str(v.apiVersion, b, 'apiVersion');
  str(v.resourceVersion, b, 'resourceVersion');
  str(v.subresource, b, 'subresource');
  // v1alpha1 had no apiGroup: its apiVersion was "group/version".
  if (version === 'audit.k8s.io/v1alpha1' && typeof v.apiVersion === 'string' && v.apiGroup === undefined) {
    const slash = v.apiVersion.indexOf('/');
    if (slash >= 0) {
      const { apiVersion, ...rest } = v;
      const ref: Obj = { ...rest };
      ref.apiGroup = apiVersion.slice(0, slash);
      ref.apiVersion = apiVersion.slice(slash + 1);
      return ref as ObjectReference;
    }
  }
  return v as ObjectReference;
}

function checkStatus(v: unknown): AuditEvent['responseStatus'] {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) expected('', 'responseStatus', 'an object (metav1.Status)', v);
  const code = v.code;
  if (code !== undefined && code !== null && (typeof code !== 'number' || !Number.isInteger(code))) {
    expected('responseStatus', 'code', 'an integer', code);
  }
  str(v.status, 'responseStatus', 'status');
  str(v.message, 'responseStatus', 'message');
  str(v.reason, 'responseStatus', 'reason');
  return v as AuditEvent['responseStatus'];
}

/**
 * One audit event (any audit.k8s.io version, or KubeSphere's PascalCase form) → AuditEvent. Errors name the field
 * relative to the event; `listVersion` is the enclosing EventList's apiVersion (items carry no kind/apiVersion).
 */
function decode(obj: unknown, listVersion: string | undefined, limits: Readonly<Required<DecodeLimits>>): AuditEvent {
  if (!isObject(obj)) expected('', '', 'an audit event object', obj);
  checkDepth(obj, limits);
  // Fast path: kube-apiserver's own camelCase. Anything else is re-keyed first, as Go's decoder would match it.
  if (typeof obj.auditID === 'string') return applyFieldLimits(decodeCanonical(obj, listVersion, false), limits);
  const spelled = new Map<string, string>();
  const o = rekey(obj, EVENT_KEYS, true, spelled, '', '');
  try {
    return applyFieldLimits(decodeCanonical(o, listVersion, spelled.size > 0), limits);
  } catch (err) {
    throw respell(err, spelled);
  }
}

function decodeCanonical(o: Obj, listVersion: string | undefined, pascal: boolean): AuditEvent {
  const kind = o.kind;
  if (kind !== undefined && kind !== null && kind !== '') {
    if (typeof kind !== 'string') expected('', 'kind', 'a string', kind);
    if (kind !== 'Event') fail('', 'kind', `${JSON.stringify(kind)} is not "Event"`);
  }
  let version = listVersion;
  const apiVersion = o.apiVersion;
  if (apiVersion !== undefined && apiVersion !== null && apiVersion !== '') {
    if (typeof apiVersion !== 'string') expected('', 'apiVersion', 'a string', apiVersion);
    if (!VERSIONS.includes(apiVersion)) {
      fail('', 'apiVersion', `${JSON.stringify(apiVersion)} is not one of ${VERSIONS.join(', ')}`);
    }
    version = apiVersion;
  }

  const level = o.level;
  if (!isLevel(level)) {
    if (level === undefined || level === null) fail('', 'level', 'required');
    fail('', 'level', `${JSON.stringify(level)} is not one of ${LEVELS.join(', ')}`);
  }
  const auditID = o.auditID;
  if (typeof auditID !== 'string' || auditID === '') {
    if (auditID === undefined || auditID === null || auditID === '') fail('', 'auditID', 'required');
    expected('', 'auditID', 'a string', auditID);
  }
  const stage = o.stage;
  if (!isStage(stage)) {
    if (stage === undefined || stage === null) fail('', 'stage', 'required');
    fail('', 'stage', `${JSON.stringify(stage)} is not one of ${STAGES.join(', ')}`);
  }
  const requestURI = o.requestURI ?? '';
  if (typeof requestURI !== 'string') expected('', 'requestURI', 'a string', requestURI);
  const verb = o.verb ?? '';
  if (typeof verb !== 'string') expected('', 'verb', 'a string', verb);
  const user = checkUser(o.user, 'user') ?? {};
  // v1alpha1 had only `timestamp`; v1beta1 carried both (kept requestReceivedTimestamp).
  const rrtIn = o.requestReceivedTimestamp ?? o.timestamp;
  if (rrtIn === undefined || rrtIn === null) fail('', 'requestReceivedTimestamp', 'required');
  const requestReceivedTimestamp = time(
    rrtIn,
    o.requestReceivedTimestamp == null ? 'timestamp' : 'requestReceivedTimestamp',
  );
  const st = o.stageTimestamp;
  const stageTimestamp = st === undefined || st === null ? requestReceivedTimestamp : time(st, 'stageTimestamp');

  // Every always-present member in one literal, so they sit inside the object; optional ones are added after.
  const e: AuditEvent = {
    level,
    auditID,
    stage,
    requestURI,
    verb,
    user,
    requestReceivedTimestamp,
    stageTimestamp,
    source: 'kubernetes',
  };
  const impersonatedUser = checkUser(o.impersonatedUser, 'impersonatedUser');
  if (impersonatedUser) e.impersonatedUser = impersonatedUser;
  const am = o.authenticationMetadata;
  if (am !== undefined && am !== null) {
    if (!isObject(am)) expected('', 'authenticationMetadata', 'an object', am);
    e.authenticationMetadata = am;
  }
  const sourceIPs = stringArray(o.sourceIPs, '', 'sourceIPs');
  if (sourceIPs) e.sourceIPs = sourceIPs;
  const userAgent = str(o.userAgent, '', 'userAgent');
  if (userAgent !== undefined) e.userAgent = userAgent;
  const objectRef = checkObjectRef(o.objectRef, version);
  if (objectRef) e.objectRef = objectRef;
  const responseStatus = checkStatus(o.responseStatus);
  if (responseStatus) e.responseStatus = responseStatus;
  if (o.requestObject !== undefined && o.requestObject !== null) e.requestObject = o.requestObject;
  if (o.responseObject !== undefined && o.responseObject !== null) e.responseObject = o.responseObject;

  const annotations = checkStringMap(o.annotations, 'annotations');
  if (annotations) e.annotations = annotations;

  let kubesphere = pascal;
  const workspace = o.workspace !== undefined ? str(o.workspace, '', 'workspace') : str(o.Workspace, '', 'Workspace');
  if (workspace !== undefined) {
    e.workspace = workspace;
    kubesphere = true;
  }
  const cluster = o.cluster !== undefined ? str(o.cluster, '', 'cluster') : str(o.Cluster, '', 'Cluster');
  if (cluster !== undefined) {
    e.cluster = cluster;
    kubesphere = true;
  }
  const devops = o.devops !== undefined ? str(o.devops, '', 'devops') : str(o.Devops, '', 'Devops');
  if (devops !== undefined) {
    e.devops = devops;
    kubesphere = true;
  }
  if (kubesphere) e.source = 'kubesphere';
  const message = o.message !== undefined ? str(o.message, '', 'message') : str(o.Message, '', 'Message');
  if ((version !== undefined && version !== AUDIT_V1) || message !== undefined) {
    const k: Obj = {};
    if (version !== undefined && version !== AUDIT_V1) k.apiVersion = version;
    if (message !== undefined) k.message = message;
    e.origin = { kubernetes: k };
  }
  // Vigil's own canonical events (exports, /ingest/events) are v1 events plus `source` and `origin`: keep them.
  const source = o.source;
  if (source !== undefined && source !== null) {
    if (!isSource(source)) fail('', 'source', `${JSON.stringify(source)} is not one of ${SOURCES.join(', ')}`);
    e.source = source;
  }
  const origin = o.origin;
  if (origin !== undefined && origin !== null) {
    if (!isObject(origin)) expected('', 'origin', 'an object', origin);
    e.origin = origin as EventOrigin;
  }
  return e;
}

/** Decodes one audit event object; `path` (e.g. `items[3]`) prefixes the field named in errors. */
export function decodeKubernetesEvent(obj: unknown, path = '', limits?: DecodeLimits): AuditEvent {
  try {
    return decode(obj, undefined, resolveLimits(limits));
  } catch (err) {
    if (path && err instanceof EventValidationError) throw err.under(path);
    throw err;
  }
}

function findItems(o: Obj): { key: string; items: unknown } {
  if (o.items !== undefined) return { key: 'items', items: o.items };
  for (const k in o) if (k.toLowerCase() === 'items') return { key: k, items: o[k] };
  return { key: 'items', items: undefined };
}

/**
 * A webhook body → events: Kubernetes `EventList` (`items`, version from the list), KubeSphere's `{"Items": […]}`,
 * or a bare JSON array of events (KubeSphere's alerting endpoint). Errors name `items[i].field`.
 */
export function decodeEventList(input: string | Buffer | object, limits?: DecodeLimits): AuditEvent[] {
  const lim = resolveLimits(limits);
  const body =
    typeof input === 'string'
      ? parseJson(input, 'EventList')
      : Buffer.isBuffer(input)
        ? parseJson(input.toString('utf8'), 'EventList')
        : input;
  let items: unknown;
  let key = '';
  let version: string | undefined;
  if (Array.isArray(body)) {
    items = body;
  } else {
    if (!isObject(body)) expected('', '', 'an EventList object', body);
    const kind = body.kind ?? body.Kind;
    if (kind !== undefined && kind !== null && kind !== '' && kind !== 'EventList') {
      fail('', 'kind', `${JSON.stringify(kind)} is not "EventList"`);
    }
    const av = body.apiVersion ?? body.APIVersion;
    if (av !== undefined && av !== null && av !== '') {
      if (typeof av !== 'string' || !VERSIONS.includes(av)) {
        fail('', 'apiVersion', `${JSON.stringify(av)} is not one of ${VERSIONS.join(', ')}`);
      }
      version = av;
    }
    const found = findItems(body);
    key = found.key;
    items = found.items ?? [];
    if (!Array.isArray(items)) expected('', key, 'an array of events', items);
  }
  const list = items as unknown[];
  checkEventCount(list.length, lim, key);
  const out = new Array<AuditEvent>(list.length);
  for (let i = 0; i < list.length; i++) {
    try {
      out[i] = decode(list[i], version, lim);
    } catch (err) {
      if (err instanceof EventValidationError) throw err.under(`${key}[${i}]`);
      throw err;
    }
  }
  return out;
}

// ---- encoding ----------------------------------------------------------------------------------------------

function sortedMap<T>(m: Record<string, T>): Record<string, T> {
  // Go's encoder writes map keys sorted; keep the object when it already is.
  const keys = Object.keys(m);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1] > keys[i]) {
      sorted = false;
      break;
    }
  }
  if (sorted) return m;
  const out: Record<string, T> = {};
  for (const k of keys.sort()) put(out, k, m[k]);
  return out;
}

function encodeUser(u: UserInfo): Obj {
  const out: Obj = {};
  if (u.username) out.username = u.username;
  if (u.uid) out.uid = u.uid;
  if (u.groups && u.groups.length > 0) out.groups = u.groups;
  if (u.extra && Object.keys(u.extra).length > 0) out.extra = sortedMap(u.extra);
  return out;
}

function encodeObjectRef(r: ObjectReference): Obj {
  const out: Obj = {};
  if (r.resource) out.resource = r.resource;
  if (r.namespace) out.namespace = r.namespace;
  if (r.name) out.name = r.name;
  if (r.uid) out.uid = r.uid;
  if (r.apiGroup) out.apiGroup = r.apiGroup;
  if (r.apiVersion) out.apiVersion = r.apiVersion;
  if (r.resourceVersion) out.resourceVersion = r.resourceVersion;
  if (r.subresource) out.subresource = r.subresource;
  return out;
}

function encodeStatus(s: NonNullable<AuditEvent['responseStatus']>): Obj {
  // metav1.Status field order; ListMeta `metadata` is always written.
  const out: Obj = { metadata: s.metadata ?? {} };
  if (s.status) out.status = s.status;
  if (s.message) out.message = s.message;
  if (s.reason) out.reason = s.reason;
  if (s.details !== undefined && s.details !== null) out.details = s.details;
  if (s.code) out.code = s.code;
  return out;
}

/**
 * AuditEvent → audit.k8s.io/v1 Event object in the struct's field order with Go's omitempty rules. KubeSphere's
 * members (Workspace, Devops, Cluster, Message) are appended, as KubeSphere spells them, only when set. The
 * Vigil-only `source`/`origin` are not written. `typeMeta` (default true) adds kind/apiVersion, as log lines carry;
 * EventList items go without.
 */
export function encodeKubernetesEvent(e: AuditEvent, opts: { typeMeta?: boolean } = {}): Record<string, unknown> {
  const out: Obj = {};
  if (opts.typeMeta !== false) {
    out.kind = 'Event';
    out.apiVersion = AUDIT_V1;
  }
  out.level = e.level;
  out.auditID = e.auditID;
  out.stage = e.stage;
  out.requestURI = e.requestURI;
  out.verb = e.verb;
  out.user = encodeUser(e.user ?? {});
  if (e.impersonatedUser) out.impersonatedUser = encodeUser(e.impersonatedUser);
  if (e.authenticationMetadata) out.authenticationMetadata = e.authenticationMetadata;
  if (e.sourceIPs && e.sourceIPs.length > 0) out.sourceIPs = e.sourceIPs;
  if (e.userAgent) out.userAgent = e.userAgent;
  if (e.objectRef) out.objectRef = encodeObjectRef(e.objectRef);
  if (e.responseStatus) out.responseStatus = encodeStatus(e.responseStatus);
  if (e.requestObject !== undefined && e.requestObject !== null) out.requestObject = e.requestObject;
  if (e.responseObject !== undefined && e.responseObject !== null) out.responseObject = e.responseObject;
  out.requestReceivedTimestamp = e.requestReceivedTimestamp;
  out.stageTimestamp = e.stageTimestamp;
  if (e.annotations && Object.keys(e.annotations).length > 0) out.annotations = sortedMap(e.annotations);
  if (e.devops) out.Devops = e.devops;
  if (e.workspace) out.Workspace = e.workspace;
  if (e.cluster) out.Cluster = e.cluster;
  const message = e.origin?.kubernetes?.message;
  if (typeof message === 'string' && message) out.Message = message;
  return out;
}

/** Events → the audit.k8s.io/v1 `EventList` a kube-apiserver webhook posts (items without kind/apiVersion). */
export function encodeEventList(events: readonly AuditEvent[]): Record<string, unknown> {
  return {
    kind: 'EventList',
    apiVersion: AUDIT_V1,
    metadata: {},
    items: events.map((e) => encodeKubernetesEvent(e, { typeMeta: false })),
  };
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;
const HTML_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};
const htmlEscape = (c: string): string => HTML_ESCAPES[c]!;

/** Go's `encoding/json` output for a string already produced by JSON.stringify: HTML characters escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(HTML_UNSAFE, htmlEscape);
}

// ---- the log line ------------------------------------------------------------------------------------------
// formatKubernetesJSON runs once per audited request, so it writes the line itself rather than stringifying the
// object encodeKubernetesEvent builds (JSON.stringify walks every member and checks every character; here the
// member names are constants and each string costs one regular-expression test). Members come in the struct's
// order under encodeKubernetesEvent's omitempty tests; a string is written as it is unless it holds a character
// JSON or Go escapes, and values of no fixed shape (bodies, metadata, maps) or of an unexpected type go through
// goJson. The bytes are exactly goJson(encodeKubernetesEvent(e)): test/event/kubernetes-line.test.ts checks
// that on random events.

/**
 * A character that JSON.stringify escapes (`"`, `\`, controls, surrogates: a lone one is escaped, a valid pair
 * only takes the slower path) or that Go adds (`<`, `>`, `&`, U+2028, U+2029).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON must escape.
const NEEDS_ESCAPE = /["\\\u0000-\u001f<>&\u2028\u2029\ud800-\udfff]/;

/** A string's JSON form without its quotes. */
function inner(s: string): string {
  return NEEDS_ESCAPE.test(s) ? goJson(s).slice(1, -1) : s;
}

/** Any value as goJson writes it; undefined where JSON.stringify writes nothing (the member is then left out). */
function json(v: unknown): string | undefined {
  if (typeof v === 'string') return `"${inner(v)}"`;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (isEmptyObject(v)) return '{}';
  const j = JSON.stringify(v);
  return j === undefined ? undefined : j.replace(HTML_UNSAFE, htmlEscape);
}

/** `{}` as JSON.stringify sees it (Status.metadata nearly always is). */
function isEmptyObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  if ((v as { toJSON?: unknown }).toJSON !== undefined) return false;
  for (const _ in v) return false;
  return true;
}

// Each piece appended to the line costs a little when it is built and again when the line is flattened for
// writing, so member names come as constants that include the separator and the value's opening quote.

/** A string member Go omits when empty; `prefix` is `,"key":"` (ending in the opening quote). */
function stringMember(prefix: string, v: unknown): string {
  if (typeof v === 'string') return v === '' ? '' : `${prefix}${inner(v)}"`;
  return v ? valueMember(prefix.slice(0, -1), v) : '';
}

/** `prefix` (`,"key":`) and the value's JSON, or nothing when it has none. */
function valueMember(prefix: string, v: unknown): string {
  const j = json(v);
  return j === undefined ? '' : prefix + j;
}

/** An array of strings joined in one go when none needs escaping (`prefix` is `,"key":["`); else as JSON. */
function stringsMember(prefix: string, a: unknown): string {
  if (Array.isArray(a)) {
    let plain = true;
    for (let i = 0; i < a.length && plain; i++) plain = typeof a[i] === 'string' && !NEEDS_ESCAPE.test(a[i]);
    if (plain) return a.length === 1 ? `${prefix}${a[0]}"]` : `${prefix}${a.join('","')}"]`;
  }
  return valueMember(prefix.slice(0, -2), a);
}

function userJson(u: UserInfo): string {
  const { username, uid, groups, extra } = u;
  let m = '';
  if (uid) m += stringMember(',"uid":"', uid);
  if (groups && groups.length > 0) m += stringsMember(',"groups":["', groups);
  if (extra && Object.keys(extra).length > 0) m += valueMember(',"extra":', sortedMap(extra));
  // The username leads and nearly always is there: its prefix opens the object, so no comma has to be cut.
  if (typeof username === 'string' && username !== '') return `{"username":"${inner(username)}"${m}}`;
  m = stringMember(',"username":"', username) + m;
  return m === '' ? '{}' : `{${m.slice(1)}}`;
}

function objectRefJson(r: ObjectReference): string {
  // Named reads, not a loop over the member names: a keyed read with a different name each time is a slow lookup.
  const { resource, namespace, name, uid, apiGroup, apiVersion, resourceVersion, subresource } = r;
  let m = '';
  if (namespace) m += stringMember(',"namespace":"', namespace);
  if (name) m += stringMember(',"name":"', name);
  if (uid) m += stringMember(',"uid":"', uid);
  if (apiGroup) m += stringMember(',"apiGroup":"', apiGroup);
  if (apiVersion) m += stringMember(',"apiVersion":"', apiVersion);
  if (resourceVersion) m += stringMember(',"resourceVersion":"', resourceVersion);
  if (subresource) m += stringMember(',"subresource":"', subresource);
  // The resource leads and nearly always is there (as the username in userJson).
  if (typeof resource === 'string' && resource !== '') return `{"resource":"${inner(resource)}"${m}}`;
  m = stringMember(',"resource":"', resource) + m;
  return m === '' ? '{}' : `{${m.slice(1)}}`;
}

function statusJson(s: NonNullable<AuditEvent['responseStatus']>): string {
  const { status, message, reason, details, code } = s;
  let m = '';
  if (status) m += stringMember(',"status":"', status);
  if (message) m += stringMember(',"message":"', message);
  if (reason) m += stringMember(',"reason":"', reason);
  if (details !== undefined && details !== null) m += valueMember(',"details":', details);
  if (code) m += valueMember(',"code":', code);
  // metav1.Status always writes its ListMeta (left out only where JSON has no value for it, as JSON.stringify does).
  const metadata = json(s.metadata ?? {});
  if (metadata === '{}') return `{"metadata":{}${m}}`;
  if (metadata !== undefined) return `{"metadata":${metadata}${m}}`;
  return m === '' ? '{}' : `{${m.slice(1)}}`;
}

// The line's start up to the auditID, per level; and from the stage to the requestURI, per stage.
const LINE_HEAD = new Map(
  LEVELS.map((l) => [l, `{"kind":"Event","apiVersion":"${AUDIT_V1}","level":"${l}","auditID":"`] as const),
);
const LINE_STAGE = new Map(STAGES.map((s) => [s, `","stage":"${s}","requestURI":"`] as const));

/** One JSON log line as kube-apiserver writes it (kind/apiVersion, HTML-escaped), without the trailing newline. */
export function formatKubernetesJSON(e: AuditEvent): string {
  const head = LINE_HEAD.get(e.level);
  const stage = LINE_STAGE.get(e.stage);
  const { auditID, requestURI, verb, requestReceivedTimestamp, stageTimestamp, requestObject, responseObject } = e;
  if (
    // With a body, most of the line is JSON.stringify's work anyway, and one pass over all of it is cheaper.
    (requestObject !== undefined && requestObject !== null) ||
    (responseObject !== undefined && responseObject !== null) ||
    head === undefined ||
    stage === undefined ||
    typeof auditID !== 'string' ||
    typeof requestURI !== 'string' ||
    typeof verb !== 'string' ||
    typeof requestReceivedTimestamp !== 'string' ||
    typeof stageTimestamp !== 'string'
  ) {
    // Also an event not of the model's types: the general path writes whatever it holds.
    return goJson(encodeKubernetesEvent(e, { typeMeta: true }));
  }
  let s = `${head}${inner(auditID)}${stage}${inner(requestURI)}","verb":"${inner(verb)}","user":${userJson(e.user ?? {})}`;
  if (e.impersonatedUser) s += `,"impersonatedUser":${userJson(e.impersonatedUser)}`;
  if (e.authenticationMetadata) s += valueMember(',"authenticationMetadata":', e.authenticationMetadata);
  const ips = e.sourceIPs;
  if (ips && ips.length > 0) s += stringsMember(',"sourceIPs":["', ips);
  if (e.userAgent) s += stringMember(',"userAgent":"', e.userAgent);
  if (e.objectRef) s += `,"objectRef":${objectRefJson(e.objectRef)}`;
  if (e.responseStatus) s += `,"responseStatus":${statusJson(e.responseStatus)}`;
  s += `,"requestReceivedTimestamp":"${inner(requestReceivedTimestamp)}","stageTimestamp":"${inner(stageTimestamp)}"`;
  const a = e.annotations;
  if (a && Object.keys(a).length > 0) s += valueMember(',"annotations":', sortedMap(a));
  // KubeSphere's members, as it spells them.
  if (e.devops) s += stringMember(',"Devops":"', e.devops);
  if (e.workspace) s += stringMember(',"Workspace":"', e.workspace);
  if (e.cluster) s += stringMember(',"Cluster":"', e.cluster);
  const message = e.origin?.kubernetes?.message;
  if (typeof message === 'string' && message) s += `,"Message":"${inner(message)}"`;
  return `${s}}`;
}
