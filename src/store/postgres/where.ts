// The WHERE clause of a PostgreSQL query (values of one field OR'ed, fields AND'ed), from each field's storage: its
// column, its list, its dictionary values (looked up first: termMatches), or its enumerated values.
import { type FilterField, fieldSpec } from '../fields.ts';
import { codeList, codeMatches, codeRanges, scopeLists } from '../semantics.ts';
import type { EventQuery } from '../types.ts';
import { COLUMN, isList, pgText, TERM_FIELDS, TEXT_IN_TERMS } from './columns.ts';
import type { Db } from './pool.ts';

/** Most dictionary values a condition lists itself; beyond, it selects them with a subquery. */
const INLINE_TERMS = 1000;

/**
 * The dictionary values matching a query's fuzzy terms (by field) and free-text terms (by field; undefined when more
 * than INLINE_TERMS matched), looked up before the query so that the planner sees the lists it searches the column
 * indexes for (given subqueries it guesses their sizes and may scan every event of the time range instead).
 */
export interface TermMatches {
  fuzzy: Map<string, string[]>;
  text?: Map<string, string[]>;
}

/**
 * Events whose `field` holds one of `values` (a parameter reference to a text[]), or, given ILIKE `patterns`, one of
 * the dictionary values matching them (a subquery computed once per query).
 */
function termCondition(field: FilterField, values: { list: string } | { patterns: string[] }): string {
  const set =
    'list' in values
      ? `${values.list}::text[]`
      : `ARRAY(SELECT value FROM terms WHERE field = '${field}' AND (${values.patterns.map((pat) => `value ILIKE ${pat}`).join(' OR ')}))`;
  return isList(field) ? `e.${COLUMN[field]} && ${set}` : `e.${COLUMN[field]} = ANY(${set})`;
}

export async function termMatches(db: Db, q: EventQuery): Promise<TermMatches> {
  const out: TermMatches = { fuzzy: new Map() };
  const find = async (fields: readonly string[], terms: string[]) => {
    const patterns = terms.map(contains);
    const r = await db.read<{ field: string; value: string }>(
      `SELECT field, value FROM terms WHERE field = ANY($1::text[])
         AND (${patterns.map((_, i) => `value ILIKE $${i + 2}`).join(' OR ')}) LIMIT ${INLINE_TERMS + 1}`,
      [fields, ...patterns],
    );
    if (r.rows.length > INLINE_TERMS) return undefined;
    const by = new Map<string, string[]>();
    for (const { field, value } of r.rows) {
      const list = by.get(field);
      if (list) list.push(value);
      else by.set(field, [value]);
    }
    return by;
  };
  const lookups: Promise<void>[] = [];
  for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
    if (!values?.length || values.includes('') || !TERM_FIELDS.has(field)) continue;
    lookups.push(
      find([field], values).then((m) => {
        if (m) out.fuzzy.set(field, m.get(field) ?? []);
      }),
    );
  }
  if (q.text?.length && !q.text.includes(''))
    lookups.push(
      find(TEXT_IN_TERMS, q.text).then((m) => {
        out.text = m;
      }),
    );
  await Promise.all(lookups);
  return out;
}

/** ILIKE pattern for a case-insensitive substring: the term's own %, _ and \ are literal. */
export function contains(term: string): string {
  return `%${pgText(term).replace(/[\\%_]/g, '\\$&')}%`;
}

/** Values of an enumerated field (`oneOf`) containing `term` case-insensitively: fuzzy search on it becomes exact. */
function enumMatches(all: readonly string[], term: string): string[] {
  const t = term.toLowerCase();
  return all.filter((v) => v.toLowerCase().includes(t));
}

/**
 * A field kept only as line N of the `search` text (the request URI, the user agent): its value is that line.
 * No index of its own: the trigram index of `search` narrows the rows first (searchLine's callers AND an ILIKE on
 * `search`), then the line is compared. A value holding a line break (HTTP allows none in a request line or a header)
 * shifts the lines and is not found exactly.
 */
function searchLine(field: FilterField): string {
  return `split_part(e.search, chr(10), ${fieldSpec(field).postgres.search})`;
}

