// Limits on what one decoded request may carry, so a hostile or broken producer cannot make a receiver store
// megabyte user names, blow the stack of every later JSON.stringify with absurd nesting, or post a million events
// at once. Every decoder takes them; the defaults are safe for real producers (kube-apiserver batches at most 400
// events, its objects nest a few dozen levels, its user agents are cut at 1024 characters).
import type { AuditEvent, UserInfo } from './model.ts';
import { DEFAULT_CLOCK_SKEW_MS, isMicroTime, parseTimeMs, timeRangeProblem, toMicroTime } from './time.ts';
import { EventValidationError, fail, isObject } from './validate.ts';

export interface DecodeLimits {
  /** Events per request/body (default 10,000). */
  maxEvents?: number;
  /** Characters in a scalar string field: user name, requestURI, objectRef members, annotations … (64 KiB). */
  maxFieldLength?: number;
  /**
   * userAgent longer than this is cut and `...TRUNCATED` appended, as kube-apiserver does (default 1024, its
   * `maxUserAgentLength`); not rejected, since the client chose it, not the producer.
   */
  maxUserAgentLength?: number;
  /**
   * Nesting depth of an event object, bodies included (default 1000). Go's decoder stops at 10,000, but V8's
   * JSON.stringify overflows the stack a few thousand levels down, and the store, sinks and rules serialise or
   * walk every event; no real API object nests anywhere near 1000.
   */
  maxDepth?: number;
  /**
   * Milliseconds an event's time may lie ahead of the collector's clock (default 1 h). Times before 1970 or
   * beyond now plus this are rejected (src/event/time.ts: the accepted time range).
   */
  maxClockSkew?: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<Required<DecodeLimits>> = Object.freeze({
  maxEvents: 10_000,
  maxFieldLength: 64 * 1024,
  maxUserAgentLength: 1024,
  maxDepth: 1000,
  maxClockSkew: DEFAULT_CLOCK_SKEW_MS,
});

/** kube-apiserver's suffix for a cut user agent (k8s.io/apiserver/pkg/audit: userAgentTruncateSuffix). */
export const USER_AGENT_TRUNCATED = '...TRUNCATED';

/** Limits with defaults filled in; the shared default object when none are given (no allocation per event). */
export function resolveLimits(l: DecodeLimits | undefined): Readonly<Required<DecodeLimits>> {
  if (
    l === undefined ||
    l === DEFAULT_DECODE_LIMITS ||
    (l.maxEvents === undefined &&
      l.maxFieldLength === undefined &&
      l.maxUserAgentLength === undefined &&
      l.maxDepth === undefined &&
      l.maxClockSkew === undefined)
  ) {
    return DEFAULT_DECODE_LIMITS;
  }
  return {
    maxEvents: l.maxEvents ?? DEFAULT_DECODE_LIMITS.maxEvents,
    maxFieldLength: l.maxFieldLength ?? DEFAULT_DECODE_LIMITS.maxFieldLength,
    maxUserAgentLength: l.maxUserAgentLength ?? DEFAULT_DECODE_LIMITS.maxUserAgentLength,
    maxDepth: l.maxDepth ?? DEFAULT_DECODE_LIMITS.maxDepth,
    maxClockSkew: l.maxClockSkew ?? DEFAULT_DECODE_LIMITS.maxClockSkew,
  };
}

/** A batch of `count` events → error (at `field`) when over the limit; checked before decoding any of them. */
export function checkEventCount(count: number, limits: Readonly<Required<DecodeLimits>>, field: string): void {
  if (count > limits.maxEvents) {
    fail('', field, `${count} events exceed the limit of ${limits.maxEvents} per request`);
  }
}

// Recursion is bounded by `left`, so this cannot overflow for any input. `v` is a non-null object; leaves are
// skipped without a call (most members of a body are scalars).
function tooDeep(v: object, left: number): boolean {
  if (left <= 0) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null && tooDeep(x, left - 1)) return true;
    }
    return false;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === 'object' && x !== null && tooDeep(x, left - 1)) return true;
  }
  return false;
}

/**
 * Rejects an input event object nested deeper than `maxDepth` (the event itself is level 1), naming the top-level
 * member that holds the nesting. Runs before decoding, so no later recursion sees the input.
 */
export function checkDepth(obj: unknown, limits: Readonly<Required<DecodeLimits>>): void {
  if (!isObject(obj)) return;
  const left = limits.maxDepth - 1;
  for (const k in obj) {
    const x = obj[k];
    if (typeof x === 'object' && x !== null && tooDeep(x, left)) {
      fail('', k, `nested more than ${limits.maxDepth} levels deep`);
    }
  }
}

