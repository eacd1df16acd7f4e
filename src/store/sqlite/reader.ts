// The SQLite store's query connection: its cached statements, lookups in the dictionary and the WHERE clause of a
// query (values of one field OR'ed, fields AND'ed), built from the field table's storage of each field.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { FilterField } from '../fields.ts';
import { type CodeRange, codeList, codeMatches, codeRanges, scopeLists } from '../semantics.ts';
import type { EventQuery } from '../types.ts';
import { FIELD_NO, placeholders, STORAGE, TEXT_DICT, TEXT_FIELD_NOS, TEXT_LIST_NOS } from './schema.ts';

/** Most matching dictionary terms a fuzzy condition lists by id (beyond, it keeps the dictionary subquery). */
const INLINE_TERMS = 500;

/**
 * FTS5 query matching the values that hold every trigram of `term`: a superset of those containing it (the index
 * keeps no positions, detail = 'none'), which the caller narrows with a substring test. Each trigram is a quoted
 * three-character string, which the tokenizer folds as it folded the values.
 */
function ftsTrigrams(term: string): string {
  const chars = [...term];
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(''));
  return [...grams].map((g) => `"${g.replaceAll('"', '""')}"`).join(' AND ');
}

/** LIKE pattern of a substring (LIKE folds ASCII letters only: for terms of ASCII characters). */
function likeAny(term: string): string {
  return `%${term.replace(/[\\%_]/g, '\\$&')}%`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is what LIKE folds
const ASCII = /^[\u0000-\u007f]*$/;

/** Case-insensitive substring test beyond ASCII, for the index's candidates (SQL function `vigil_contains`). */
function contains(value: unknown, term: unknown): number {
  return String(value).toLowerCase().includes(String(term).toLowerCase()) ? 1 : 0;
}

/** Printable ASCII but capital letters (the trigram tokenizer folds them): the characters tried beside a bigram. */
const NEIGHBOURS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter(
  (c) => c < 'A' || c > 'Z',
);

/** A two-character term of printable ASCII: found through the trigrams that contain it (#bigramMatch). */
function bigram(term: string): boolean {
  return term.length === 2 && /^[\x20-\x7e]{2}$/.test(term);
}

/** The four (or fewer) spellings of an ASCII bigram that differ in case only: the values equal to it. */
function caseVariants(term: string): string[] {
  const [a, b] = [...term] as [string, string];
  const out = new Set<string>();
  for (const x of [a.toLowerCase(), a.toUpperCase()])
    for (const y of [b.toLowerCase(), b.toUpperCase()]) out.add(x + y);
  return [...out];
}

/** The trigram index only answers terms of three characters or more, and none holding U+0000 (see #termMatch). */
function indexable(term: string): boolean {
  if (term.includes('\u0000')) return false;
  let n = 0;
  for (const _ of term) if (++n >= 3) return true;
  return false;
}

/** Codes in any of `ranges`, as one IN list of every code (semantics.ts's codeList: the code index answers it). */
function codeCondition(col: string, ranges: readonly CodeRange[]): Where {
  const codes = codeList(ranges);
  if (codes.length === 0) return { sql: '0', params: [] };
  return { sql: `${col} IN (${placeholders(codes.length)})`, params: codes };
}

export interface Where {
  sql: string;
  params: SQLInputValue[];
}

export class Reader {
  readonly db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #findTerm: StatementSync;
  readonly #vocab: StatementSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    this.#findTerm = db.prepare('SELECT id FROM terms WHERE field = ? AND value = ?');
    db.function('vigil_contains', { deterministic: true }, contains);
    // the trigram index's own vocabulary, for the tokens of a bigram next to a character outside printable ASCII
    db.exec('CREATE VIRTUAL TABLE IF NOT EXISTS temp.terms_vocab USING fts5vocab(main, terms_fts, row)');
    this.#vocab = db.prepare('SELECT term FROM temp.terms_vocab WHERE term >= ? AND term < ?');
  }

  prepare(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      if (this.#statements.size >= 256) this.#statements.clear();
      st = this.db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /** The term id of a value if the dictionary has it (queries never add terms). Not cached: retention may drop it. */
  #termOf(field: number, value: string): number | undefined {
    if (value === '') return 0;
    return (this.#findTerm.get(field, value) as { id: number } | undefined)?.id;
  }

  /**
   * The trigram tokens holding a bigram: `xab` and `abx` for every printable ASCII x (the index answers the absent
   * ones with nothing), and those the vocabulary has with a character outside it (rare: non-ASCII text).
   */
  #bigramTokens(term: string): string[] {
    const bi = term.toLowerCase();
    const tokens = new Set<string>();
    for (const x of NEIGHBOURS) tokens.add(x + bi).add(bi + x);
    const next = String.fromCharCode(bi.charCodeAt(1) + 1);
    const ranges: [string, string][] = [
      ['\u0001', ' '],
      ['\u007f', '\u{10ffff}\u{10ffff}'],
      [`${bi}\u0001`, `${bi} `],
      [`${bi}\u007f`, `${bi[0]}${next}`],
    ];
    for (const [lo, hi] of ranges)
      for (const r of this.#vocab.all(lo, hi) as { term: string }[]) {
        const chars = [...r.term];
        if (chars.slice(1).join('') === bi || chars.slice(0, 2).join('') === bi) tokens.add(r.term);
      }
    return [...tokens];
  }

  /**
   * SQL selecting the ids of the fields' terms that contain any of `terms` case-insensitively. Two-character terms
   * scan the fields' part of the dictionary, unless `bigrams`: then the trigram index is asked for every trigram
   * holding them, which free text's one lookup over all text fields does (a scan of the whole dictionary is what
   * made short terms slow; over one field's values, or for a bigram most values hold, the scan is the faster).
   */
  #termMatch(fields: number[], terms: string[], params: SQLInputValue[], bigrams = false): string {
    const long = terms.filter(indexable);
    const pairs = bigrams ? terms.filter((t) => !indexable(t) && bigram(t)) : [];
    const short = terms.filter((t) => !indexable(t) && !pairs.includes(t));
    const f = fields.length === 1 ? `= ${fields[0]}` : `IN (${fields.join(',')})`;
    const parts: string[] = [];
    for (const t of long) {
      // CROSS JOIN makes the trigram index drive the lookup (the planner would otherwise scan the field's terms);
      // the candidates that hold every trigram are then tested for the substring itself
      const ascii = ASCII.test(t);
      parts.push(
        `SELECT t.id FROM terms_fts CROSS JOIN terms t ON t.id = terms_fts.rowid WHERE terms_fts MATCH ? AND t.field ${f}
           AND ${ascii ? `t.value LIKE ? ESCAPE '\\'` : 'vigil_contains(t.value, ?)'}`,
      );
      params.push(ftsTrigrams(t), ascii ? likeAny(t) : t);
    }
    for (const t of pairs) {
      // a value holding the bigram and longer has a trigram holding it; one equal to it has none
      const variants = caseVariants(t);
      parts.push(
        `SELECT t.id FROM terms_fts CROSS JOIN terms t ON t.id = terms_fts.rowid WHERE terms_fts MATCH ? AND t.field ${f}`,
        `SELECT id FROM terms WHERE field ${f} AND value IN (${placeholders(variants.length)})`,
      );
      params.push(
        this.#bigramTokens(t)
          .map((g) => `"${g.replaceAll('"', '""')}"`)
          .join(' OR '),
        ...variants,
      );
    }
    if (short.length > 0) {
      // LIKE folds ASCII letters only (as lower() does); the trigram index folds all of Unicode. LIKE rather than
      // instr(lower()): no lower-cased copy of every scanned value. But a pattern ends at a U+0000 (as an FTS query
      // string does, unterminated), so a term holding one is compared by instr, which does not stop there.
      const test = (t: string) =>
        t.includes('\u0000') ? 'instr(lower(value), lower(?)) > 0' : `value LIKE ? ESCAPE '\\'`;
      parts.push(`SELECT id FROM terms WHERE field ${f} AND (${short.map(test).join(' OR ')})`);
      params.push(...short.map((t) => (t.includes('\u0000') ? t : `%${t.replace(/[\\%_]/g, '\\$&')}%`)));
    }
    return parts.join(' UNION ALL ');
  }

  /**
   * The IN list of the terms of `fields` containing any of `terms`: the term ids themselves when there are few, so
   * that the planner sees the list and weighs it with the index statistics (given a subquery it guesses, and may
   * pick a far worse index); the subquery when there are many; undefined when no term matches.
   */
  #termIn(fields: number[], terms: string[]): { list: string; params: SQLInputValue[] } | undefined {
    const params: SQLInputValue[] = [];
    const sub = this.#termMatch(fields, terms, params);
    const ids = this.prepare(`SELECT id FROM (${sub}) LIMIT ${INLINE_TERMS + 1}`).all(...params) as { id: number }[];
    if (ids.length === 0) return undefined;
    if (ids.length <= INLINE_TERMS) return { list: placeholders(ids.length), params: ids.map((r) => r.id) };
    return { list: sub, params };
  }

  /**
   * The ids of the terms of `fields` containing any of `terms`, by field; undefined when more than a few thousand
   * match (the caller then keeps per-field subqueries).
   */
  #termsByField(fields: number[], terms: string[]): Map<number, number[]> | undefined {
    const params: SQLInputValue[] = [];
    const sub = this.#termMatch(fields, terms, params, true);
    const cap = 4 * INLINE_TERMS;
    const rows = this.prepare(`SELECT t.id, t.field FROM terms t WHERE t.id IN (${sub}) LIMIT ${cap + 1}`).all(
      ...params,
    ) as { id: number; field: number }[];
    if (rows.length > cap) return undefined;
    const by = new Map<number, number[]>();
    for (const r of rows) {
      const list = by.get(r.field);
      if (list) list.push(r.id);
      else by.set(r.field, [r.id]);
    }
    return by;
  }

  /** Events whose `field` has one of `values` exactly ('0' when none can). */
  #exact(field: FilterField, values: string[], termIds: (term: number, values: string[]) => number[]): Where {
    const f = STORAGE[field];
    const inList = (expr: string, list: SQLInputValue[]): Where =>
      list.length === 0 ? { sql: '0', params: [] } : { sql: `${expr} IN (${placeholders(list.length)})`, params: list };
    if (f.kind === 'code') return codeCondition(`e.${f.column}`, codeRanges(values));
    if (f.kind === 'value') return inList(`e.${f.column}`, values);
    if (f.kind === 'dict') return inList(`e.${f.column}`, termIds(f.term, values));
    const ids = termIds(f.term, values).filter((id) => id !== 0);
    return ids.length === 0
      ? { sql: '0', params: [] }
      : { sql: `e.id IN (SELECT event_id FROM event_values WHERE term IN (${placeholders(ids.length)}))`, params: ids };
  }

  /** The WHERE clause (over `events e`) of a query: values of one field OR'ed, fields AND'ed. */
  where(q: EventQuery): Where {
    const conds: string[] = [];
    const params: SQLInputValue[] = [];
    const termIds = (field: number, values: string[]) => {
      const ids = new Set<number>();
      for (const v of values) {
        const id = this.#termOf(field, v);
        if (id !== undefined) ids.add(id);
      }
      return [...ids];
    };
    const inList = (expr: string, list: SQLInputValue[]) => {
      if (list.length === 0) conds.push('0');
      else {
        conds.push(`${expr} IN (${placeholders(list.length)})`);
        params.push(...list);
      }
    };

    for (const [field, values] of Object.entries(q.exact ?? {}) as [FilterField, string[]][]) {
      if (!values || values.length === 0) continue;
      const c = this.#exact(field, values, termIds);
      conds.push(c.sql);
      params.push(...c.params);
    }
    // Exclusion: the complement of the exact condition on the same values ('0': a value the dictionary lacks
    // excludes nothing); coalesce: a missing code (NULL) is not excluded, where NOT NULL would drop the row.
    for (const [field, values] of Object.entries(q.exclude ?? {}) as [FilterField, string[]][]) {
      if (!values || values.length === 0) continue;
      const c = this.#exact(field, values, termIds);
      if (c.sql === '0') continue;
      conds.push(`NOT coalesce(${c.sql}, 0)`);
      params.push(...c.params);
    }

    for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
      // the empty string is a substring of every value
      if (!values || values.length === 0 || values.includes('')) continue;
      const f = STORAGE[field];
      if (f.kind === 'code') inList(`e.${f.column}`, [...new Set(values.flatMap(codeMatches))]);
      else if (f.kind === 'value') {
        // values not in the dictionary (audit IDs: one per event) are scanned
        conds.push(`(${values.map(() => `instr(lower(e.${f.column}), lower(?)) > 0`).join(' OR ')})`);
        params.push(...values);
      } else {
        const set = this.#termIn([f.term], values);
        if (!set) conds.push('0');
        else {
          conds.push(
            f.kind === 'list'
              ? `e.id IN (SELECT event_id FROM event_values WHERE term IN (${set.list}))`
              : `e.${f.column} IN (${set.list})`,
          );
          params.push(...set.params);
        }
      }
    }

    if (q.text && q.text.length > 0 && !q.text.includes('')) {
      const ors: string[] = [];
      // One dictionary search over every text field, split by field here: a search per field read the same
      // trigram posting lists ten times.
      const found = this.#termsByField(TEXT_FIELD_NOS, q.text);
      for (const f of TEXT_DICT) {
        const ids = found?.get(f.term);
        const set =
          found === undefined || (ids !== undefined && ids.length > INLINE_TERMS)
            ? this.#termIn([f.term], q.text)
            : ids && { list: placeholders(ids.length), params: ids };
        if (set) {
          ors.push(`e.${f.column} IN (${set.list})`);
          params.push(...set.params);
        }
      }
      const listIds = found && TEXT_LIST_NOS.flatMap((term) => found.get(term) ?? []);
      const set =
        TEXT_LIST_NOS.length === 0
          ? undefined
          : listIds === undefined || listIds.length > INLINE_TERMS
            ? this.#termIn(TEXT_LIST_NOS, q.text)
            : listIds.length > 0
              ? { list: placeholders(listIds.length), params: listIds }
              : undefined;
      if (set) {
        ors.push(`e.id IN (SELECT event_id FROM event_values WHERE term IN (${set.list}))`);
        params.push(...set.params);
      }
      conds.push(ors.length === 0 ? '0' : `(${ors.join(' OR ')})`);
    }

    if (q.start !== undefined) {
      conds.push('e.received >= ?');
      params.push(Math.ceil(q.start) * 1000);
    }
    if (q.end !== undefined) {
      // inclusive to the end of the millisecond
      conds.push('e.received <= ?');
      params.push(Math.floor(q.end) * 1000 + 999);
    }
    if (q.scope) {
      const { workspaces, namespaces, clusters, all } = scopeLists(q.scope);
      if (clusters) {
        const cs = termIds(FIELD_NO.cluster, clusters);
        conds.push(cs.length === 0 ? '0' : `e.cluster IN (${placeholders(cs.length)})`);
        params.push(...cs);
      }
      const ws = termIds(FIELD_NO.workspace, workspaces);
      const ns = termIds(FIELD_NO.namespace, namespaces);
      const parts: string[] = [];
      if (ws.length > 0) parts.push(`e.workspace IN (${placeholders(ws.length)})`);
      if (ns.length > 0) parts.push(`e.namespace IN (${placeholders(ns.length)})`);
      params.push(...ws, ...ns);
      if (!all) conds.push(parts.length === 0 ? '0' : `(${parts.join(' OR ')})`);
    }
    return { sql: conds.length === 0 ? '1' : conds.join(' AND '), params };
  }
}
