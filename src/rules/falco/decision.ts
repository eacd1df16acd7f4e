// What the Falco rules add to the engine's decision for an event: the rules that fired (with their rendered
// output), an alert for each at or above the minimum priority — carrying what Falco's own JSON alert holds (tags,
// output fields, the event's time) — and the record of them on the event itself, so that the stored event says
// which Falco rules flagged it.

import type { AuditEvent } from '../../event/model.ts';
import { K8S_AUDIT_SOURCE } from './fields.ts';
import { alertTime, clockTime, eventNanos } from './json.ts';
import type { OutputFieldValue } from './output.ts';
import { type FalcoPriority, falcoPriorityRank, formatFalcoPriority, parseFalcoPriority } from './priority.ts';
import type { FalcoRuleSet } from './ruleset.ts';

/**
 * The annotation on an event that Falco rules fired on: a JSON array of `{rule, priority, output, tags}` in the
 * order they fired. Written by the engine (and removed from an event that arrives with one but fires none).
 */
export const FALCO_RULES_ANNOTATION = 'vigil.dev/falco-rules';

export interface FalcoOptions {
  /** The least severe priority that alerts, as falco.yaml's `priority` (any case; default WARNING). */
  minimumPriority?: string;
  /** falco.yaml's `rule_matching`: `first` (default) or `all`. */
  ruleMatching?: 'first' | 'all';
}

/** A Falco rule that fired on an event. */
export interface FalcoMatch {
  rule: string;
  /** As Falco prints it: "Warning", "Informational". */
  priority: string;
  /** The rule's output with the event's values. */
  output: string;
  tags: string[];
}

/** An alert as the engine raises it (src/rules/engine.ts Alert). */
export interface FalcoAlert {
  rule: string;
  priority: FalcoPriority;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Output fields as JSON, 64-bit integers (event times in nanoseconds) written exactly. */
function fieldsJson(fields: Record<string, OutputFieldValue>): string {
  return JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? `\u0000${v}` : v)).replace(/"\\u0000(\d+)"/g, '$1');
}

export function falcoPlan(opts: FalcoOptions = {}) {
  const minimum = parseFalcoPriority(opts.minimumPriority ?? 'WARNING');
  if (minimum === undefined) {
    throw new Error(
      `the Falco minimum priority must be a Falco priority (EMERGENCY … DEBUG), not ${JSON.stringify(opts.minimumPriority)}`,
    );
  }
  const matching = opts.ruleMatching ?? 'first';
  if (matching !== 'first' && matching !== 'all')
    throw new Error(`ruleMatching must be first or all, not ${JSON.stringify(matching)}`);
  const alertRank = falcoPriorityRank(minimum);
  return {
    minimum,
    matching,
    /** The rules that fired and the alerts they raise; records them on the event. */
    evaluate(rs: FalcoRuleSet, e: AuditEvent): { matches: FalcoMatch[]; alerts: FalcoAlert[] } | undefined {
      const fired = rs.evaluate(e, alertRank, matching);
      if (fired === undefined) {
        if (e.annotations !== undefined && Object.hasOwn(e.annotations, FALCO_RULES_ANNOTATION)) {
          const { [FALCO_RULES_ANNOTATION]: _, ...rest } = e.annotations;
          e.annotations = rest;
        }
        return undefined;
      }
      const matches: FalcoMatch[] = [];
      const alerts: FalcoAlert[] = [];
      for (const r of fired) {
        const output = r.output.render(e);
        const priority = formatFalcoPriority(r.priority);
        matches.push({ rule: r.name, priority, output, tags: r.tags });
        if (r.rank > alertRank) continue;
        const ns = eventNanos(e);
        const labels: Record<string, string> = r.tags.length ? { tags: r.tags.join(',') } : {};
        alerts.push({
          rule: r.name,
          priority: r.priority,
          message: output,
          labels,
          annotations: {
            falco_output: `${ns === undefined ? '' : `${clockTime(ns)}: `}${priority} ${output}`,
            falco_output_fields: fieldsJson({ ...(ns === undefined ? {} : { 'evt.time': ns }), ...r.output.fields(e) }),
            falco_source: K8S_AUDIT_SOURCE,
            falco_tags: JSON.stringify(r.tags),
            ...(ns === undefined ? {} : { falco_time: alertTime(ns) }),
          },
        });
      }
      e.annotations = { ...e.annotations, [FALCO_RULES_ANNOTATION]: JSON.stringify(matches) };
      return { matches, alerts };
    },
  };
}
