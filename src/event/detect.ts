// Reading a whole file or stream body of audit events without being told its format: what `vigil policy test`,
// `vigil rules test` and `vigil import` read with. Accepted:
//   - one JSON document: a Kubernetes/KubeSphere EventList (`items`/`Items`), a JSON array of events, or one event;
//   - JSON lines, each any of the above;
//   - kube-apiserver legacy lines (any form), and oslo `log` driver lines (`… oslo.messaging.notification.… {json}`).
// Each event object is sniffed: CADF (bare, notification or 2.0 wire envelope), OpenFaaS api_access, else
// Kubernetes/KubeSphere. Errors name the line (1-based; in a JSON document, the line where the offending value
// starts) and the field as a JSON path.
import { decodeCadf } from './cadf.ts';
import { decodeEventList, decodeKubernetesEvent } from './kubernetes.ts';
import { parseLegacyLine } from './legacy.ts';
import { checkEventCount, type DecodeLimits, resolveLimits } from './limits.ts';
import type { AuditEvent } from './model.ts';
import { decodeOpenFaaSEvent } from './openfaas.ts';
import { EventValidationError, expected, isObject } from './validate.ts';

type Obj = Record<string, unknown>;

/** Which format an event object is in, by its members. */
export function sniffFormat(o: Obj): 'cadf' | 'openfaas' | 'kubernetes' {
  if (
    o['oslo.version'] !== undefined ||
    (o.payload !== undefined && o.event_type !== undefined) ||
    (o.eventTime !== undefined && o.outcome !== undefined)
  ) {
    return 'cadf';
  }
  if (o.response_code !== undefined && o.path !== undefined) return 'openfaas';
  return 'kubernetes';
}

function hasItems(o: Obj): boolean {
  if (o.items !== undefined) return true;
  for (const k in o) if (k.toLowerCase() === 'items') return true;
  return false;
}

type Limits = Readonly<Required<DecodeLimits>>;

function decodeObject(o: unknown, limits: Limits): AuditEvent {
  if (!isObject(o)) expected('', '', 'an event object', o);
  switch (sniffFormat(o)) {
    case 'cadf':
      return decodeCadf(o, limits);
    case 'openfaas':
      return decodeOpenFaaSEvent(o, limits);
    default:
      return decodeKubernetesEvent(o, '', limits);
  }
}

/**
 * The items of a batch (a JSON array) → events: their count checked against `maxEvents` before any is decoded, and a
 * validation error placed under the item's index (`[3].outcome`). Every decoder of an array goes through here.
 */
export function decodeEach(
  items: readonly unknown[],
  limits: Readonly<Required<DecodeLimits>>,
  decodeOne: (item: unknown, index: number) => AuditEvent,
): AuditEvent[] {
  checkEventCount(items.length, limits, '');
  const out = new Array<AuditEvent>(items.length);
  for (let i = 0; i < items.length; i++) {
    try {
      out[i] = decodeOne(items[i], i);
    } catch (err) {
      throw err instanceof EventValidationError ? err.under(`[${i}]`) : err;
    }
  }
  return out;
}

/** A parsed JSON value (EventList, array of events, or one event) → events. */
export function decodeJsonValue(v: unknown, limits?: DecodeLimits): AuditEvent[] {
  const lim = resolveLimits(limits);
  if (Array.isArray(v)) return decodeEach(v, lim, (item) => decodeObject(item, lim));
  if (isObject(v) && hasItems(v)) return decodeEventList(v, lim);
  return [decodeObject(v, lim)];
}

function tryParse(s: string): { ok: true; value: unknown } | { ok: false; error: Error } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch (err) {
    return { ok: false, error: err as Error };
  }
}

const OSLO_LOG = 'oslo.messaging.notification.';
/**
 * oslo.log's line prefix (`2026-12-07 21:03:04.123 4711 WARNING keystonemiddleware.audit [...] message`): the log
 * driver writes notifications into the service's own log, between its other lines, which carry no audit event.
 */
const OSLO_LOG_LINE =
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d+ (?:TRACE|DEBUG|INFO|AUDIT|WARNING|ERROR|CRITICAL) \S/;

/** Decodes a whole body/file of audit events in any format Vigil reads (see the file comment). */
export function decodeEvents(text: string, limits?: DecodeLimits): AuditEvent[] {
  const lim = resolveLimits(limits);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const start = body.search(/\S/);
  if (start < 0) return [];
  const first = body[start];
  if (first === '{' || first === '[') {
    const whole = tryParse(body);
    if (whole.ok) {
      try {
        return decodeJsonValue(whole.value, lim);
      } catch (err) {
        // Name the line too: where in the document the offending value starts.
        if (err instanceof EventValidationError && err.line === undefined) {
          throw err.atLine(lineAt(body, locate(body, pathSegments(err.field))));
        }
        throw err;
      }
    }
    // Not one document: JSON lines if the first line stands alone; otherwise report the document's own error.
    const nl = body.indexOf('\n', start);
    const firstLine = nl < 0 ? body.slice(start) : body.slice(start, nl);
    if (nl < 0 || !tryParse(firstLine).ok) {
      throw new EventValidationError('', `not valid JSON: ${whole.error.message}`);
    }
  }
  return decodeLines(body, lim);
}

