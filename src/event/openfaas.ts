// OpenFaaS Enterprise `api_access` audit events ⇄ AuditEvent.
//
// An event is {actor{sub, name, issuer, fed_issuer}, path, method, actions[], response_code, time}; a delivery is
// a JSON array of them. It is written after the response, so it maps to stage ResponseComplete at level
// Metadata; `time` is when the request started (requestReceivedTimestamp; also the stage time, the only time
// there is). OpenFaaS gives events no id, and deliveries are retried, so the auditID is a UUIDv5 derived from the
// delivery id and the event's index in it (or, without a delivery id, from the event's canonical JSON): a
// redelivery yields the same ids and the store can drop duplicates.
import { v5 as uuidv5 } from 'uuid';
import type { AuditEvent } from './model.ts';
import { toMicroTime, toRfc3339Nano } from './time.ts';
import { expected, fail, isObject } from './validate.ts';

type Obj = Record<string, unknown>;

/** UUIDv5 namespace for OpenFaaS-derived audit IDs (fixed forever: changing it changes every derived id). */
export const OPENFAAS_ID_NAMESPACE = '3c46edc4-f268-46c6-87bd-8993702037e3';

const KNOWN = new Set(['actor', 'path', 'method', 'actions', 'response_code', 'time']);
const ACTION_VERBS: Record<string, string> = {
  List: 'list',
  Get: 'get',
  Create: 'create',
  Update: 'update',
  Delete: 'delete',
  Scale: 'update',
  Logs: 'get',
};
const METHOD_VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};
const VERB_METHODS: Record<string, string> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

/** Kubernetes-like verb of an OpenFaaS call: from its single IAM action (`Function:List` → list), else the method. */
export function openFaaSVerb(method: string, actions?: readonly string[]): string {
  if (actions && actions.length === 1) {
    const verb = ACTION_VERBS[actions[0].slice(actions[0].indexOf(':') + 1)];
    if (verb) return verb;
  }
  return METHOD_VERBS[method.toUpperCase()] ?? method.toLowerCase();
}

/** JSON with object keys sorted at every level: the same event always hashes to the same id. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export interface OpenFaaSDecodeOptions {
  /** The delivery's `X-Openfaas-Delivery` header. */
  deliveryId?: string;
  /** The event's position in the delivery's array (default 0). */
  index?: number;
}

function optString(o: Obj, key: string, base: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') expected(base, key, 'a string', v);
  return v;
}

