// OpenStack CADF (pycadf events as keystonemiddleware's audit filter builds them) ⇄ AuditEvent, with the oslo
// notification envelope and oslo.messaging's 2.0 wire envelope around it.
//
// keystonemiddleware sends two notifications per API call carrying the same CADF `id`: `audit.http.request`
// (outcome `pending`) and `audit.http.response` (outcome, `reason`, `reporterchain`). They map to one auditID
// with stages RequestReceived and ResponseComplete; a response with outcome `unknown` and no reason (the API
// raised) maps to Panic. What Kubernetes has no field for — target, observer, tags, credential, the initiator's
// typeURI, reason/reporterchain as sent, the action and outcome as sent, unknown keys — stays in `origin.cadf`,
// the envelope in `origin.oslo`, so `encodeCadf(decodeCadf(x))` gives back x's payload.
import { v4 as uuidv4 } from 'uuid';
import { applyFieldLimits, checkDepth, type DecodeLimits, resolveLimits } from './limits.ts';
import type { AuditEvent, Stage, UserInfo } from './model.ts';
import { toCadfTime, toMicroTime, toOsloTime } from './time.ts';
import { EventValidationError, expected, fail, isObject, parseJson, put } from './validate.ts';

type Obj = Record<string, unknown>;

export const CADF_EVENT_TYPE_URI = 'http://schemas.dmtf.org/cloud/audit/1.0/event';
const OUTCOMES = ['success', 'failure', 'pending', 'unknown'];
const STATUS_CODE = /^\d{3}$/;
/** pycadf's action taxonomy; an action is valid when it is one of these or starts with one plus `/`. */
const ACTIONS = [
  'backup',
  'capture',
  'create',
  'configure',
  'read',
  'read/list',
  'update',
  'delete',
  'monitor',
  'start',
  'stop',
  'deploy',
  'undeploy',
  'enable',
  'disable',
  'send',
  'receive',
  'authenticate',
  'authenticate/login',
  'revoke',
  'renew',
  'restore',
  'evaluate',
  'allow',
  'deny',
  'notify',
  'unknown',
];

/** CADF action → Kubernetes-like verb: read→get, read/list→list; create, update, delete and `x/y` keep their text. */
export function cadfActionToVerb(action: string): string {
  if (action === 'read') return 'get';
  if (action === 'read/list') return 'list';
  return action;
}

const VERB_ACTIONS: Record<string, string> = {
  get: 'read',
  head: 'read',
  list: 'read/list',
  watch: 'read/list',
  create: 'create',
  post: 'create',
  update: 'update',
  put: 'update',
  patch: 'update',
  delete: 'delete',
  deletecollection: 'delete',
};
const METHOD_ACTIONS: Record<string, string> = {
  GET: 'read',
  HEAD: 'read',
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};

/**
 * Verb → CADF action (the reverse of `cadfActionToVerb`, plus Kubernetes' other verbs: watch→read/list,
 * patch→update, deletecollection→delete). A verb that already is a taxonomy action (`update/failover`, `start`)
 * is kept; anything else falls back to the HTTP `method` when given (keystonemiddleware's rules), else `unknown`.
 */
export function verbToCadfAction(verb: string, method?: string): string {
  const mapped = VERB_ACTIONS[verb];
  if (mapped) return mapped;
  if (ACTIONS.includes(verb) || ACTIONS.some((a) => verb.startsWith(`${a}/`))) return verb;
  if (method) return METHOD_ACTIONS[method.toUpperCase()] ?? 'unknown';
  return 'unknown';
}

function str(o: Obj, key: string, base: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) fail(base, key, 'required');
    return undefined;
  }
  if (typeof v !== 'string') expected(base, key, 'a string', v);
  return v;
}

function cadfTime(o: Obj, key: string, base: string): string {
  const v = str(o, key, base, true)!;
  try {
    return toMicroTime(v);
  } catch (err) {
    return fail(base, key, (err as Error).message);
  }
}

