// The view's state lives in the URL under the API's own parameter names, so a bookmarked console URL and an API
// call read the same. The one console-only parameter is `range` (a relative time range such as `1h`), because a
// bookmark of "the last hour" must not freeze the hour it was taken in.
import { FIELDS as FIELD_TABLE } from '#store/fields';

/** `exact`: `*_filter`; `fuzzy`: `*_search`; `exclude`: `*_exclude` (none of these whole values). */
export type Mode = 'exact' | 'fuzzy' | 'exclude';

export interface FieldDef {
  key: string;
  label: string;
  /** `*_filter`: whole value, case-sensitive. */
  exact?: string;
  /** `*_search`: case-insensitive substring. */
  fuzzy?: string;
  /** `*_exclude`: none of these whole values (every field with a `*_filter` has one). */
  exclude?: string;
  /** The stats endpoint's `by` for value suggestions. */
  stats?: string;
  placeholder?: string;
}

// Every field of the table with query parameters, in the table's order. A field's key is its name in lower case
// (`sourceip`, as `by=`). Those with a console label are the filter editor's list (FIELDS); the others (audit ID,
// stage, …) are still read from the URL and pivoted on from the detail, named from the field's own name.
export const ALL_FIELDS: (FieldDef & { listed: boolean })[] = FIELD_TABLE.flatMap((f) => {
  if (!('params' in f) || !f.params) return [];
  const c: { label?: string; placeholder?: string; suggest?: false } = 'console' in f ? f.console : {};
  const p: { exact: string; fuzzy?: string } = f.params;
  const label =
    c.label ??
    ('label' in f ? f.label : undefined) ??
    f.name.replace(/ID$/, ' ID').replace(/^./, (x) => x.toUpperCase());
  const def: FieldDef & { listed: boolean } = { key: f.name.toLowerCase(), label, exact: p.exact, listed: !!c.label };
  if (p.exact.endsWith('_filter')) def.exclude = `${p.exact.slice(0, -'_filter'.length)}_exclude`;
  if (p.fuzzy) def.fuzzy = p.fuzzy;
  if ('stats' in f && c.label && c.suggest !== false) def.stats = f.stats;
  if (c.placeholder) def.placeholder = c.placeholder;
  return [def];
});

// The filter editor's list, in the field table's order (KubeSphere's Auditing Operating console's, then the ones
// Vigil adds): every field of the table with a console label.
export const FIELDS: FieldDef[] = ALL_FIELDS.filter((f) => f.listed);

export interface Filter {
  field: FieldDef;
  mode: Mode;
  values: string[];
}

export interface ViewState {
  filters: Filter[];
  q: string;
  /** Relative range (`12h`) or undefined when start/end are absolute. */
  range?: string;
  /** Absolute range, epoch ms. */
  start?: number;
  end?: number;
  /** The list's order: newest first unless `asc`. */
  sort?: 'asc';
  /** Parameters of the URL the console does not render (a newer API's, a hand-written one): kept, and sent on. */
  extra?: [string, string][];
}

export const DEFAULT_RANGE = '12h';

export const RANGES: { key: string; label: string }[] = [
  { key: '15m', label: 'Last 15 minutes' },
  { key: '1h', label: 'Last hour' },
  { key: '6h', label: 'Last 6 hours' },
  { key: '12h', label: 'Last 12 hours' },
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
];

const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function durationMs(spec: string): number | undefined {
  const m = /^(\d+)([smhdw])$/.exec(spec);
  return m ? Number(m[1]) * UNIT[m[2]] : undefined;
}

export function paramName(f: Filter): string {
  if (f.mode === 'exclude') return f.field.exclude as string;
  return (f.mode === 'fuzzy' ? f.field.fuzzy : f.field.exact) ?? f.field.exact ?? (f.field.fuzzy as string);
}

/** Unix seconds or RFC 3339, as the API accepts; epoch ms or undefined. */
function parseTime(v: string | null): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function finite(t: number | undefined): number | undefined {
  return t !== undefined && Number.isFinite(t) && Math.abs(t) < 8.64e15 ? t : undefined;
}

export function parseView(search: string): ViewState {
  const p = new URLSearchParams(search);
  const filters: Filter[] = [];
  for (const field of ALL_FIELDS) {
    for (const mode of ['exact', 'fuzzy', 'exclude'] as const) {
      const name = mode === 'exact' ? field.exact : mode === 'fuzzy' ? field.fuzzy : field.exclude;
      const raw = name ? p.get(name) : null;
      if (!raw) continue;
      const values = splitValues(raw);
      if (values.length) filters.push({ field, mode, values });
    }
  }
  const start = finite(parseTime(p.get('start_time')));
  const end = finite(parseTime(p.get('end_time')));
  const range = p.get('range') ?? undefined;
  const view: ViewState = { filters, q: p.get('q') ?? '' };
  if (p.get('sort') === 'asc') view.sort = 'asc';
  const known = new Set(['q', 'range', 'start_time', 'end_time', 'sort']);
  for (const f of ALL_FIELDS) for (const n of [f.exact, f.fuzzy, f.exclude]) if (n) known.add(n);
  const extra = [...p].filter(([k]) => !known.has(k));
  if (extra.length) view.extra = extra;
  if (start !== undefined || end !== undefined) {
    view.start = start;
    view.end = end;
  } else {
    view.range = range === 'all' || (range && durationMs(range)) ? range : DEFAULT_RANGE;
  }
  return view;
}

