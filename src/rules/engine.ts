// What happens to an event (kubesphere-auditing.md §4): every enabled rule of a selected Rule resource is tried;
// a matched rule of an alerting resource always archives and also alerts when its priority ≥ alertingPriority;
// a matched rule of an archiving resource archives when its priority ≥ archivingPriority. An event no rule
// archives is not stored. Roles and thresholds are fixed per rule when the engine is built, so evaluating is a
// loop over predicates that allocates nothing unless something matched. Falco rules (src/rules/falco) come after:
// an event a Falco rule fires on is stored, and alerts when that rule's priority reaches the Falco minimum.

import { type AuditEvent, KUBESPHERE_RULES_ANNOTATION } from '../event/model.ts';
import { nextEvent, type Predicate } from './compile.ts';
import { type FalcoMatch, type FalcoOptions, falcoPlan } from './falco/index.ts';
import type { RuleSet } from './load.ts';
import type { Render } from './template.ts';
import { RuleRuntimeError } from './values.ts';
import { DEFAULT_WEBHOOK, isPriority, type Priority, priorityRank, type WebhookConfig } from './webhook.ts';

export interface Alert {
  /** `<crName>.<itemName>`, or a Falco rule's name. */
  rule: string;
  /** The item's own name (`CreateHostnetworkPod`): KubeSphere's `alertname`. */
  name: string;
  /** The Rule resource's name (`alerting-rule`). */
  group: string;
  priority: string;
  message: string;
  /** Labels and annotations the alert carries besides Vigil's own (a Falco rule's tags, fields, time). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Decision {
  /**
   * Every rule that matched, `<crName>.<itemName>`, in load order, then the Falco rules that fired. Those that alerted
   * are recorded on the event (KUBESPHERE_RULES_ANNOTATION, FALCO_RULES_ANNOTATION).
   */
  matched: string[];
  /** Store the event. */
  archive: boolean;
  alerts: Alert[];
  /** The Falco rules that fired, when any did (also recorded on the event: FALCO_RULES_ANNOTATION). */
  falco?: FalcoMatch[];
}

export interface RuleEngineOptions {
  rules: RuleSet;
  webhook?: WebhookConfig;
  /** Override the Webhook's threshold. */
  archivingPriority?: Priority;
  alertingPriority?: Priority;
  /** Falco rules: the minimum priority that alerts (default WARNING) and `rule_matching` (default first). */
  falco?: FalcoOptions;
}

export interface RuleEngine {
  evaluate(e: AuditEvent): Decision;
  /** Swap in reloaded rules; the thresholds and selectors stay. */
  setRules(rules: RuleSet): void;
  readonly rules: RuleSet;
  /** Runtime errors per rule since the engine was built ("rule errored, not matched"). */
  errors(): Record<string, number>;
  /** The last runtime error, for logs. */
  lastError(): { rule: string; message: string } | undefined;
}

interface Planned {
  name: string;
  item: string;
  group: string;
  priority: string;
  test: Predicate;
  render: Render;
  archive: boolean;
  alert: boolean;
  /** Its entry in the event's record of alerting rules (KUBESPHERE_RULES_ANNOTATION). */
  record: string;
}

const NOTHING: Decision = Object.freeze({
  matched: Object.freeze([]) as unknown as string[],
  archive: false,
  alerts: Object.freeze([]) as unknown as Alert[],
});
const NO_ALERTS = NOTHING.alerts;

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

/**
 * Records on the event the KubeSphere rules that alerted on it (KUBESPHERE_RULES_ANNOTATION), or removes a record
 * it arrived with when none did: the stored event says which rules flagged it (the field `rule`).
 */
function recordAlerting(e: AuditEvent, record: string | undefined): void {
  if (record === undefined) {
    if (e.annotations !== undefined && Object.hasOwn(e.annotations, KUBESPHERE_RULES_ANNOTATION)) {
      const { [KUBESPHERE_RULES_ANNOTATION]: _, ...rest } = e.annotations;
      e.annotations = rest;
    }
    return;
  }
  e.annotations = { ...e.annotations, [KUBESPHERE_RULES_ANNOTATION]: `${record}]` };
}

