// `vigil rules backtest`: what new rules would have done to the events already stored. The store holds only what
// the rules in force at the time archived, so what the new rules would "ignore" is a lower bound of what was
// received: events the old rules dropped never reached the store and cannot be replayed.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliError, type Command } from '../cli/command.ts';
import { ConfigError, loadConfig, parseDuration } from '../config/index.ts';
import type { Store } from '../store/index.ts';
import { openStore } from '../store/index.ts';
import { loadRulesForCli, priorityFlag } from './cli.ts';
import { createRuleEngine, type RuleEngine } from './engine.ts';
import { RuleLoadError, type RuleSet } from './load.ts';
import { loadWebhookFile, type WebhookConfig } from './webhook.ts';

/** Events per store page while walking history. */
const PAGE_SIZE = 1000;
/** Messages kept per rule as a sample. */
const SAMPLES = 3;

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

function table(r: BacktestReport): string {
  const lines = [
    `events examined since ${r.since}: ${r.examined}`,
    `would archive: ${r.archived}`,
    `would ignore: ${r.ignored} (${r.note})`,
    `alerts: ${r.alerts}`,
    '',
  ];
  const head = ['RULE', 'MATCHED', 'ALERTS', 'SAMPLE MESSAGES'];
  const rows = r.rules.map((o) => [o.rule, String(o.matched), String(o.alerts), o.samples.join(' | ')]);
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  for (const row of all)
    lines.push(
      row
        .map((c, i) => (i < row.length - 1 ? c.padEnd(w[i]) : c))
        .join('  ')
        .trimEnd(),
    );
  for (const [rule, n] of Object.entries(r.errors)) lines.push(`rule ${rule} errored on ${n} event(s), not matched`);
  return `${lines.join('\n')}\n`;
}

export const rulesBacktestCommand: Command = {
  name: ['rules', 'backtest'],
  summary: 'Replay stored events through new rules: what they would archive, ignore and alert',
  usage: `Usage: vigil rules backtest --rules FILE|DIR [--since 7d] [--config vigil.yaml | --data DIR]
                            [--webhook FILE] [--archiving-priority P] [--alerting-priority P] [-o table|json]

Walks the events stored since --since (default 7d) oldest first, as \`vigil serve\` would open the store, and
evaluates the given rules on each: events examined, what the rules would archive and ignore, alerts per rule with
counts and the first ${SAMPLES} messages of each. -o json prints one object.

History holds only what the rules in force at the time archived: the "ignore" count is a lower bound of what
was received (events those rules dropped were never stored).

  --rules FILE|DIR           KubeSphere Rule resources and/or Falco rules files to try
  --since DURATION           how far back: 30m, 12h, 7d, 2w (default 7d)
  --config FILE              vigil.yaml: the store, and rules.webhook / priorities when not given here
  --data DIR                 data directory (the store is DIR/vigil.db)
  --webhook FILE             a KubeSphere Webhook resource: rule selectors and priority thresholds
  --archiving-priority P     DEBUG, INFO or WARNING
  --alerting-priority P      DEBUG, INFO or WARNING

Exit status: 0, or 2 on bad usage, a bad config or a rule file that does not load (errors on stderr).`,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        rules: { type: 'string' },
        since: { type: 'string', default: '7d' },
        config: { type: 'string', short: 'c' },
        data: { type: 'string' },
        webhook: { type: 'string' },
        'archiving-priority': { type: 'string' },
        'alerting-priority': { type: 'string' },
        output: { type: 'string', short: 'o', default: 'table' },
      },
      strict: true,
    });
    if (!values.rules) throw new CliError('--rules FILE|DIR is required');
    if (values.output !== 'json' && values.output !== 'table') throw new CliError('-o must be json or table');
    const sinceMs = parseDuration(values.since);
    if (sinceMs === undefined)
      throw new CliError(`--since must be a duration like 30m, 12h, 7d, not "${values.since}"`);
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(values.config, { data: values.data });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    const archivingPriority =
      priorityFlag(values['archiving-priority'], '--archiving-priority') ?? config.rules.archivingPriority;
    const alertingPriority =
      priorityFlag(values['alerting-priority'], '--alerting-priority') ?? config.rules.alertingPriority;
    const rules = await loadRulesForCli(values.rules, io);
    if (!rules) return 2;
    const webhookFile = values.webhook ?? config.rules.webhook;
    let webhook: WebhookConfig | undefined;
    if (webhookFile) {
      try {
        webhook = await loadWebhookFile(webhookFile);
      } catch (err) {
        if (err instanceof RuleLoadError) {
          for (const e of err.errors) io.stderr.write(`${e}\n`);
          return 2;
        }
        throw new CliError(`cannot read ${webhookFile}: ${(err as Error).message}`);
      }
      for (const w of webhook.warnings) io.stderr.write(`warning: ${w}\n`);
    }
    // Never create an empty store by looking for one.
    // Any store the collector can use; PostgreSQL is opened as a collector opens it.
    if (config.storage.type === 'sqlite' && !existsSync(config.storage.path))
      throw new CliError(`no store at ${config.storage.path}`);
    const store = await openStore(config.storage);
    let report: BacktestReport;
    try {
      const engine = createRuleEngine({
        rules,
        webhook,
        archivingPriority,
        alertingPriority,
        falco: config.rules.falco,
      });
      report = await backtest(store, engine, rules, Date.now() - sinceMs);
    } finally {
      await store.close();
    }
    io.stdout.write(values.output === 'json' ? `${JSON.stringify(report)}\n` : table(report));
    return 0;
  },
};