function check(v: string | undefined, max: number, base: string, field: string): void {
  if (v !== undefined && v.length > max) {
    throw new EventValidationError(
      base ? `${base}.${field}` : field,
      `${v.length} characters exceed the limit of ${max}`,
    );
  }
}

function checkList(v: readonly string[] | undefined, max: number, base: string, field: string): void {
  if (!v) return;
  for (let i = 0; i < v.length; i++) check(v[i], max, base, `${field}[${i}]`);
}

function checkUser(u: UserInfo | undefined, max: number, base: string): void {
  if (!u) return;
  check(u.username, max, base, 'username');
  check(u.uid, max, base, 'uid');
  checkList(u.groups, max, base, 'groups');
  if (u.extra) {
    for (const k in u.extra) {
      check(k, max, `${base}.extra`, '(key)');
      checkList(u.extra[k], max, `${base}.extra`, k);
    }
  }
}

/** Earliest accepted time as MicroTime, which orders as text in time order. */
const EARLIEST = '1970-01-01T00:00:00.000000Z';
/** The latest accepted time as MicroTime, for `skewMs`, renewed every second (not formatted per event). */
const latest = { text: '', skewMs: -1, until: 0 };

/** A decoded (MicroTime) timestamp within the accepted time range, or an error naming its canonical field. */
function checkTime(v: string | undefined, skewMs: number, field: string): void {
  if (v === undefined) return;
  // The decoders write MicroTime, which compares as text: two string comparisons per timestamp on the hot path.
  if (isMicroTime(v)) {
    const now = Date.now();
    if (now >= latest.until || skewMs !== latest.skewMs) {
      // floored to the second, valid for that second: never later than now + skew
      const at = Math.floor(now / 1000) * 1000;
      Object.assign(latest, { text: toMicroTime(at + skewMs), skewMs, until: at + 1000 });
    }
    if (v >= EARLIEST && v <= latest.text) return;
  }
  const why = timeRangeProblem(parseTimeMs(v), skewMs);
  if (why) throw new EventValidationError(field, `${JSON.stringify(v)} ${why}`);
}

/**
 * The field limits on a decoded event (canonical field names in errors): both timestamps within the accepted time
 * range (every decoder ends here, so every way in bounds them alike), every scalar string within
 * `maxFieldLength`, userAgent cut as kube-apiserver cuts it. Bodies (requestObject, responseObject) are bounded by
 * the request body size and `maxDepth`, not here.
 */
export function applyFieldLimits(e: AuditEvent, limits: Readonly<Required<DecodeLimits>>): AuditEvent {
  checkTime(e.requestReceivedTimestamp, limits.maxClockSkew, 'requestReceivedTimestamp');
  checkTime(e.stageTimestamp, limits.maxClockSkew, 'stageTimestamp');
  const max = limits.maxFieldLength;
  check(e.auditID, max, '', 'auditID');
  check(e.requestURI, max, '', 'requestURI');
  check(e.verb, max, '', 'verb');
  checkUser(e.user, max, 'user');
  checkUser(e.impersonatedUser, max, 'impersonatedUser');
  checkList(e.sourceIPs, max, '', 'sourceIPs');
  const r = e.objectRef;
  if (r) {
    check(r.resource, max, 'objectRef', 'resource');
    check(r.namespace, max, 'objectRef', 'namespace');
    check(r.name, max, 'objectRef', 'name');
    check(r.uid, max, 'objectRef', 'uid');
    check(r.apiGroup, max, 'objectRef', 'apiGroup');
    check(r.apiVersion, max, 'objectRef', 'apiVersion');
    check(r.resourceVersion, max, 'objectRef', 'resourceVersion');
    check(r.subresource, max, 'objectRef', 'subresource');
  }
  const s = e.responseStatus;
  if (s) {
    check(s.status, max, 'responseStatus', 'status');
    check(s.message, max, 'responseStatus', 'message');
    check(s.reason, max, 'responseStatus', 'reason');
  }
  if (e.annotations) {
    for (const k in e.annotations) {
      check(k, max, 'annotations', '(key)');
      check(e.annotations[k], max, 'annotations', k);
    }
  }
  check(e.workspace, max, '', 'workspace');
  check(e.cluster, max, '', 'cluster');
  check(e.devops, max, '', 'devops');
  const ua = e.userAgent;
  if (ua !== undefined && ua.length > limits.maxUserAgentLength) {
    e.userAgent = ua.slice(0, limits.maxUserAgentLength) + USER_AGENT_TRUNCATED;
  }
  return e;
}