/** Unwraps oslo's 2.0 wire envelope and the notification envelope; returns the CADF payload and where it sat. */
function unwrap(obj: unknown, limits: Readonly<Required<DecodeLimits>>): { payload: Obj; base: string; oslo?: Obj } {
  let o = obj;
  checkDepth(o, limits);
  if (isObject(o) && o['oslo.version'] !== undefined) {
    if (o['oslo.version'] !== '2.0') fail('', 'oslo.version', `${JSON.stringify(o['oslo.version'])} is not "2.0"`);
    const msg = o['oslo.message'];
    if (typeof msg !== 'string') expected('', 'oslo.message', 'a JSON string', msg);
    try {
      o = parseJson(msg, 'oslo.message');
    } catch (err) {
      if (err instanceof EventValidationError) throw new EventValidationError('oslo.message', err.reason);
      throw err;
    }
    if (!isObject(o)) expected('', 'oslo.message', 'a JSON object', o);
    try {
      checkDepth(o, limits);
    } catch (err) {
      if (err instanceof EventValidationError) throw err.under('oslo.message');
      throw err;
    }
  }
  if (!isObject(o)) expected('', '', 'a CADF event or oslo notification object', o);
  if (o.payload !== undefined && (o.event_type !== undefined || o.publisher_id !== undefined)) {
    const payload = o.payload;
    if (!isObject(payload)) expected('', 'payload', 'a CADF event object', payload);
    const oslo: Obj = {};
    for (const k in o) if (k !== 'payload') put(oslo, k, o[k]);
    const et = oslo.event_type;
    if (et !== undefined && typeof et !== 'string') expected('', 'event_type', 'a string', et);
    return { payload, base: 'payload', oslo };
  }
  return { payload: o, base: '' };
}

/**
 * A bare CADF event, an oslo notification `{event_type, timestamp, priority, publisher_id, message_id, payload}`,
 * or oslo's 2.0 wire envelope `{"oslo.version": "2.0", "oslo.message": "<json>"}` → AuditEvent (source `cadf`).
 */
export function decodeCadf(obj: unknown, limits?: DecodeLimits): AuditEvent {
  const lim = resolveLimits(limits);
  const { payload: p, base, oslo } = unwrap(obj, lim);
  const id = str(p, 'id', base, true)!;
  if (!id) fail(base, 'id', 'required');
  const rrt = cadfTime(p, 'eventTime', base);
  const action = str(p, 'action', base, true)!;
  const outcome = str(p, 'outcome', base, true)!;
  if (!OUTCOMES.includes(outcome))
    fail(base, 'outcome', `${JSON.stringify(outcome)} is not one of ${OUTCOMES.join(', ')}`);
  const requestPath = str(p, 'requestPath', base, false) ?? '';

  const reason = p.reason;
  let code: number | undefined;
  if (reason !== undefined && reason !== null) {
    if (!isObject(reason)) expected(base, 'reason', 'an object', reason);
    const rc = reason.reasonCode;
    if (reason.reasonType === 'HTTP' && rc !== undefined) {
      if (typeof rc !== 'string' || !STATUS_CODE.test(rc)) {
        fail(`${base ? `${base}.` : ''}reason`, 'reasonCode', `${JSON.stringify(rc)} is not an HTTP status code`);
      }
      code = Number(rc);
    }
  }
  const chain = p.reporterchain;
  let reporterTime: string | undefined;
  if (chain !== undefined && chain !== null) {
    if (!Array.isArray(chain)) expected(base, 'reporterchain', 'an array', chain);
    const first = chain[0];
    if (isObject(first) && first.reporterTime !== undefined) {
      reporterTime = cadfTime(first, 'reporterTime', `${base ? `${base}.` : ''}reporterchain[0]`);
    }
  }
  const eventType = oslo?.event_type;
  let stage: Stage;
  if (outcome === 'pending' || eventType === 'audit.http.request') stage = 'RequestReceived';
  else if (outcome === 'unknown' && reason === undefined) stage = 'Panic';
  else stage = 'ResponseComplete';

  const user: UserInfo = {};
  const cadf: Obj = {};
  for (const k in p) {
    if (k !== 'id' && k !== 'eventTime' && k !== 'requestPath' && k !== 'initiator') put(cadf, k, p[k]);
  }
  let sourceIP: string | undefined;
  let userAgent: string | undefined;
  const initiator = p.initiator;
  if (initiator !== undefined && initiator !== null) {
    const ib = base ? `${base}.initiator` : 'initiator';
    if (!isObject(initiator)) expected(base, 'initiator', 'an object', initiator);
    const rest: Obj = {};
    for (const k in initiator) {
      if (k !== 'name' && k !== 'id' && k !== 'project_id' && k !== 'host') put(rest, k, initiator[k]);
    }
    const name = str(initiator, 'name', ib, false);
    const uid = str(initiator, 'id', ib, false);
    const project = str(initiator, 'project_id', ib, false);
    if (name !== undefined) user.username = name;
    if (uid !== undefined) user.uid = uid;
    if (project !== undefined) user.extra = { project_id: [project] };
    const host = initiator.host;
    if (host !== undefined && host !== null) {
      if (!isObject(host)) expected(ib, 'host', 'an object', host);
      sourceIP = str(host, 'address', `${ib}.host`, false);
      userAgent = str(host, 'agent', `${ib}.host`, false);
      const hostRest: Obj = {};
      let any = false;
      for (const k in host) {
        if (k !== 'address' && k !== 'agent') {
          put(hostRest, k, host[k]);
          any = true;
        }
      }
      if (any || (sourceIP === undefined && userAgent === undefined)) rest.host = hostRest;
    }
    cadf.initiator = rest;
  }

  const e = {
    level: 'Metadata',
    auditID: id,
    stage,
    requestURI: requestPath,
    verb: cadfActionToVerb(action),
    user,
  } as AuditEvent;
  if (sourceIP !== undefined) e.sourceIPs = [sourceIP];
  if (userAgent !== undefined) e.userAgent = userAgent;
  if (code !== undefined && stage !== 'RequestReceived') e.responseStatus = { metadata: {}, code };
  e.requestReceivedTimestamp = rrt;
  let st = rrt;
  if (stage !== 'RequestReceived') {
    if (reporterTime) st = reporterTime;
    else if (typeof oslo?.timestamp === 'string') st = safeMicro(oslo.timestamp) ?? rrt;
  }
  e.stageTimestamp = st;
  e.source = 'cadf';
  e.origin = oslo ? { cadf, oslo } : { cadf };
  return applyFieldLimits(e, lim);
}

