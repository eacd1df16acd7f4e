// Reading a whole file or stream body of audit events without being told its format: what `vigil policy test`,
// `vigil rules test` and `vigil import` read with. Accepted:
//   - one JSON document: a Kubernetes/KubeSphere EventList (`items`/`Items`), a JSON array of events, or one event;
//   - JSON lines, each any of the above;
//   - kube-apiserver legacy lines (any form), and oslo `log` driver lines (`… oslo.messaging.notification.… {json}`).
// Each event object is sniffed: CADF (bare, notification or 2.0 wire envelope), OpenFaaS api_access, else
// Kubernetes/KubeSphere. Errors name the line (1-based, for line input) and the field as a JSON path.
import { decodeCadf } from './cadf.ts';
import { decodeEventList, decodeKubernetesEvent } from './kubernetes.ts';
import { parseLegacyLine } from './legacy.ts';
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

function decodeObject(o: unknown, path: string): AuditEvent {
  if (!isObject(o)) expected(path, '', 'an event object', o);
  try {
    switch (sniffFormat(o)) {
      case 'cadf':
        return decodeCadf(o);
      case 'openfaas':
        return decodeOpenFaaSEvent(o);
      default:
        return decodeKubernetesEvent(o);
    }
  } catch (err) {
    if (path && err instanceof EventValidationError) throw err.under(path);
    throw err;
  }
}

/** A parsed JSON value (EventList, array of events, or one event) → events. */
export function decodeJsonValue(v: unknown): AuditEvent[] {
  if (Array.isArray(v)) {
    const out: AuditEvent[] = [];
    for (let i = 0; i < v.length; i++) out.push(decodeObject(v[i], `[${i}]`));
    return out;
  }
  if (isObject(v) && hasItems(v)) return decodeEventList(v);
  return [decodeObject(v, '')];
}

function tryParse(s: string): { ok: true; value: unknown } | { ok: false; error: Error } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch (err) {
    return { ok: false, error: err as Error };
  }
}

const OSLO_LOG = 'oslo.messaging.notification.';

/** Decodes a whole body/file of audit events in any format Vigil reads (see the file comment). */
export function decodeEvents(text: string): AuditEvent[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const start = body.search(/\S/);
  if (start < 0) return [];
  const first = body[start];
  if (first === '{' || first === '[') {
    const whole = tryParse(body);
    if (whole.ok) return decodeJsonValue(whole.value);
    // Not one document: JSON lines if the first line stands alone; otherwise report the document's own error.
    const nl = body.indexOf('\n', start);
    const firstLine = nl < 0 ? body.slice(start) : body.slice(start, nl);
    if (nl < 0 || !tryParse(firstLine).ok) {
      throw new EventValidationError('', `not valid JSON: ${whole.error.message}`);
    }
  }
  return decodeLines(body);
}

function decodeLines(body: string): AuditEvent[] {
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
        for (const e of decodeJsonValue(r.value)) out.push(e);
      } else if (line.includes(' AUDIT: ')) {
        const e = parseLegacyLine(line);
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
        out.push(decodeCadf(r.value));
      } else {
        throw new EventValidationError('', 'neither a JSON event nor a legacy audit line');
      }
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
