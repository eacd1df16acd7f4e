// The record of the rules that matched an event, kept on the event itself so that the stored event says which
// detections flagged it: written by the rule engine (src/rules), read by the field table's `rule` field
// (src/store/fields.ts), which makes it filterable (`rule_filter`). Pure data and small functions, no node: imports:
// the console's bundle imports this file too (through the field table).
import type { AuditEvent } from './model.ts';

/**
 * The Falco rules that fired: a JSON array of `{rule, priority}` in the order they fired
 * (`[{"rule":"Create Privileged Pod","priority":"Warning"}]`).
 */
export const FALCO_RULES_ANNOTATION = 'vigil.dev/falco-rules';

/**
 * The names of the rules an event's record says matched. A record that is not the engine's (an imported event,
 * a hand-written annotation) yields the names it holds and nothing else: never throws.
 */
export function matchedRules(e: AuditEvent): string[] | undefined {
  const record = e.annotations?.[FALCO_RULES_ANNOTATION];
  if (typeof record !== 'string' || record === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const out: string[] = [];
  for (const m of parsed) {
    const name = (m as { rule?: unknown } | null)?.rule;
    if (typeof name === 'string' && name !== '' && !out.includes(name)) out.push(name);
  }
  return out;
}