function safeMicro(s: string): string | undefined {
  try {
    return toMicroTime(s);
  } catch {
    return undefined;
  }
}

function outcomeOf(e: AuditEvent, kept: unknown): string {
  if (e.stage === 'RequestReceived') return 'pending';
  if (typeof kept === 'string' && kept !== 'pending') return kept;
  // The handler failed: keystonemiddleware's outcome when the API raised instead of answering.
  if (e.stage === 'Panic') return 'unknown';
  const code = e.responseStatus?.code;
  if (!code) return 'unknown';
  return code >= 200 && code < 400 ? 'success' : 'failure';
}

/**
 * AuditEvent → the CADF payload in pycadf's shape, as keystonemiddleware sends it: stage RequestReceived is the
 * request event (outcome `pending`, no reason/reporterchain); later stages are the response event with outcome,
 * `reason` (HTTP status) and a `reporterchain` step at stageTimestamp — a Panic as keystonemiddleware reports an API
 * that raised: outcome `unknown`, no reason, so that it decodes back as a Panic. eventTime is requestReceivedTimestamp in
 * pycadf's `+0000` form. Events from other formats get keystonemiddleware's defaults (unknown target, observer
 * `target`).
 */
export function encodeCadf(e: AuditEvent): Record<string, unknown> {
  const kept: Obj = e.origin?.cadf ?? {};
  const out: Obj = {};
  out.typeURI = kept.typeURI ?? CADF_EVENT_TYPE_URI;
  out.eventTime = toCadfTime(e.requestReceivedTimestamp);
  out.target = kept.target ?? { id: 'unknown', typeURI: 'unknown', name: 'unknown' };
  out.observer = kept.observer ?? { id: 'target' };
  if (kept.tags !== undefined) out.tags = kept.tags;
  out.eventType = kept.eventType ?? 'activity';
  out.initiator = encodeInitiator(e, isObject(kept.initiator) ? kept.initiator : undefined);
  if (e.stage !== 'RequestReceived') {
    // A Panic has no reason, as keystonemiddleware's event of an API that raised: the 500 is the server's own answer.
    const code = e.stage === 'Panic' ? undefined : e.responseStatus?.code;
    const keptReason = isObject(kept.reason) ? kept.reason : undefined;
    if (code) {
      out.reason =
        keptReason && keptReason.reasonCode === String(code)
          ? keptReason
          : { reasonCode: String(code), reasonType: 'HTTP' };
    } else if (keptReason) {
      out.reason = keptReason;
    }
    const reporterTime = toCadfTime(e.stageTimestamp);
    const chain = Array.isArray(kept.reporterchain) ? kept.reporterchain : undefined;
    if (chain && chain.length > 0 && isObject(chain[0])) {
      out.reporterchain = [{ ...chain[0], reporterTime }, ...chain.slice(1)];
    } else {
      out.reporterchain = [{ reporterTime, role: 'modifier', reporter: { id: 'target' } }];
    }
  }
  const keptAction = kept.action;
  out.action =
    typeof keptAction === 'string' && cadfActionToVerb(keptAction) === e.verb ? keptAction : verbToCadfAction(e.verb);
  out.outcome = outcomeOf(e, kept.outcome);
  out.id = e.auditID;
  out.requestPath = e.requestURI;
  for (const k in kept) if (!Object.hasOwn(out, k) && k !== 'reason' && k !== 'reporterchain') put(out, k, kept[k]);
  return out;
}

