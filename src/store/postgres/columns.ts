// The PostgreSQL store's `events` columns, from the field table (../fields.ts), and how values become their text.
import { FIELDS, type FieldSpec, type FilterField, fieldSpec } from '../fields.ts';

/** A field's column in `events` (`postgres.column`). */
export const COLUMN = Object.fromEntries(
  FIELDS.flatMap((f) => ('column' in f.postgres ? [[f.name, f.postgres.column]] : [])),
) as Record<FilterField, string>;

/**
 * Fields whose distinct values are kept in `terms` (migration 5): fuzzy and free-text search find the matching values
 * there, through its trigram index, and the events through the field's own index (a btree, or the list's GIN).
 */
export const IN_TERMS = FIELDS.flatMap((f) => ('terms' in f.postgres ? [f.name] : [])) as readonly FilterField[];
export const TERM_FIELDS = new Set<FilterField>(IN_TERMS);
/** Those of them free text (`q`) searches (`text` in the table; the cluster is kept there for its fuzzy search only). */
export const TEXT_IN_TERMS = IN_TERMS.filter((f) => fieldSpec(f).text === true);

/** Fields whose events hold a list (searched with the list's GIN, `&&` / `@>`), not one value. */
export function isList(field: FilterField): boolean {
  return fieldSpec(field).list === true;
}

/**
 * A value as PostgreSQL text holds it: text cannot hold U+0000, so the columns' copies of a value (the body keeps it,
 * escaped) have U+FFFD in its place, and so do the values queries compare them with.
 */
export function pgText(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

export function str(v: unknown): string {
  return typeof v === 'string' ? pgText(v) : '';
}

/**
 * The `events` columns an append writes: each field's own column (./fields.ts `postgres.column`), then the received
 * time, the `search` text and the body. `list` and `body` columns travel as one JSON array of the JSON texts they
 * already are (see Rows.insertParams), the others as arrays of their type.
 */
export interface Column {
  name: string;
  type: 'text' | 'int' | 'bigint' | 'list' | 'body';
}
export const FIELD_COLUMNS = FIELDS.flatMap((f) =>
  'column' in f.postgres
    ? [
        {
          spec: f as FieldSpec,
          name: f.postgres.column,
          type: 'list' in f ? 'list' : 'code' in f ? 'int' : 'text',
        } as const,
      ]
    : [],
);
/** The fields free text finds through `search` (those without a dictionary), one line each, in their stored order. */
export const SEARCH_FIELDS: readonly FieldSpec[] = FIELDS.flatMap((f) =>
  'search' in f.postgres ? [f as FieldSpec] : [],
).sort((a, b) => a.postgres.search! - b.postgres.search!);
export const COLUMNS: readonly Column[] = [
  ...FIELD_COLUMNS,
  { name: 'received', type: 'bigint' },
  { name: 'search', type: 'text' },
  { name: 'body', type: 'body' },
];
/** The call key's text columns keep their values as given: append checked them, and looks duplicates up by them. */
export const AS_GIVEN = new Set<string>(['auditID', 'stage']);
