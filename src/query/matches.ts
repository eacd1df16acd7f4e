// In-process evaluation of an EventQuery, with the store's semantics, for the live tail (events arrive one by one
// from store.subscribe and never go through SQL): exact = whole value, case-sensitive; fuzzy = case-insensitive
// substring; exclude = not exact; values of a field OR'ed, fields AND'ed; the tenant scope always applies.
import { type AuditEvent, eventNamespace } from '../event/model.ts';
import { parseTimeMicros } from '../event/time.ts';
import { type FilterField, fieldSpec, fieldValues, searchableValues } from '../store/fields.ts';
import { codeRanges, inCodeRanges, scopeLists } from '../store/semantics.ts';
import type { EventQuery, TenantScope } from '../store/types.ts';

/** The tenant scope as a predicate: the events a tenant of `scope` may see (as the stores' WHERE clauses). */
export function scopeTest(scope: TenantScope): (e: AuditEvent) => boolean {
  const { workspaces, namespaces, clusters, all } = scopeLists(scope);
  return (e) => {
    if (clusters && !(!!e.cluster && clusters.includes(e.cluster))) return false;
    if (all) return true;
    const ns = eventNamespace(e);
    return (!!e.workspace && workspaces.includes(e.workspace)) || (!!ns && namespaces.includes(ns));
  };
}

export function inScope(e: AuditEvent, scope: TenantScope): boolean {
  return scopeTest(scope)(e);
}

/** Whether a value is one of `values` (a code: in one of their classes or ranges); undefined when none are given. */
function valueTest(field: FilterField, values: string[]): ((v: string) => boolean) | undefined {
  if (values.length === 0) return undefined;
  if (!fieldSpec(field).code) return (v) => values.includes(v);
  const ranges = codeRanges(values);
  return (v) => inCodeRanges(Number(v), ranges);
}

/** A reusable predicate for `q`; lower-cases the needles once rather than per event. */
export function compileMatcher(q: EventQuery): (e: AuditEvent) => boolean {
  const exact = (Object.entries(q.exact ?? {}) as [FilterField, string[]][]).map(
    ([f, vs]) => [f, valueTest(f, vs)] as const,
  );
  const exclude = (Object.entries(q.exclude ?? {}) as [FilterField, string[]][]).map(
    ([f, vs]) => [f, valueTest(f, vs)] as const,
  );
  const fuzzy = (Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]).map(
    ([f, vs]) => [f, vs.map((v) => v.toLowerCase())] as const,
  );
  const text = q.text?.map((t) => t.toLowerCase());
  const { start, end } = q;
  const inTenant = q.scope && scopeTest(q.scope);
  return (e) => {
    if (inTenant && !inTenant(e)) return false;
    if (start !== undefined || end !== undefined) {
      // Millisecond resolution; `end` includes its whole millisecond, as in the stores.
      // the one timestamp parser, as the stores read it (NaN, never a throw, for an unreadable one)
      const t = Math.floor(parseTimeMicros(e.requestReceivedTimestamp) / 1000);
      if (start !== undefined && !(t >= Math.ceil(start))) return false;
      if (end !== undefined && !(t <= Math.floor(end))) return false;
    }
    for (const [f, test] of exact) if (test && !fieldValues(e, f).some(test)) return false;
    // an event without the field has no value to exclude it by
    for (const [f, test] of exclude) if (test && fieldValues(e, f).some(test)) return false;
    for (const [f, vs] of fuzzy) {
      if (vs.length === 0) continue;
      const have = fieldValues(e, f).map((h) => h.toLowerCase());
      if (!have.some((h) => vs.some((v) => h.includes(v)))) return false;
    }
    if (text?.length) {
      const values = searchableValues(e);
      if (!text.some((t) => values.some((v) => v.includes(t)))) return false;
    }
    return true;
  };
}

export function matches(e: AuditEvent, q: EventQuery): boolean {
  return compileMatcher(q)(e);
}