export function createRuleEngine(opts: RuleEngineOptions): RuleEngine {
  const webhook = opts.webhook ?? DEFAULT_WEBHOOK;
  for (const k of ['archivingPriority', 'alertingPriority'] as const) {
    if (opts[k] !== undefined && !isPriority(opts[k]))
      throw new Error(`${k} must be DEBUG, INFO or WARNING, not ${JSON.stringify(opts[k])}`);
  }
  const falco = falcoPlan(opts.falco);
  const archivingRank = priorityRank(opts.archivingPriority ?? webhook.archivingPriority);
  const alertingRank = priorityRank(opts.alertingPriority ?? webhook.alertingPriority);
  let ruleSet = opts.rules;
  let plan: Planned[] = [];
  let errorCounts = new Int32Array(0);
  let last: { rule: string; message: string } | undefined;

  const build = (rs: RuleSet) => {
    const next: Planned[] = [];
    for (const r of rs.rules) {
      if (!r.item.enable) continue;
      const labels = r.resource.labels;
      const rank = priorityRank(r.item.priority);
      let archive: boolean;
      let alert = false;
      // A resource both selectors pick (an empty selector picks all) alerts: alerting implies archiving anyway.
      if (selects(webhook.alertingRuleSelector, labels)) {
        archive = true;
        alert = rank >= alertingRank;
      } else if (selects(webhook.archivingRuleSelector, labels)) {
        archive = rank >= archivingRank;
      } else continue; // a resource neither selector picks has no effect
      next.push({
        name: r.name,
        item: r.item.name,
        group: r.resource.name,
        priority: r.item.priority ?? '',
        test: r.match,
        render: r.render,
        archive,
        alert,
        record: JSON.stringify({ rule: r.name, priority: r.item.priority ?? '' }),
      });
    }
    ruleSet = rs;
    plan = next;
    errorCounts = new Int32Array(next.length);
  };
  build(opts.rules);

  return {
    get rules() {
      return ruleSet;
    },
    setRules: build,
    evaluate(e: AuditEvent): Decision {
      const p = plan;
      nextEvent();
      let matched: string[] | undefined;
      let alerts: Alert[] | undefined;
      let archive = false;
      /** The record of the alerting rules, without its closing bracket. */
      let record: string | undefined;
      for (let i = 0; i < p.length; i++) {
        const r = p[i];
        let hit: boolean;
        try {
          hit = r.test(e);
        } catch (err) {
          if (!(err instanceof RuleRuntimeError)) throw err;
          errorCounts[i]++;
          last = { rule: r.name, message: err.message };
          continue;
        }
        if (!hit) continue;
        if (matched === undefined) matched = [];
        matched.push(r.name);
        if (r.archive) archive = true;
        if (r.alert) {
          if (alerts === undefined) alerts = [];
          alerts.push({ rule: r.name, name: r.item, group: r.group, priority: r.priority, message: r.render(e) });
          record = record === undefined ? `[${r.record}` : `${record},${r.record}`;
        }
      }
      recordAlerting(e, record);
      const fr = ruleSet.falco;
      if (fr !== undefined) {
        const fired = falco.evaluate(fr, e);
        if (fired !== undefined) {
          matched ??= [];
          for (const f of fired.matches) matched.push(f.rule);
          if (fired.alerts.length) alerts = alerts ? [...alerts, ...fired.alerts] : fired.alerts;
          return { matched, archive: true, alerts: alerts ?? NO_ALERTS, falco: fired.matches };
        }
      }
      if (matched === undefined) return NOTHING;
      return { matched, archive, alerts: alerts ?? NO_ALERTS };
    },
    errors() {
      const out: Record<string, number> = {};
      plan.forEach((r, i) => {
        if (errorCounts[i]) out[r.name] = errorCounts[i];
      });
      return out;
    },
    lastError: () => last,
  };
}
