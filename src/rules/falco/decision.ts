// What the Falco rules add to the engine's decision for an event: the rules that fired (with their rendered
// output), an alert for each at or above the minimum priority — carrying what Falco's own JSON alert holds (tags,
// output fields, the event's time) — and the record of them on the event itself, so that the stored event says
// which Falco rules flagged it.

import { type AuditEvent, FALCO_RULES_ANNOTATION } from '../../event/model.ts';
import { K8S_AUDIT_SOURCE } from './fields.ts';
import { alertTime, eventNanos } from './json.ts';
import type { OutputFieldValue, OutputFormat } from './output.ts';
import { type FalcoPriority, falcoPriorityRank, parseFalcoPriority } from './priority.ts';
import type { FalcoRule, FalcoRuleSet } from './ruleset.ts';

// The record of them (FALCO_RULES_ANNOTATION) is written here, and removed from an event that arrives with one but
// fires none; src/event/model.ts, matchedRules defines it and reads it back (the stores' `rule` field).
export { FALCO_RULES_ANNOTATION };

export interface FalcoOptions {
  /** The least severe priority that alerts, as falco.yaml's `priority` (any case; default WARNING). */
  minimumPriority?: string;
  /** falco.yaml's `rule_matching`: `first` (default) or `all`. */
  ruleMatching?: 'first' | 'all';
}

/** A Falco rule that fired on an event. */
export interface FalcoMatch {
  readonly rule: string;
  /** As Falco prints it: "Warning", "Informational". */
  readonly priority: string;
  /** The rule's output with the event's values. */
  readonly output: string;
  readonly tags: string[];
}

/** An alert as the engine raises it (src/rules/engine.ts Alert). */
export interface FalcoAlert {
  readonly rule: string;
  /** Falco rule names are unique: the rule's name is its alertname, and it has no Rule resource around it. */
  readonly name: string;
  readonly group: string;
  readonly priority: FalcoPriority;
  readonly message: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** Output fields as JSON, led by `evt.time` as Falco's integer nanoseconds (written exactly, as no JS number can). */
function fieldsJson(ns: bigint | undefined, fields: Record<string, OutputFieldValue>): string {
  let plain = true;
  for (const k in fields) if (typeof fields[k] === 'bigint') plain = false;
  const rest = plain
    ? JSON.stringify(fields)
    : JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? `\u0000${v}` : v)).replace(/"\\u0000(\d+)"/g, '$1');
  if (ns === undefined) return rest;
  return rest === '{}' ? `{"evt.time":${ns}}` : `{"evt.time":${ns},${rest.slice(1)}`;
}

/**
 * A rule that fired. Rendering its output costs more than the rules did, so it is done when asked for (an alert's
 * message, the CLI), never for a rule that only archives; outputs extract their fields afresh, so later is safe.
 */
class Fired implements FalcoMatch {
  readonly rule: string;
  readonly priority: string;
  readonly tags: string[];
  readonly def: FalcoRule;
  readonly event: AuditEvent;
  #output: string | undefined;
  constructor(r: FalcoRule, e: AuditEvent) {
    this.rule = r.name;
    this.priority = r.display;
    this.tags = r.tags;
    this.def = r;
    this.event = e;
  }
  get output(): string {
    this.#output ??= this.def.output.render(this.event);
    return this.#output;
  }
  toJSON(): { rule: string; priority: string; tags: string[]; output: string } {
    return { rule: this.rule, priority: this.priority, tags: this.tags, output: this.output };
  }
}

/** The alert a fired rule raises; what Falco's JSON alert needs is built when the alert is recorded. */
class FiredAlert implements FalcoAlert {
  readonly #m: Fired;
  #annotations: Record<string, string> | undefined;
  constructor(m: Fired) {
    this.#m = m;
  }
  get rule(): string {
    return this.#m.rule;
  }
  get name(): string {
    return this.#m.rule;
  }
  get group(): string {
    return '';
  }
  get priority(): FalcoPriority {
    return this.#m.def.priority;
  }
  get message(): string {
    return this.#m.output;
  }
  get labels(): Record<string, string> {
    return this.#m.def.labels;
  }
  get annotations(): Record<string, string> {
    const m = this.#m;
    this.#annotations ??= falcoAnnotations(m.event, m.def.output, m.priority, m.output, m.tags);
    return this.#annotations;
  }
}

/** The annotations of a Falco rule's alert: Falco's full output line, output fields, source, tags and time. */
function falcoAnnotations(
  e: AuditEvent,
  format: OutputFormat,
  priority: string,
  output: string,
  tags: string[],
): Record<string, string> {
  const ns = eventNanos(e);
  const time = ns === undefined ? undefined : alertTime(ns);
  const a: Record<string, string> = {
    falco_output: `${time === undefined ? '' : `${time.slice(11, -1)}: `}${priority} ${output}`,
    falco_output_fields: fieldsJson(ns, format.fields(e)),
    falco_source: K8S_AUDIT_SOURCE,
    falco_tags: JSON.stringify(tags),
  };
  if (time !== undefined) a.falco_time = time;
  return a;
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
      let record = '[';
      for (let i = 0; i < fired.length; i++) {
        const r = fired[i];
        const m = new Fired(r, e);
        matches.push(m);
        record += i ? `,${r.record}` : r.record;
        if (r.rank <= alertRank) alerts.push(new FiredAlert(m));
      }
      e.annotations = { ...e.annotations, [FALCO_RULES_ANNOTATION]: `${record}]` };
      return { matches, alerts };
    },
  };
}