function encodeInitiator(e: AuditEvent, kept: Obj | undefined): Obj {
  const out: Obj = {};
  out.typeURI = kept?.typeURI ?? 'service/security/account/user';
  // keystonemiddleware writes `unknown` for a missing header; a decoded initiator without the key stays without.
  const name = e.user.username ?? (kept ? undefined : 'unknown');
  if (name !== undefined) out.name = name;
  if (kept?.credential !== undefined) out.credential = kept.credential;
  const keptHost = isObject(kept?.host) ? kept.host : undefined;
  const ip = e.sourceIPs?.[0];
  if (keptHost || ip !== undefined || e.userAgent !== undefined) {
    const host: Obj = {};
    if (e.userAgent !== undefined) host.agent = e.userAgent;
    if (ip !== undefined) host.address = ip;
    if (keptHost) for (const k in keptHost) put(host, k, keptHost[k]);
    out.host = host;
  }
  const project = e.user.extra?.project_id?.[0];
  if (project !== undefined) out.project_id = project;
  const id = e.user.uid ?? (kept ? undefined : 'unknown');
  if (id !== undefined) out.id = id;
  if (kept) for (const k in kept) if (!Object.hasOwn(out, k)) put(out, k, kept[k]);
  return out;
}

export interface OsloNotificationOptions {
  /** Defaults to the kept envelope's, else `vigil`. keystonemiddleware uses the process name. */
  publisherId?: string;
  /** Defaults to the kept envelope's, else a new uuid4. */
  messageId?: string;
  /** Defaults to the kept envelope's, else the stage's time (request: received; response: stage time). */
  timestamp?: string | number | Date;
}

/**
 * AuditEvent → the oslo notification keystonemiddleware's messaging(v2) driver sends: event_type
 * `audit.http.request` / `audit.http.response`, naive UTC `timestamp`, priority INFO, publisher_id, uuid4
 * message_id, the CADF payload. Extra keys kept from a decoded envelope (`_unique_id`, `_context_*`) come back.
 */
export function encodeOsloNotification(e: AuditEvent, opts: OsloNotificationOptions = {}): Record<string, unknown> {
  const kept: Obj = e.origin?.oslo ?? {};
  const request = e.stage === 'RequestReceived';
  const ts =
    opts.timestamp !== undefined
      ? toOsloTime(toMicroTime(opts.timestamp))
      : typeof kept.timestamp === 'string'
        ? kept.timestamp
        : toOsloTime(request ? e.requestReceivedTimestamp : e.stageTimestamp);
  const out: Obj = {
    event_type: request ? 'audit.http.request' : 'audit.http.response',
    timestamp: ts,
    payload: encodeCadf(e),
    priority: typeof kept.priority === 'string' ? kept.priority : 'INFO',
    publisher_id: opts.publisherId ?? (typeof kept.publisher_id === 'string' ? kept.publisher_id : 'vigil'),
    message_id: opts.messageId ?? (typeof kept.message_id === 'string' ? kept.message_id : uuidv4()),
  };
  for (const k in kept) if (!Object.hasOwn(out, k)) put(out, k, kept[k]);
  return out;
}

/**
 * A notification → oslo.messaging's 2.0 wire envelope as published on RabbitMQ: the message (plus `_unique_id`,
 * a uuid4 hex, unless it has one) serialised as a JSON string under `oslo.message`.
 */
export function encodeOsloWire(notification: Record<string, unknown>): Record<string, unknown> {
  const msg =
    typeof notification._unique_id === 'string'
      ? notification
      : { ...notification, _unique_id: uuidv4().replaceAll('-', '') };
  return { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(msg) };
}