export function splitValues(raw: string): string[] {
  return raw
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** The URL search string for a view (`?user_search=adm&verb_filter=delete`), default range left out. */
export function viewToSearch(view: ViewState): string {
  const p = filterParams(view);
  if (view.start !== undefined || view.end !== undefined) {
    if (view.start !== undefined) p.set('start_time', String(Math.floor(view.start / 1000)));
    if (view.end !== undefined) p.set('end_time', String(Math.ceil(view.end / 1000)));
  } else if (view.range && view.range !== DEFAULT_RANGE) {
    p.set('range', view.range);
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function filterParams(view: ViewState): URLSearchParams {
  const p = new URLSearchParams();
  for (const f of view.filters) {
    const name = paramName(f);
    const prev = p.get(name);
    p.set(name, prev ? `${prev},${f.values.join(',')}` : f.values.join(','));
  }
  if (view.q.trim()) p.set('q', view.q.trim());
  if (view.sort) p.set('sort', view.sort);
  for (const [k, v] of view.extra ?? []) p.append(k, v);
  return p;
}

/** The time window a view covers right now, epoch ms; `start` undefined means all time. */
export function resolveRange(view: ViewState, now: number): { start?: number; end: number } {
  if (view.range === 'all') return { end: now };
  if (view.range) return { start: now - (durationMs(view.range) ?? 0), end: now };
  return { start: view.start, end: view.end ?? now };
}

/** API parameters for a view: the filters plus the resolved time window (Unix seconds). */
export function apiParams(view: ViewState, window: { start?: number; end: number }): URLSearchParams {
  const p = filterParams(view);
  if (window.start !== undefined) p.set('start_time', String(Math.floor(window.start / 1000)));
  p.set('end_time', String(Math.ceil(window.end / 1000)));
  return p;
}

const STEPS = ['10s', '30s', '1m', '5m', '10m', '15m', '30m', '1h', '3h', '6h', '12h', '1d', '7d'];

/** The histogram interval giving at most ~60 bars over a span, as the API spells it. */
export function pickInterval(spanMs: number): string {
  for (const s of STEPS) if (spanMs / (durationMs(s) as number) <= 60) return s;
  return '7d';
}

// Status classes for the trend chart: the API filters codes by exact value lists, so each class is one list.
// Events without a code (RequestReceived stage, …) are the unfiltered count minus the three classes.
function codes(from: number, to: number): string {
  const out: number[] = [];
  for (let c = from; c <= to; c++) out.push(c);
  return out.join(',');
}
export const CODE_CLASSES = [
  { key: 'ok', label: 'Success', codes: codes(100, 399) },
  { key: 'client', label: 'Client error (4xx)', codes: codes(400, 499) },
  { key: 'server', label: 'Server error (5xx)', codes: codes(500, 599) },
] as const;

export type ContextScope = 'user' | 'object' | 'ip' | 'all';

/** What "around this event" means: the event's time ± `minutes`, and the same user, object or source IP (or all). */
export function contextView(
  e: { time: number; user?: string; resource?: string; namespace?: string; name?: string; ip?: string },
  minutes: number,
  scope: ContextScope,
): ViewState {
  const exact = (key: string, v: string | undefined): Filter[] => {
    const field = ALL_FIELDS.find((f) => f.key === key);
    return field && v ? [{ field, mode: 'exact', values: [v] }] : [];
  };
  const filters =
    scope === 'user'
      ? exact('user', e.user)
      : scope === 'object'
        ? [...exact('resource', e.resource), ...exact('namespace', e.namespace), ...exact('name', e.name)]
        : scope === 'ip'
          ? exact('sourceip', e.ip)
          : [];
  // Whole seconds, as the URL keeps them, widened so the event itself is always inside.
  const start = Math.floor((e.time - minutes * 60_000) / 1000) * 1000;
  const end = Math.ceil((e.time + minutes * 60_000) / 1000) * 1000;
  return { filters, q: '', start, end };
}

/** The code filter's value for each legend class (the API's status classes and ranges). */
export const CLASS_VALUE: Record<'ok' | 'client' | 'server', string> = { ok: '<400', client: '4xx', server: '5xx' };

/**
 * The status codes (100–599) a code filter's values cover: exact codes, classes (`4xx`) and ranges (`>=400`,
 * `<400`, `400-499`), as the API reads them.
 */
export function expandCodes(values: string[]): Set<string> {
  const out = new Set<string>();
  for (const raw of values) {
    const test = codeTest(raw.trim().toLowerCase());
    if (test) for (let c = 100; c <= 599; c++) if (test(c)) out.add(String(c));
  }
  return out;
}

function codeTest(v: string): ((c: number) => boolean) | undefined {
  const cls = /^([1-5])xx$/.exec(v);
  if (cls) return (c) => Math.floor(c / 100) === Number(cls[1]);
  const cmp = /^(>=|<=|>|<)(\d+)$/.exec(v);
  if (cmp) {
    const [op, n] = [cmp[1], Number(cmp[2])];
    return (c) => (op === '>=' ? c >= n : op === '<=' ? c <= n : op === '>' ? c > n : c < n);
  }
  const range = /^(\d+)-(\d+)$/.exec(v);
  if (range) return (c) => c >= Number(range[1]) && c <= Number(range[2]);
  if (/^\d+$/.test(v)) return (c) => c === Number(v);
  return undefined;
}
