// Backtesting (`vigil rules backtest`): what new rules would have done to the events already stored. The store holds only what
// the rules in force at the time archived, so what the new rules would "ignore" is a lower bound of what was
// received: events the old rules dropped never reached the store and cannot be replayed.

import type { Store } from '../store/index.ts';
import type { RuleEngine } from './engine.ts';
import type { RuleSet } from './load.ts';

/** Events per store page while walking history. */
const PAGE_SIZE = 1000;
/** Messages kept per rule as a sample. */
export const SAMPLES = 3;

export const HISTORY_NOTE =
  'history holds only what the rules in force at the time archived: "ignored" is a lower bound of what was received';

export interface RuleOutcome {
  /** `<crName>.<itemName>`. */
  rule: string;
  /** Events the rule matched. */
  matched: number;
  /** Alerts it would have raised. */
  alerts: number;
  /** The first messages it produced (alert messages, or the rendered output of a matched rule that does not alert). */
  samples: string[];
}

export interface BacktestReport {
  /** ISO time from which stored events were examined (requestReceivedTimestamp). */
  since: string;
  examined: number;
  /** Events the new rules would store. */
  archived: number;
  /** Events the new rules would not store. */
  ignored: number;
  /** Alerts in all. */
  alerts: number;
  /** Per rule that matched at least once, in load order. */
  rules: RuleOutcome[];
  /** Runtime errors per rule ("errored, not matched"). */
  errors: Record<string, number>;
  note: string;
}

/** Walks the events received since `since` (epoch ms) oldest first and tallies the engine's decisions. */
export async function backtest(
  store: Store,
  engine: RuleEngine,
  rules: RuleSet,
  since: number,
): Promise<BacktestReport> {
  const byName = new Map(rules.rules.map((r) => [r.name, r]));
  const outcomes = new Map<string, RuleOutcome>();
  for (const r of [...rules.rules, ...(rules.falco?.rules ?? [])]) {
    outcomes.set(r.name, { rule: r.name, matched: 0, alerts: 0, samples: [] });
  }
  let examined = 0;
  let archived = 0;
  let alerts = 0;
  let after: string | undefined;
  do {
    // Each page also counts the matching events (the Store contract always returns `total`): an index range count,
    // cheap next to decoding and evaluating the page's events.
    const page = await store.query({ start: since }, { sort: 'asc', size: PAGE_SIZE, after });
    for (const e of page.items) {
      examined++;
      const d = engine.evaluate(e);
      if (d.archive) archived++;
      alerts += d.alerts.length;
      for (const a of d.alerts) {
        const o = outcomes.get(a.rule)!;
        o.alerts++;
        if (o.samples.length < SAMPLES) o.samples.push(a.message);
      }
      for (const m of d.matched) {
        const o = outcomes.get(m)!;
        o.matched++;
        // A rule that does not alert still renders its output, so its sample shows what it matched.
        if (o.alerts === 0 && o.samples.length < SAMPLES && !d.alerts.some((a) => a.rule === m))
          o.samples.push(d.falco?.find((f) => f.rule === m)?.output ?? byName.get(m)!.render(e));
      }
    }
    after = page.next;
  } while (after !== undefined);
  return {
    since: new Date(since).toISOString(),
    examined,
    archived,
    ignored: examined - archived,
    alerts,
    rules: [...outcomes.values()].filter((o) => o.matched > 0),
    errors: engine.errors(),
    note: HISTORY_NOTE,
  };
}