function decodeLines(body: string, limits: Limits): AuditEvent[] {
  const out: AuditEvent[] = [];
  // Pre-1.7 legacy logs write a request line and a response-only line per call; the latter gets the former's data.
  const pending = new Map<string, AuditEvent>();
  const lines = body.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const start = line.search(/\S/);
    if (start < 0) continue;
    try {
      const c = line[start];
      if (c === '{' || c === '[') {
        const r = tryParse(line);
        if (!r.ok) throw new EventValidationError('', `not valid JSON: ${r.error.message}`);
        for (const e of decodeJsonValue(r.value, limits)) out.push(e);
      } else if (line.includes(' AUDIT: ')) {
        const e = parseLegacyLine(line, limits);
        const fields = e.origin?.legacy?.fields as string[] | undefined;
        if (fields && !fields.includes('stage')) {
          if (fields.length === 2 && fields[1] === 'response') {
            completeFrom(e, pending.get(e.auditID));
            pending.delete(e.auditID);
          } else {
            pending.set(e.auditID, e);
          }
        }
        out.push(e);
      } else if (line.includes(OSLO_LOG)) {
        const brace = line.indexOf('{', line.indexOf('] ') + 1);
        if (brace < 0) throw new EventValidationError('', 'no JSON notification on this oslo log line');
        const r = tryParse(line.slice(brace));
        if (!r.ok) throw new EventValidationError('', `not valid JSON: ${r.error.message}`);
        out.push(decodeCadf(r.value, limits));
      } else if (OSLO_LOG_LINE.test(line)) {
        // a line of the service's log that is not a notification: nothing to import
      } else {
        throw new EventValidationError('', 'neither a JSON event nor a legacy audit line');
      }
      checkEventCount(out.length, limits, '');
    } catch (err) {
      if (err instanceof EventValidationError) throw err.atLine(n + 1);
      throw err;
    }
  }
  return out;
}

/**
 * Fills a pre-1.7 response-only event (only id, code and time) from its request line: URI, verb, user,
 * impersonation, source IP, namespace, and requestReceivedTimestamp; its stageTimestamp stays the response time.
 */
function completeFrom(e: AuditEvent, req: AuditEvent | undefined): void {
  if (!req) return;
  e.requestURI = req.requestURI;
  e.verb = req.verb;
  e.user = { ...req.user };
  if (req.impersonatedUser) e.impersonatedUser = { ...req.impersonatedUser };
  if (req.sourceIPs) e.sourceIPs = [...req.sourceIPs];
  if (req.userAgent) e.userAgent = req.userAgent;
  if (req.objectRef) e.objectRef = { ...req.objectRef };
  e.requestReceivedTimestamp = req.requestReceivedTimestamp;
}

// ---- finding a JSON path in the text, for error lines (runs only when an error is reported) ------------------

function pathSegments(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function skipWs(t: string, i: number): number {
  while (i < t.length && (t[i] === ' ' || t[i] === '\n' || t[i] === '\r' || t[i] === '\t' || t[i] === '\ufeff')) i++;
  return i;
}

function skipString(t: string, i: number): number {
  for (i++; i < t.length; i++) {
    if (t[i] === '\\') i++;
    else if (t[i] === '"') return i + 1;
  }
  return i;
}

/** Index just after the JSON value starting at `i` (the text is known to be valid JSON). */
function skipValue(t: string, i: number): number {
  const c = t[i];
  if (c === '"') return skipString(t, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < t.length) {
      const d = t[i];
      if (d === '"') {
        i = skipString(t, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < t.length && !',]} \n\r\t'.includes(t[i])) i++;
  return i;
}

/**
 * Offset of the value at `segments` in a valid JSON text, or of the deepest part of that path found (member names
 * compare case-insensitively, as the decoders match them).
 */
function locate(t: string, segments: (string | number)[]): number {
  let pos = skipWs(t, 0);
  for (const seg of segments) {
    const open = t[pos];
    let found = -1;
    if (typeof seg === 'number' && open === '[') {
      let i = skipWs(t, pos + 1);
      for (let n = 0; i < t.length && t[i] !== ']'; n++) {
        if (n === seg) {
          found = i;
          break;
        }
        i = skipWs(t, skipValue(t, i));
        if (t[i] === ',') i = skipWs(t, i + 1);
      }
    } else if (typeof seg === 'string' && open === '{') {
      let i = skipWs(t, pos + 1);
      while (i < t.length && t[i] === '"') {
        const end = skipString(t, i);
        const key = JSON.parse(t.slice(i, end)) as string;
        const value = skipWs(t, skipWs(t, end) + 1);
        if (key.toLowerCase() === seg.toLowerCase()) {
          found = value;
          break;
        }
        i = skipWs(t, skipValue(t, value));
        if (t[i] === ',') i = skipWs(t, i + 1);
      }
    }
    if (found < 0) return pos;
    pos = found;
  }
  return pos;
}