/** Query parameters collected while the SQL is built. */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** The WHERE clause (over `events e`) of a query: values of one field OR'ed, fields AND'ed. */
export function buildWhere(q: EventQuery, p: Params, matches?: TermMatches): string {
  const conds: string[] = [];
  // One value as `=`, not `= ANY(array)`: PostgreSQL 15 then walks a (column, received) index in time order for a
  // page (`ORDER BY received DESC LIMIT n` stops after n), where with ANY it fetched and sorted every match (a user
  // and a verb at 10 M events: ~90 ms instead of ~10).
  const eq = (col: string, values: (string | number)[], type: 'text' | 'int') => {
    const v = values.map((x) => (typeof x === 'string' ? pgText(x) : x));
    return v.length === 1 ? `${col} = ${p.add(v[0])}::${type}` : `${col} = ANY(${p.add(v)}::${type}[])`;
  };
  const exact = (field: FilterField, values: string[]): string => {
    if (COLUMN[field] === undefined) {
      const near = values.map((v) => `e.search ILIKE ${p.add(contains(v))}`);
      return `((${near.join(' OR ')}) AND ${eq(searchLine(field), values, 'text')})`;
    }
    const col = `e.${COLUMN[field]}`;
    if (isList(field)) return `${col} && ${p.add(values.map(pgText))}::text[]`;
    if (!fieldSpec(field).code) return eq(col, values, 'text');
    // every code of the classes and ranges, each looked up with the time range (semantics.ts's codeList)
    const codes = codeList(codeRanges(values));
    return codes.length === 0 ? 'false' : eq(col, codes, 'int');
  };
  for (const [field, values] of Object.entries(q.exact ?? {}) as [FilterField, string[]][]) {
    if (values && values.length > 0) conds.push(exact(field, values));
  }
  // Exclusion: the complement of the exact condition on the same values; a missing code (NULL) is not excluded.
  for (const [field, values] of Object.entries(q.exclude ?? {}) as [FilterField, string[]][]) {
    if (!values || values.length === 0) continue;
    const c = exact(field, values);
    if (c !== 'false') conds.push(`NOT coalesce(${c}, false)`);
  }
  for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
    if (!values || values.length === 0) continue;
    const spec = fieldSpec(field);
    const col = COLUMN[field] === undefined ? searchLine(field) : `e.${COLUMN[field]}`;
    if (spec.oneOf) {
      const all = spec.oneOf;
      const matches = [...new Set(values.flatMap((v) => enumMatches(all, v)))];
      conds.push(matches.length === 0 ? 'false' : eq(col, matches, 'text'));
      continue;
    }
    if (spec.code) {
      const codes = [...new Set(values.flatMap(codeMatches))];
      conds.push(codes.length === 0 ? 'false' : eq(col, codes, 'int'));
      continue;
    }
    if (values.includes('')) continue; // the empty string is a substring of everything
    if (TERM_FIELDS.has(field)) {
      const found = matches?.fuzzy.get(field);
      if (found?.length === 0) conds.push('false');
      else if (found?.length === 1 && !isList(field)) conds.push(eq(col, found, 'text'));
      else if (found) conds.push(termCondition(field, { list: p.add(found) }));
      else conds.push(termCondition(field, { patterns: values.map((v) => p.add(contains(v))) }));
      continue;
    }
    const patterns = values.map((v) => p.add(contains(v)));
    // a field that is also in `search` (the status): its trigram index narrows the rows the column test runs on
    const ors = patterns.map((pat) =>
      spec.postgres.search ? `(e.search ILIKE ${pat} AND ${col} ILIKE ${pat})` : `${col} ILIKE ${pat}`,
    );
    conds.push(`(${ors.join(' OR ')})`);
  }
  if (q.text && q.text.length > 0 && !q.text.includes('')) {
    const patterns = q.text.map((t) => p.add(contains(t)));
    const ors = patterns.map((pat) => `e.search ILIKE ${pat}`);
    const found = matches?.text;
    for (const f of TEXT_IN_TERMS) {
      if (!found) ors.push(termCondition(f, { patterns }));
      else if (found.has(f)) ors.push(termCondition(f, { list: p.add(found.get(f)) }));
    }
    conds.push(`(${ors.join(' OR ')})`);
  }
  if (q.start !== undefined) conds.push(`e.received >= ${p.add(Math.ceil(q.start) * 1000)}::bigint`);
  // inclusive to the end of the millisecond
  if (q.end !== undefined) conds.push(`e.received <= ${p.add(Math.floor(q.end) * 1000 + 999)}::bigint`);
  if (q.scope) {
    const { workspaces, namespaces, clusters, all } = scopeLists(q.scope);
    if (clusters) conds.push(clusters.length === 0 ? 'false' : eq('e.cluster', clusters, 'text'));
    const parts: string[] = [];
    if (workspaces.length > 0) parts.push(eq('e.workspace', workspaces, 'text'));
    if (namespaces.length > 0) parts.push(eq('e.namespace', namespaces, 'text'));
    if (!all) conds.push(parts.length === 0 ? 'false' : `(${parts.join(' OR ')})`);
  }
  return conds.length === 0 ? 'true' : conds.join(' AND ');
}

/**
 * Whether a query constrains only the time: its counts can come from `event_minutes`. (A tenant scope is left to
 * the workspace and namespace indexes: it selects a small share of the events.)
 */
export function countsFromMinutes(q: EventQuery): boolean {
  if (q.scope) return false;
  const none = (m?: Partial<Record<FilterField, string[]>>) =>
    !m || Object.values(m).every((v) => !v || v.length === 0);
  return none(q.exact) && none(q.fuzzy) && none(q.exclude) && (!q.text || q.text.length === 0);
}
