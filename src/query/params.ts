// KubeSphere's auditing query parameters → EventQuery / PageRequest. Fastify validates the query string against
// the JSON schemas built here (unknown parameters and out-of-range numbers are rejected before a handler runs);
// the parsers below turn the validated strings into the store's types and name the parameter of any bad value.
import { DEFAULT_CLOCK_SKEW_MS, parseTimeMs, timeRangeProblem } from '../event/time.ts';
import { FIELD_PARAMS, FIELDS, type FilterField, FREE_TEXT, type StatsField } from '../store/fields.ts';
import { codeRange, MAX_EXACT_VALUES, MAX_FUZZY_TERMS, MAX_FUZZY_TERMS_TOTAL } from '../store/semantics.ts';
import type { EventQuery, PageRequest } from '../store/types.ts';

export { MAX_EXACT_VALUES, MAX_FUZZY_TERMS, MAX_FUZZY_TERMS_TOTAL };

/** A query-string problem; the server answers 400 `{ error, field }`. */
export class ParamError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'ParamError';
    this.field = field;
  }
}

/** Parameter → how it filters. `filter` is exact, `search` fuzzy, `exclude` not exact (see EventQuery). */
export const FILTER_PARAMS: Record<string, { kind: 'exact' | 'fuzzy' | 'exclude'; field: FilterField }> =
  Object.fromEntries(
    FIELD_PARAMS.flatMap(({ field, filter, search, exclude }) => [
      [filter, { kind: 'exact', field }] as const,
      ...(search ? [[search, { kind: 'fuzzy', field }] as const] : []),
      [exclude, { kind: 'exclude', field }] as const,
    ]),
  );

const STRING = { type: 'string' } as const;
const TIME = { type: 'string', minLength: 1 } as const;

/** Parameters every query endpoint takes: the filters, free text and the time range. */
const FILTER_SCHEMA: Record<string, object> = {
  ...Object.fromEntries(Object.keys(FILTER_PARAMS).map((k) => [k, STRING])),
  q: { type: 'string', description: FREE_TEXT.description },
  start_time: TIME,
  end_time: TIME,
};
/**
 * Largest `from` (an offset): the stores bind it as a 64-bit integer, and a JSON number beyond 2^53 is not an exact
 * integer any more (`from=1e300` once reached SQLite as a REAL: "datatype mismatch", a 500).
 */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;
const PAGE_SCHEMA = {
  sort: { type: 'string', enum: ['asc', 'desc'] },
  from: { type: 'integer', minimum: 0, maximum: MAX_OFFSET },
  size: { type: 'integer', minimum: 1, maximum: 1000 },
  after: { type: 'string', minLength: 1 },
};
export const INTERVAL = /^([0-9]+)([smhdw])$/;
const INTERVAL_SCHEMA = { type: 'string', pattern: INTERVAL.source };
/** `/stats?by=` name → the field counted. */
export const STATS_BY: Record<string, StatsField> = Object.fromEntries(
  FIELDS.flatMap((f) => ('stats' in f ? [[f.stats, f.name] as const] : [])),
);

function qs(properties: Record<string, object>): object {
  return { type: 'object', properties, additionalProperties: false };
}

export const SCHEMAS = {
  list: qs({ ...FILTER_SCHEMA, ...PAGE_SCHEMA }),
  stream: qs({ ...FILTER_SCHEMA, since_id: { type: 'string', pattern: '^[0-9]{1,16}$' } }),
  histogram: qs({ ...FILTER_SCHEMA, interval: INTERVAL_SCHEMA }),
  stats: qs({
    ...FILTER_SCHEMA,
    by: { type: 'string', enum: Object.keys(STATS_BY) },
    size: { type: 'integer', minimum: 1, maximum: 1000 },
  }),
  kubesphere: qs({
    ...FILTER_SCHEMA,
    ...PAGE_SCHEMA,
    operation: { type: 'string', enum: ['query', 'statistics', 'histogram'] },
    interval: INTERVAL_SCHEMA,
  }),
};

export type Params = Record<string, string | number | undefined>;

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const MAX_TIME_MS = 8.64e15;

/**
 * Unix seconds (integer or fractional) or a timestamp (the one parser of src/event/time.ts, as events are read) →
 * epoch ms, within the accepted time range (1970 … now + the clock-skew allowance), as event times are.
 */
export function parseTime(field: string, v: string, skewMs: number = DEFAULT_CLOCK_SKEW_MS): number {
  let ms: number;
  if (/^\d{1,20}(\.\d{1,20})?$/.test(v)) ms = Math.round(Number(v) * 1000);
  else {
    try {
      ms = parseTimeMs(v);
    } catch {
      throw new ParamError(
        field,
        `${field} must be Unix seconds or an RFC 3339 time, not ${JSON.stringify(v.slice(0, 60))}`,
      );
    }
  }
  const why = timeRangeProblem(ms, skewMs);
  if (why) throw new ParamError(field, `${field} ${JSON.stringify(v.slice(0, 60))} ${why}`);
  return ms;
}

