// How values read for a person: local times, HTTP reason phrases, a one-line sentence per event.
import type { AuditEvent } from './api.ts';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

// Every time the console shows is in one zone, the reader's choice: the browser's local time or UTC.
export type TimeZone = 'local' | 'utc';
let zone: TimeZone = 'local';

export function setTimeZone(z: TimeZone): void {
  zone = z;
}

export function timeZone(): TimeZone {
  return zone;
}

/** The zone's name for a label: `UTC`, or the browser's (`Europe/Berlin`, UTC+01:00). */
export function zoneLabel(z: TimeZone = zone): string {
  if (z === 'utc') return 'UTC';
  const off = -new Date().getTimezoneOffset();
  const sign = off < 0 ? '−' : '+';
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${name ? `${name}, ` : ''}UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** A time's calendar fields in the chosen zone. */
export function fields(ms: number) {
  const d = new Date(ms);
  const u = zone === 'utc';
  return {
    year: u ? d.getUTCFullYear() : d.getFullYear(),
    month: u ? d.getUTCMonth() : d.getMonth(),
    day: u ? d.getUTCDate() : d.getDate(),
    hours: u ? d.getUTCHours() : d.getHours(),
    minutes: u ? d.getUTCMinutes() : d.getMinutes(),
    seconds: u ? d.getUTCSeconds() : d.getSeconds(),
    millis: d.getMilliseconds(),
  };
}

/** `2026-11-23T14:05:09` in the chosen zone (a datetime-local input's value, with seconds). */
export function inputTime(ms: number): string {
  const f = fields(ms);
  return `${f.year}-${pad(f.month + 1)}-${pad(f.day)}T${pad(f.hours)}:${pad(f.minutes)}:${pad(f.seconds)}`;
}

/** A datetime-local input's value read in the chosen zone; NaN when it is not one. */
export function parseInputTime(v: string): number {
  if (!/^\d{4,}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v)) return Number.NaN;
  return zone === 'utc' ? Date.parse(`${v}Z`) : new Date(v).getTime();
}

/** `2026-11-23 14:05:09` in the chosen zone. */
export function formatTime(ms: number): string {
  const f = fields(ms);
  return `${f.year}-${pad(f.month + 1)}-${pad(f.day)} ${pad(f.hours)}:${pad(f.minutes)}:${pad(f.seconds)}`;
}

/** `14:05:09.123` — the list's time column, with the date only when it is not today. */
export function formatListTime(iso: string | undefined, today: string): { date: string; time: string } {
  if (!iso) return { date: '', time: '—' };
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { date: '', time: iso };
  const f = fields(ms);
  const date = `${f.year}-${pad(f.month + 1)}-${pad(f.day)}`;
  return {
    date: date === today ? '' : date,
    time: `${pad(f.hours)}:${pad(f.minutes)}:${pad(f.seconds)}.${pad(f.millis, 3)}`,
  };
}

export function todayString(): string {
  const f = fields(Date.now());
  return `${f.year}-${pad(f.month + 1)}-${pad(f.day)}`;
}

export function eventTime(e: AuditEvent): number {
  return e.requestReceivedTimestamp ? Date.parse(e.requestReceivedTimestamp) : Number.NaN;
}

const REASONS: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function reasonPhrase(code: number | undefined): string {
  return code === undefined ? '' : (REASONS[code] ?? '');
}

export type CodeClass = 'ok' | 'client' | 'server' | 'none';

export function codeClass(code: number | undefined): CodeClass {
  if (code === undefined || code === null || code === 0) return 'none';
  if (code >= 500) return 'server';
  if (code >= 400) return 'client';
  return 'ok';
}

/** `pods/nginx/exec` style resource path (resource, then subresource). */
export function resourceLabel(e: AuditEvent): string {
  const r = e.objectRef;
  if (!r?.resource) return '';
  return r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
}

const PAST: Record<string, string> = {
  get: 'read',
  list: 'listed',
  watch: 'watched',
  create: 'created',
  update: 'updated',
  patch: 'patched',
  delete: 'deleted',
  deletecollection: 'deleted all',
  post: 'posted to',
  put: 'put',
};

/** "alice deleted pods nginx in project demo" (or "alice tried to delete …" when it failed) — the detail's headline. */
export function sentence(e: AuditEvent): string {
  const who = e.user?.username || 'someone';
  // A refused or failed call did not happen: say what was attempted.
  const failed = (e.responseStatus?.code ?? 0) >= 400;
  const verb = failed ? `tried to ${e.verb ?? 'call'}` : e.verb ? (PAST[e.verb] ?? e.verb) : 'called';
  const r = e.objectRef;
  let what = r?.resource ? resourceLabel(e) : e.requestURI || 'the API';
  if (r?.name) what += ` ${r.name}`;
  const where = r?.namespace ? ` in project ${r.namespace}` : e.workspace ? ` in workspace ${e.workspace}` : '';
  return `${who} ${verb} ${what}${where}`;
}

export function compactNumber(n: number): string {
  return n.toLocaleString('en-US');
}

/** Duration between the request and this stage, when both are known. */
export function latency(e: AuditEvent): string {
  if (!e.requestReceivedTimestamp || !e.stageTimestamp) return '';
  const ms = Date.parse(e.stageTimestamp) - Date.parse(e.requestReceivedTimestamp);
  if (!Number.isFinite(ms) || ms < 0) return '';
  // Kubernetes MicroTime keeps microseconds that Date.parse drops; sub-millisecond calls read as "< 1 ms".
  return ms < 1 ? '< 1 ms' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Nov 23` */
export function shortDate(ms: number): string {
  const f = fields(ms);
  return `${MONTHS[f.month]} ${f.day}`;
}

/** `08:30`, or `08:30:10` when seconds matter. */
export function clock(ms: number, seconds = false): string {
  const f = fields(ms);
  const hm = `${pad(f.hours)}:${pad(f.minutes)}`;
  return seconds ? `${hm}:${pad(f.seconds)}` : hm;
}

/** A histogram bucket for a person: `Nov 23 08:30 – 08:45`, or `Nov 23 – Nov 24` for day buckets. */
export function bucketLabel(start: number, intervalMs: number): string {
  const end = start + intervalMs;
  if (intervalMs >= 86_400_000) return `${shortDate(start)} – ${shortDate(end)}`;
  const secs = intervalMs < 60_000;
  const sameDay = shortDate(start) === shortDate(end - 1);
  return `${shortDate(start)} ${clock(start, secs)} – ${sameDay ? '' : `${shortDate(end)} `}${clock(end, secs)}`;
}

/**
 * The rules that matched an event, from the rule engine's records on it (`vigil.dev/kubesphere-rules`, then
 * `vigil.dev/falco-rules`: JSON arrays of `{rule, priority}`), read as the field table's `rule` field reads them
 * (src/event/model.ts `matchedRules`, which keeps the names only). Never throws.
 */
export function matchedRules(e: AuditEvent): { rule: string; priority?: string }[] {
  const out: { rule: string; priority?: string }[] = [];
  for (const key of ['vigil.dev/kubesphere-rules', 'vigil.dev/falco-rules']) {
    const record = e.annotations?.[key];
    if (!record) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(record);
    } catch {
      continue;
    }
    if (!Array.isArray(parsed)) continue;
    for (const m of parsed as { rule?: unknown; priority?: unknown }[]) {
      if (typeof m?.rule !== 'string' || !m.rule || out.some((o) => o.rule === m.rule)) continue;
      out.push({ rule: m.rule, priority: typeof m.priority === 'string' ? m.priority : undefined });
    }
  }
  return out;
}
