// Store-agnostic pieces of the query semantics, shared by every Store implementation so that they agree exactly:
// request validation, the keyset cursor, stage order, time conversion and the value sets of status codes. What
// differs from field to field is in the field table (./fields.ts).

import { STAGES } from '../event/model.ts';
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

/** Stage order for collapsing the stages of one call: a later stage replaces an earlier one. */
export function stageRank(stage: string): number {
  return (STAGES as readonly string[]).indexOf(stage);
}

/**
 * RFC 3339 timestamp → epoch microseconds. `Date.parse` keeps only milliseconds; the sub-millisecond digits of a
 * Kubernetes MicroTime are added from the fraction so that events of one millisecond keep their order.
 */
export function toMicros(ts: string): number {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return Number.NaN;
  const dot = ts.indexOf('.');
  let extra = 0;
  if (dot >= 0) {
    // digits 4..6 of the fraction
    let i = dot + 4;
    let scale = 100;
    while (scale >= 1 && i < ts.length) {
      const c = ts.charCodeAt(i);
      if (c < 48 || c > 57) break;
      extra += (c - 48) * scale;
      scale /= 10;
      i++;
    }
  }
  return ms * 1000 + extra;
}

export function checkPage(page: PageRequest): void {
  if (page.sort !== 'asc' && page.sort !== 'desc')
    throw new QueryError(`sort must be "asc" or "desc", not ${page.sort}`);
  if (!Number.isInteger(page.size) || page.size < 0 || page.size > MAX_PAGE_SIZE)
    throw new QueryError(`size must be an integer from 0 to ${MAX_PAGE_SIZE}, not ${page.size}`);
  if (page.from !== undefined && (!Number.isInteger(page.from) || page.from < 0))
    throw new QueryError(`from must be a non-negative integer, not ${page.from}`);
  if (page.after !== undefined && page.from)
    throw new QueryError('from and after cannot be combined: a cursor already says where the page starts');
}

export function checkQuery(q: EventQuery): void {
  for (const part of ['exact', 'fuzzy'] as const) {
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
  for (const k of ['start', 'end'] as const) {
    const v = q[k];
    if (v !== undefined && !Number.isFinite(v)) throw new QueryError(`${k} must be epoch milliseconds, not ${v}`);
  }
}

/** Keyset cursor: opaque to clients, it encodes the (received µs, id) of the last item of the previous page. */
export function encodeCursor(receivedMicros: number, id: string): string {
  return Buffer.from(`${receivedMicros}:${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { received: number; id: string } {
  const s = Buffer.from(cursor, 'base64url').toString();
  const m = /^(-?\d{1,17}):(\d{1,19})$/.exec(s);
  if (!m) throw new QueryError(`invalid cursor "${cursor}": pass the "next" value of a previous page unchanged`);
  return { received: Number(m[1]), id: m[2]! };
}

/** HTTP status codes (0–999) whose decimal form contains `term`: fuzzy search on `code` becomes exact. */
export function codeMatches(term: string): number[] {
  const out: number[] = [];
  for (let c = 0; c < 1000; c++) if (String(c).includes(term)) out.push(c);
  return out;
}

/** Exact code values: items that are not integers can never match (KubeSphere skips them likewise). */
export function exactCodes(values: string[]): number[] {
  const out: number[] = [];
  for (const v of values) if (/^-?\d{1,9}$/.test(v)) out.push(Number(v));
  return out;
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