/** One `api_access` event → AuditEvent (source `openfaas`). */
export function decodeOpenFaaSEvent(obj: unknown, opts: OpenFaaSDecodeOptions = {}): AuditEvent {
  if (!isObject(obj)) expected('', '', 'an OpenFaaS api_access event object', obj);
  const path = optString(obj, 'path', '');
  if (path === undefined) fail('', 'path', 'required');
  const method = optString(obj, 'method', '');
  if (!method) fail('', 'method', 'required');
  const code = obj.response_code;
  if (code === undefined || code === null) fail('', 'response_code', 'required');
  if (typeof code !== 'number' || !Number.isInteger(code)) expected('', 'response_code', 'an integer', code);
  const time = optString(obj, 'time', '');
  if (time === undefined) fail('', 'time', 'required');
  let rrt: string;
  try {
    rrt = toMicroTime(time);
  } catch (err) {
    return fail('', 'time', (err as Error).message);
  }
  let actions: string[] | undefined;
  if (obj.actions !== undefined && obj.actions !== null) {
    if (!Array.isArray(obj.actions)) expected('', 'actions', 'an array of strings', obj.actions);
    obj.actions.forEach((a, i) => {
      if (typeof a !== 'string') expected('', `actions[${i}]`, 'a string', a);
    });
    actions = obj.actions as string[];
  }

  const kept: Obj = { method };
  const user: AuditEvent['user'] = {};
  const actor = obj.actor;
  if (actor !== undefined && actor !== null) {
    if (!isObject(actor)) expected('', 'actor', 'an object', actor);
    const sub = optString(actor, 'sub', 'actor');
    optString(actor, 'name', 'actor');
    optString(actor, 'issuer', 'actor');
    optString(actor, 'fed_issuer', 'actor');
    if (sub) {
      user.username = sub;
      user.uid = sub;
    }
    const rest: Obj = {};
    for (const k in actor) if (k !== 'sub') rest[k] = actor[k];
    kept.actor = rest;
  }
  if (actions) kept.actions = actions;
  if (time !== toRfc3339Nano(rrt)) kept.time = time;
  const extra: Obj = {};
  let anyExtra = false;
  for (const k in obj) {
    if (!KNOWN.has(k)) {
      extra[k] = obj[k];
      anyExtra = true;
    }
  }
  if (anyExtra) kept.extra = extra;
  if (opts.deliveryId !== undefined) {
    kept.deliveryId = opts.deliveryId;
    kept.index = opts.index ?? 0;
  }

  const name = opts.deliveryId !== undefined ? `${opts.deliveryId}#${opts.index ?? 0}` : canonicalJson(obj);
  const e = {
    level: 'Metadata',
    auditID: uuidv5(name, OPENFAAS_ID_NAMESPACE),
    stage: 'ResponseComplete',
    requestURI: path,
    verb: openFaaSVerb(method, actions),
    user,
  } as AuditEvent;
  const ref = objectRefOf(path, actions);
  if (ref) e.objectRef = ref;
  e.responseStatus = { metadata: {}, code };
  e.requestReceivedTimestamp = rrt;
  e.stageTimestamp = rrt;
  e.source = 'openfaas';
  e.origin = { openfaas: kept };
  return e;
}

/** `Function:List` on `/system/functions?namespace=dev` → {resource: 'functions', namespace: 'dev'}. */
function objectRefOf(path: string, actions: readonly string[] | undefined): AuditEvent['objectRef'] {
  const first = actions?.[0];
  const colon = first ? first.indexOf(':') : -1;
  if (!first || colon <= 0) return undefined;
  const ref: NonNullable<AuditEvent['objectRef']> = { resource: `${first.slice(0, colon).toLowerCase()}s` };
  const q = path.indexOf('?');
  if (q >= 0) {
    const ns = new URLSearchParams(path.slice(q + 1)).get('namespace');
    if (ns) ref.namespace = ns;
  }
  return ref;
}

/**
 * AuditEvent → an `api_access` event. The method and actions kept from OpenFaaS come back unless the verb was
 * changed (then the method is derived from the verb); `time` as sent when it still denotes requestReceivedTimestamp.
 */
export function encodeOpenFaaSEvent(e: AuditEvent): Record<string, unknown> {
  const kept: Obj = e.origin?.openfaas ?? {};
  const keptActions = Array.isArray(kept.actions) ? (kept.actions as string[]) : undefined;
  const out: Obj = {};
  const keptActor = isObject(kept.actor) ? kept.actor : undefined;
  if (keptActor || e.user.username) {
    const actor: Obj = {};
    if (e.user.username) actor.sub = e.user.username;
    if (keptActor) for (const k in keptActor) actor[k] = keptActor[k];
    out.actor = actor;
  }
  out.path = e.requestURI;
  const keptMethod = typeof kept.method === 'string' ? kept.method : undefined;
  out.method =
    keptMethod && openFaaSVerb(keptMethod, keptActions) === e.verb
      ? keptMethod
      : (VERB_METHODS[e.verb] ?? e.verb.toUpperCase());
  out.actions = keptActions ?? [];
  out.response_code = e.responseStatus?.code ?? 0;
  const keptTime = typeof kept.time === 'string' ? kept.time : undefined;
  out.time =
    keptTime && toMicroTime(keptTime) === e.requestReceivedTimestamp
      ? keptTime
      : toRfc3339Nano(e.requestReceivedTimestamp);
  if (isObject(kept.extra)) for (const k in kept.extra) if (!(k in out)) out[k] = kept.extra[k];
  return out;
}
