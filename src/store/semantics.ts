// Store-agnostic pieces of the query semantics, shared by every Store implementation so that they agree exactly:
// request validation, the keyset cursor, stage order, time conversion and the value sets of status codes. What
// differs from field to field is in the field table (./fields.ts).

import type { AuditEvent } from '../event/model.ts';
import { STAGES } from '../event/model.ts';
import { parseTimeMicros } from '../event/time.ts';
import { FILTER_FIELDS } from './fields.ts';
import type { EventQuery, PageRequest, TenantScope } from './types.ts';

/** A query or page request the store cannot answer as given (the HTTP layer answers 400 with the message). */
export class QueryError extends Error {
  override name = 'QueryError';
}

/** Largest page a store returns in one call. */
export const MAX_PAGE_SIZE = 10_000;
/**
 * Default largest number of buckets a histogram may have (gaps included); a store option changes it. 10,000 is a
 * week in 1-minute buckets; a 1-second interval over months would otherwise build a multi-megabyte answer.
 */
export const MAX_HISTOGRAM_BUCKETS = 10_000;

/**
 * Most substring terms (`*_search`, `q`) one parameter may hold, and all of them together: each is a pattern the
 * store tests against its dictionary (SQLite: one term of an OR expression, whose depth SQLite bounds at 1000), so
 * a bound keeps every accepted query runnable and cheap. No console or CLI sends more than a handful. The HTTP
 * layer answers beyond them with a 400 naming the parameter; checkQuery holds every caller to them.
 */
export const MAX_FUZZY_TERMS = 100;
export const MAX_FUZZY_TERMS_TOTAL = 200;
/**
 * Most values one exact `*_filter` parameter may hold (bound parameters of an IN list); the HTTP layer's bound only:
 * the stores' own callers (a migration's page of audit IDs) pass more.
 */
export const MAX_EXACT_VALUES = 1000;

/** Stage order for collapsing the stages of one call: a later stage replaces an earlier one. */
export function stageRank(stage: string): number {
  return (STAGES as readonly string[]).indexOf(stage);
}

/**
 * Timestamp → epoch microseconds, exactly (the one parser of src/event/time.ts, as the decoders read events);
 * NaN when it is not a timestamp.
 */
export function toMicros(ts: string): number {
  return parseTimeMicros(ts);
}

/**
 * Largest received time a store keeps, in epoch µs: an exact JS integer (2255-06-05). Beyond, reading the column back
 * failed ("too large to be represented as a JavaScript number") for every query that met the row.
 */
export const MAX_STORED_MICROS = Number.MAX_SAFE_INTEGER;

/**
 * An event's received time as the stores keep it, or a QueryError: not a timestamp, or outside what a store can
 * keep (before 1970 or past MAX_STORED_MICROS; ingest refuses these earlier, with a 400 naming the field).
 */
export function receivedMicros(e: AuditEvent): number {
  const received = toMicros(e.requestReceivedTimestamp);
  if (Number.isNaN(received))
    throw new QueryError(
      `event ${e.auditID}: requestReceivedTimestamp ${JSON.stringify(e.requestReceivedTimestamp)} is not an RFC 3339 time`,
    );
  if (received < 0 || received > MAX_STORED_MICROS)
    throw new QueryError(
      `event ${e.auditID}: requestReceivedTimestamp ${JSON.stringify(e.requestReceivedTimestamp)} is outside the time range a store keeps (1970 to 2255)`,
    );
  return received;
}

export function checkPage(page: PageRequest): void {
  if (page.sort !== 'asc' && page.sort !== 'desc')
    throw new QueryError(`sort must be "asc" or "desc", not ${page.sort}`);
  if (!Number.isInteger(page.size) || page.size < 0 || page.size > MAX_PAGE_SIZE)
    throw new QueryError(`size must be an integer from 0 to ${MAX_PAGE_SIZE}, not ${page.size}`);
  if (page.from !== undefined && (!Number.isSafeInteger(page.from) || page.from < 0))
    throw new QueryError(`from must be a non-negative integer, not ${page.from}`);
  if (page.after !== undefined && page.from)
    throw new QueryError('from and after cannot be combined: a cursor already says where the page starts');
}

export function checkQuery(q: EventQuery): void {
  for (const part of ['exact', 'fuzzy', 'exclude'] as const) {
    const m = q[part];
    if (!m) continue;
    for (const [k, v] of Object.entries(m)) {
      if (!(FILTER_FIELDS as readonly string[]).includes(k)) throw new QueryError(`unknown ${part} field "${k}"`);
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new QueryError(`${part}.${k} must be a list of strings`);
    }
  }
  if (q.text && (!Array.isArray(q.text) || q.text.some((x) => typeof x !== 'string')))
    throw new QueryError('text must be a list of strings');
  let terms = q.text?.length ?? 0;
  if (terms > MAX_FUZZY_TERMS) throw new QueryError(`more than ${MAX_FUZZY_TERMS} free-text terms`);
  for (const [k, v] of Object.entries(q.fuzzy ?? {})) {
    if (v.length > MAX_FUZZY_TERMS) throw new QueryError(`more than ${MAX_FUZZY_TERMS} search terms for ${k}`);
    terms += v.length;
  }
  if (terms > MAX_FUZZY_TERMS_TOTAL) throw new QueryError(`more than ${MAX_FUZZY_TERMS_TOTAL} search terms in all`);
  for (const k of ['start', 'end'] as const) {
    const v = q[k];
    // within what the stores' epoch-µs arithmetic holds exactly
    if (v !== undefined && !(Number.isFinite(v) && Math.abs(v) <= MAX_STORED_MICROS / 1000))
      throw new QueryError(`${k} must be epoch milliseconds, not ${v}`);
  }
}

