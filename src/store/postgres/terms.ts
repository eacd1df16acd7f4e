// The PostgreSQL store's dictionary (`terms`, migration 5): the distinct values of the fields kept there, added by
// appends (each collector remembers what it stored, so most batches add none) and removed by retention.
import type { AuditEvent } from '../../event/model.ts';
import { fieldValues } from '../fields.ts';
import { COLUMN, IN_TERMS, isList, pgText } from './columns.ts';

/** Most dictionary values an append remembers as stored per field (beyond, it forgets them and asks again). */
const KNOWN_TERMS = 50_000;
/**
 * How long an append trusts that a remembered value is still in `terms`; each stored value's `seen` is renewed
 * (at most every TERMS_SEEN_MS) when an append brings it again. Retention removes only values not seen for a day
 * past its cutoff, far longer than any collector remembers them, so no append skips a value retention removed.
 */
const TERMS_CACHE_MS = 3_600_000;
export const TERMS_SEEN_MS = 3_600_000;

/** Retention's step over the dictionary: values not seen since `$1` (epoch ms) that no stored event holds. */
export const PRUNE_TERMS_SQL = `
DELETE FROM terms t USING (SELECT value, field FROM terms WHERE seen < $1::bigint ORDER BY seen LIMIT $2) v
WHERE t.value = v.value AND t.field = v.field AND NOT (${IN_TERMS.map(
  (f) =>
    `(t.field = '${f}' AND EXISTS (SELECT 1 FROM events e WHERE e.${COLUMN[f]} ${isList(f) ? '@> ARRAY[t.value]' : '= t.value'}))`,
).join(' OR ')})`;

/** Adds a batch's new values ($1 fields, $2 values, $3 now), renewing `seen` of those not renewed since $4. */
export const INSERT_TERMS_SQL = `INSERT INTO terms (field, value, seen) SELECT f, v, $3::bigint FROM unnest($1::text[], $2::text[]) AS u(f, v)
           ORDER BY 1, 2
           ON CONFLICT (value, field) DO UPDATE SET seen = EXCLUDED.seen WHERE terms.seen < $4::bigint`;

/** The values this collector stored in `terms`, by field, forgotten every TERMS_CACHE_MS. */
export class KnownTerms {
  readonly #known = new Map<string, Set<string>>();
  #since = Date.now();

  /**
   * The dictionary entries of a batch's events not known to be stored, as parallel field and value lists for
   * INSERT_TERMS_SQL.
   */
  fresh(events: Iterable<AuditEvent>, now: number): { fields: string[]; values: string[] } {
    if (now - this.#since > TERMS_CACHE_MS) {
      this.#known.clear();
      this.#since = now;
    }
    return newTerms(events, this.#known);
  }

  /** Remembers the entries `fresh` gave once they are committed. */
  remember(fresh: { fields: string[]; values: string[] }): void {
    for (let i = 0; i < fresh.values.length; i++) {
      const field = fresh.fields[i]!;
      let known = this.#known.get(field);
      if (!known || known.size >= KNOWN_TERMS) {
        known = new Set();
        this.#known.set(field, known);
      }
      known.add(fresh.values[i]!);
    }
  }
}

/**
 * The dictionary entries of a batch's events not in `known` (field → values stored), as parallel field and value
 * lists for INSERT … unnest.
 */
function newTerms(
  events: Iterable<AuditEvent>,
  known: Map<string, Set<string>>,
): { fields: string[]; values: string[] } {
  const fields: string[] = [];
  const values: string[] = [];
  const seen = new Map<string, Set<string>>();
  for (const e of events) {
    for (const field of IN_TERMS) {
      for (const raw of fieldValues(e, field)) {
        const v = pgText(raw);
        if (known.get(field)?.has(v)) continue;
        let s = seen.get(field);
        if (!s) {
          s = new Set();
          seen.set(field, s);
        }
        if (s.has(v)) continue;
        s.add(v);
        fields.push(field);
        values.push(v);
      }
    }
  }
  return { fields, values };
}