export interface QueryBounds {
  /** The clock-skew allowance bounding start_time/end_time (ingest.limits.maxClockSkew); default 1 h. */
  skewMs?: number;
}

/** The filter part of the parameters. The caller adds `scope` from the token, never from here. */
export function toEventQuery(p: Params, bounds: QueryBounds = {}): EventQuery {
  const q: EventQuery = {};
  let fuzzy = 0;
  const count = (name: string, n: number, max: number) => {
    if (n > max) throw new ParamError(name, `${name} has ${n} terms, more than the ${max} accepted`);
    if (max === MAX_EXACT_VALUES) return;
    fuzzy += n;
    if (fuzzy > MAX_FUZZY_TERMS_TOTAL)
      throw new ParamError(name, `more than ${MAX_FUZZY_TERMS_TOTAL} search terms in all (*_search and q)`);
  };
  for (const [name, raw] of Object.entries(p)) {
    const spec = FILTER_PARAMS[name];
    if (!spec || raw === undefined) continue;
    const values = list(String(raw));
    if (values.length === 0) continue;
    count(name, values.length, spec.kind === 'fuzzy' ? MAX_FUZZY_TERMS : MAX_EXACT_VALUES);
    if (spec.field === 'code' && spec.kind !== 'fuzzy') {
      const bad = values.find((v) => (/^\d+$/.test(v) ? !/^\d{3}$/.test(v) : codeRange(v) === undefined));
      if (bad)
        throw new ParamError(
          name,
          `${name} takes HTTP status codes (403), classes (4xx), comparisons (>=400, <500) and ranges (400-499), not ${JSON.stringify(bad)}`,
        );
    }
    q[spec.kind] ??= {};
    const target = q[spec.kind]!;
    target[spec.field] = [...(target[spec.field] ?? []), ...values];
  }
  if (typeof p.q === 'string') {
    const text = list(p.q);
    count('q', text.length, MAX_FUZZY_TERMS);
    if (text.length) q.text = text;
  }
  if (p.start_time !== undefined) q.start = parseTime('start_time', String(p.start_time), bounds.skewMs);
  if (p.end_time !== undefined) q.end = parseTime('end_time', String(p.end_time), bounds.skewMs);
  if (q.start !== undefined && q.end !== undefined && q.start > q.end)
    throw new ParamError('start_time', 'start_time is after end_time');
  return q;
}

/**
 * A histogram's time range: the query's, or from 1970 and up to now plus the allowance where it gives none, so
 * that no histogram depends on the whole table's extreme rows (a far-future row stored by an older version once
 * made every unbounded histogram fail).
 */
export function histogramRange(q: EventQuery, bounds: QueryBounds = {}): EventQuery {
  return { ...q, start: q.start ?? 0, end: q.end ?? Date.now() + (bounds.skewMs ?? DEFAULT_CLOCK_SKEW_MS) };
}

/**
 * A numeric parameter the schema validated, or `fallback` when absent. Ajv lets `Infinity` and `-Infinity` through
 * `integer` with any `minimum`/`maximum` (they reached the stores: SQLite's "datatype mismatch", a 500), so whether
 * it is a safe integer is checked here again.
 */
export function intParam(p: Params, name: string, fallback: number): number {
  const v = p[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw new ParamError(name, `${name} must be an integer within ±${Number.MAX_SAFE_INTEGER}, not ${String(v)}`);
  return v;
}

export function toPage(p: Params): PageRequest {
  const page: PageRequest = { sort: p.sort === 'asc' ? 'asc' : 'desc', size: intParam(p, 'size', 10) };
  if (p.from !== undefined) page.from = intParam(p, 'from', 0);
  if (p.after !== undefined) page.after = String(p.after);
  if (page.from && page.after) throw new ParamError('after', 'after and from cannot be combined');
  return page;
}

/** `30m` → ms; default 15m. */
export function toInterval(p: Params): number {
  const m = INTERVAL.exec(String(p.interval ?? '15m'));
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m?.[2] as 's'];
  const ms = m ? Number(m[1]) * unit : 0;
  // Not beyond any time range the store holds (and a safe integer for its arithmetic).
  if (ms > MAX_TIME_MS) throw new ParamError('interval', `interval ${p.interval} is longer than any time range`);
  if (!(ms > 0)) throw new ParamError('interval', `interval must be like 30s, 15m, 1h, 1d, 1w, not ${p.interval}`);
  return ms;
}