const MAX_BIGINT = 2n ** 63n - 1n;

/** Keyset cursor: opaque to clients, it encodes the (received µs, id) of the last item of the previous page. */
export function encodeCursor(receivedMicros: number, id: string): string {
  return Buffer.from(`${receivedMicros}:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { received: number; id: string } {
  const s = Buffer.from(cursor, 'base64url').toString();
  const m = /^(-?\d{1,17}):(\d{1,19})$/.exec(s);
  // a forged cursor's numbers stay within what both stores compare exactly (PostgreSQL's bigint ids; exact µs)
  if (!m || !Number.isSafeInteger(Number(m[1])) || BigInt(m[2]!) > MAX_BIGINT)
    throw new QueryError(`invalid cursor "${cursor}": pass the "next" value of a previous page unchanged`);
  return { received: Number(m[1]), id: m[2]! };
}

/** HTTP status codes (0–999) whose decimal form contains `term`: fuzzy search on `code` becomes exact. */
export function codeMatches(term: string): number[] {
  const out: number[] = [];
  for (let c = 0; c < 1000; c++) if (String(c).includes(term)) out.push(c);
  return out;
}

/** An inclusive range of status codes; `lo === hi` for one code. */
export type CodeRange = readonly [lo: number, hi: number];

/** Largest code a range may name: status codes have three digits; the bound keeps SQL integers small. */
const MAX_CODE = 999;

/**
 * One item of `response_code_filter`/`_exclude` → the codes it names, or undefined if it names none: an exact code
 * (`403`), a class (`4xx`, 1xx–5xx), a comparison (`>=400`, `<=499`, `>499`, `<300`) or a range (`400-499`).
 */
export function codeRange(item: string): CodeRange | undefined {
  const v = item.trim();
  if (/^-?\d{1,9}$/.test(v)) return [Number(v), Number(v)];
  const cls = /^([1-5])xx$/i.exec(v);
  if (cls) return [Number(cls[1]) * 100, Number(cls[1]) * 100 + 99];
  const cmp = /^(>=|<=|>|<)\s*(\d{1,3})$/.exec(v);
  if (cmp) {
    const n = Number(cmp[2]);
    switch (cmp[1]) {
      case '>=':
        return [n, MAX_CODE];
      case '<=':
        return [0, n];
      case '>':
        return n >= MAX_CODE ? undefined : [n + 1, MAX_CODE];
      default:
        return n <= 0 ? undefined : [0, n - 1];
    }
  }
  const span = /^(\d{1,3})\s*-\s*(\d{1,3})$/.exec(v);
  if (span && Number(span[1]) <= Number(span[2])) return [Number(span[1]), Number(span[2])];
  return undefined;
}

/**
 * The ranges of a list of code items (OR'ed), adjacent and overlapping ones merged. Items naming no code are
 * skipped: they can never match (KubeSphere skips exact values that are not integers likewise).
 */
export function codeRanges(values: readonly string[]): CodeRange[] {
  const rs = values.flatMap((v) => {
    const r = codeRange(v);
    return r ? [r] : [];
  });
  rs.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of rs) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/**
 * Every code of `ranges`, one by one. The stores look each up in their (code, received …) index with the time range:
 * a BETWEEN over codes would read every entry of those codes whatever their time (a `4xx` histogram over 12 hours of a
 * 1 M-event store took seconds). Spans lie within 0…MAX_CODE, so this is at most 1,000 codes.
 */
export function codeList(ranges: readonly CodeRange[]): number[] {
  const out: number[] = [];
  for (const [lo, hi] of ranges) for (let c = lo; c <= hi; c++) out.push(c);
  return out;
}

/** Whether `code` is in one of `ranges`. */
export function inCodeRanges(code: number, ranges: readonly CodeRange[]): boolean {
  return ranges.some(([lo, hi]) => code >= lo && code <= hi);
}

/**
 * The scope's non-empty names: an empty name would otherwise expose every event without a workspace/namespace
 * (or cluster). `clusters` undefined: no cluster constraint; `all`: the workspaces and namespaces do not narrow the
 * clusters (a tenant of whole clusters).
 */
export function scopeLists(scope: TenantScope): {
  workspaces: string[];
  namespaces: string[];
  clusters?: string[];
  all: boolean;
} {
  const workspaces = scope.workspaces.filter((w) => w !== '');
  const namespaces = scope.namespaces.filter((n) => n !== '');
  if (scope.clusters === undefined) return { workspaces, namespaces, all: false };
  const clusters = scope.clusters.filter((c) => c !== '');
  return { workspaces, namespaces, clusters, all: workspaces.length === 0 && namespaces.length === 0 };
}
