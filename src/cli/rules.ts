// `vigil rules test`, `vigil rules check` and `vigil rules backtest`: try rules on events, validate rule files, and
// replay stored events through new rules. The engines are the rule stage's (src/rules); this is their command line.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseDuration } from '../config/index.ts';
import { type AuditEvent, decodeEvents } from '../event/index.ts';
import {
  type BacktestReport,
  backtest,
  checkCompat,
  createRuleEngine,
  DEFAULT_RULES_FILE,
  isPriority,
  loadRules,
  loadWebhookFile,
  type Priority,
  RuleLoadError,
  type RuleSet,
  ruleNotices,
  SAMPLES,
  type WebhookConfig,
} from '../rules/index.ts';
import { openStore } from '../store/index.ts';
import { CliError, type CommandIO, defineCommand } from './command.ts';
import { CONFIG_OPTIONS, commandConfig } from './config.ts';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk;
  return s;
}

/** Loads rule files, printing every problem (file:line:col) on stderr; undefined when any rule is rejected. */
async function loadRulesForCli(path: string, io: CommandIO): Promise<RuleSet | undefined> {
  try {
    const rules = await loadRules(path);
    for (const n of ruleNotices(rules)) io.stderr.write(`notice: ${n}\n`);
    return rules;
  } catch (err) {
    if (err instanceof RuleLoadError) {
      for (const e of err.errors) io.stderr.write(`${e}\n`);
      return undefined;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') throw new CliError(`cannot read ${path}: ${code}`);
    throw err;
  }
}

function priorityFlag(v: string | undefined, flag: string): Priority | undefined {
  if (v === undefined) return undefined;
  if (!isPriority(v)) throw new CliError(`${flag} must be DEBUG, INFO or WARNING, not "${v}"`);
  return v;
}

/** Loads a KubeSphere Webhook resource, printing its problems; undefined when it does not load. */
async function loadWebhookForCli(file: string, io: CommandIO): Promise<WebhookConfig | undefined> {
  let webhook: WebhookConfig;
  try {
    webhook = await loadWebhookFile(file);
  } catch (err) {
    if (err instanceof RuleLoadError) {
      for (const e of err.errors) io.stderr.write(`${e}\n`);
      return undefined;
    }
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  for (const w of webhook.warnings) io.stderr.write(`warning: ${w}\n`);
  return webhook;
}

export const rulesTestCommand = defineCommand({
  name: ['rules', 'test'],
  summary: 'Run rules on events: which rules match, ignore / archive / alert, the messages',
  usage: `Usage: vigil rules test [--rules FILE|DIR] --events FILE|- [-o json|table] [--webhook FILE]
                        [--archiving-priority P] [--alerting-priority P]

  --rules FILE|DIR           KubeSphere Rule resources (YAML, multi-document) and/or Falco rules files (a folder's
                             files load in name order); default: KubeSphere's shipped rules
  --events FILE|-            audit events: JSON lines, a JSON array, an EventList or KubeSphere {"Items": [...]}
  -o, --output json|table    one JSON object per event, or a table (default)
  --webhook FILE             a KubeSphere Webhook resource: rule selectors and priority thresholds
  --archiving-priority P     DEBUG, INFO or WARNING (default: the Webhook's, else DEBUG)
  --alerting-priority P      DEBUG, INFO or WARNING (default: the Webhook's, else WARNING)

Exit status: 0, or 2 when a rule file does not load (errors on stderr).`,
  options: {
    rules: { type: 'string' },
    events: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
    webhook: { type: 'string' },
    'archiving-priority': { type: 'string' },
    'alerting-priority': { type: 'string' },
  },
  async run({ values }, io) {
    if (!values.events) throw new CliError('--events FILE|- is required');
    if (values.output !== 'json' && values.output !== 'table') throw new CliError('-o must be json or table');
    const archivingPriority = priorityFlag(values['archiving-priority'], '--archiving-priority');
    const alertingPriority = priorityFlag(values['alerting-priority'], '--alerting-priority');
    const rules = await loadRulesForCli(values.rules ?? DEFAULT_RULES_FILE, io);
    if (!rules) return 2;
    let webhook: WebhookConfig | undefined;
    if (values.webhook) {
      webhook = await loadWebhookForCli(values.webhook, io);
      if (!webhook) return 2;
    }
    let text: string;
    try {
      text = values.events === '-' ? await readAll(io.stdin) : await readFile(values.events, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${values.events}: ${(err as Error).message}`);
    }
    let events: AuditEvent[];
    try {
      events = decodeEvents(text);
    } catch (err) {
      throw new CliError(`${values.events === '-' ? '<stdin>' : values.events}: ${(err as Error).message}`);
    }
    const engine = createRuleEngine({ rules, webhook, archivingPriority, alertingPriority });
    const byName = new Map(rules.rules.map((r) => [r.name, r]));
    const rows: string[][] = [];
    for (const e of events) {
      const d = engine.evaluate(e);
      const decision = d.alerts.length ? 'alert' : d.archive ? 'archive' : 'ignore';
      const messages: Record<string, string> = {};
      for (const a of d.alerts) messages[a.rule] = a.message;
      for (const f of d.falco ?? []) messages[f.rule] = f.output;
      for (const m of d.matched) messages[m] ??= byName.get(m)!.render(e);
      if (values.output === 'json') {
        io.stdout.write(
          `${JSON.stringify({ auditID: e.auditID, matched: d.matched, archived: d.archive, alerted: d.alerts.map((a) => a.rule), decision, messages, ...(d.falco ? { falco: d.falco } : {}) })}\n`,
        );
      } else {
        rows.push([e.auditID ?? '', decision, d.matched.join(',') || '-', d.alerts.map((a) => a.message).join(' | ')]);
      }
    }
    if (values.output === 'table') {
      const head = ['AUDIT ID', 'DECISION', 'MATCHED', 'ALERT MESSAGES'];
      const all = [head, ...rows];
      const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
      for (const r of all)
        io.stdout.write(
          `${r
            .map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]) : c))
            .join('  ')
            .trimEnd()}\n`,
        );
    }
    for (const [rule, n] of Object.entries(engine.errors())) {
      io.stderr.write(
        `rule ${rule} errored on ${n} event(s), not matched: ${engine.lastError()?.rule === rule ? engine.lastError()!.message : ''}\n`,
      );
    }
    return 0;
  },
});

export const rulesCheckCommand = defineCommand({
  name: ['rules', 'check'],
  summary: 'Validate rule files (file, rule, position); --compat kubesphere lists rules KubeSphere reads differently',
  usage: `Usage: vigil rules check FILE|DIR [--compat kubesphere]

Loads KubeSphere Rule resources and Falco rules files strictly and prints every problem as
FILE:LINE:COLUMN: RULE: MESSAGE (what Falco would only warn about as "notice:" lines on stderr).
  --compat kubesphere   also list each rule whose result in KubeSphere differs from Vigil's, and why

Exit status: 0 when every rule loads, 1 when any is rejected, 2 on bad usage.`,
  options: { compat: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new CliError('expected one rule file or folder');
    if (values.compat !== undefined && values.compat !== 'kubesphere')
      throw new CliError('--compat takes "kubesphere"');
    const rules = await loadRulesForCli(positionals[0], io);
    if (!rules) return 1;
    const count = (t: string) => rules.resources.reduce((n, r) => n + r.items.filter((i) => i.type === t).length, 0);
    if (!rules.falco || rules.resources.length) {
      io.stdout.write(
        `${positionals[0]}: ${rules.resources.length} Rule resource(s), ${count('rule')} rule(s), ${count('macro')} macro(s), ${count('list')} list(s), ${count('alias')} alias(es): OK\n`,
      );
    }
    const f = rules.falco;
    if (f) {
      io.stdout.write(
        `${positionals[0]}: Falco: ${f.rules.length} k8s_audit rule(s), ${f.macros} macro(s), ${f.lists} list(s), ${f.skipped} rule(s) of other sources skipped: OK\n`,
      );
    }
    if (values.compat) {
      const findings = checkCompat(rules);
      for (const f of findings) io.stdout.write(`${f.file}: ${f.rule}: [${f.kind}] ${f.reason}\n`);
      io.stdout.write(
        `${findings.filter((f) => f.kind === 'differs').length} difference(s) from KubeSphere, ${findings.filter((f) => f.kind === 'note').length} note(s)\n`,
      );
    }
    return 0;
  },
});

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

export const rulesBacktestCommand = defineCommand({
  name: ['rules', 'backtest'],
  summary: 'Replay stored events through new rules: what they would archive, ignore and alert',
  usage: `Usage: vigil rules backtest --rules FILE|DIR [--since 7d] [--config vigil.yaml | --data DIR | --storage-url URL]
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
  --storage-url URL          PostgreSQL instead of the file's storage (default: $VIGIL_STORAGE_URL)
  --webhook FILE             a KubeSphere Webhook resource: rule selectors and priority thresholds
  --archiving-priority P     DEBUG, INFO or WARNING
  --alerting-priority P      DEBUG, INFO or WARNING

Exit status: 0, or 2 on bad usage, a bad config or a rule file that does not load (errors on stderr).`,
  options: {
    ...CONFIG_OPTIONS,
    rules: { type: 'string' },
    since: { type: 'string', default: '7d' },
    webhook: { type: 'string' },
    'archiving-priority': { type: 'string' },
    'alerting-priority': { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
  },
  async run({ values }, io) {
    if (!values.rules) throw new CliError('--rules FILE|DIR is required');
    if (values.output !== 'json' && values.output !== 'table') throw new CliError('-o must be json or table');
    const sinceMs = parseDuration(values.since);
    if (sinceMs === undefined)
      throw new CliError(`--since must be a duration like 30m, 12h, 7d, not "${values.since}"`);
    const config = commandConfig(values);
    const archivingPriority =
      priorityFlag(values['archiving-priority'], '--archiving-priority') ?? config.rules.archivingPriority;
    const alertingPriority =
      priorityFlag(values['alerting-priority'], '--alerting-priority') ?? config.rules.alertingPriority;
    const rules = await loadRulesForCli(values.rules, io);
    if (!rules) return 2;
    const webhookFile = values.webhook ?? config.rules.webhook;
    let webhook: WebhookConfig | undefined;
    if (webhookFile) {
      webhook = await loadWebhookForCli(webhookFile, io);
      if (!webhook) return 2;
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
});
