// `vigil rules test` and `vigil rules check`: try rules on events, and validate rule files.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CliError, type Command, type CommandIO } from '../cli/command.ts';
import { type AuditEvent, decodeEvents } from '../event/index.ts';
import { checkCompat } from './compat.ts';
import { createRuleEngine } from './engine.ts';
import { DEFAULT_RULES_FILE, loadRules, RuleLoadError, type RuleSet, ruleNotices } from './load.ts';
import { isPriority, loadWebhookFile, type WebhookConfig } from './webhook.ts';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk;
  return s;
}

/** Loads rule files, printing every problem (file:line:col) on stderr; undefined when any rule is rejected. */
export async function loadRulesForCli(path: string, io: CommandIO): Promise<RuleSet | undefined> {
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

export function priorityFlag(v: string | undefined, flag: string) {
  if (v === undefined) return undefined;
  if (!isPriority(v)) throw new CliError(`${flag} must be DEBUG, INFO or WARNING, not "${v}"`);
  return v;
}

export const rulesTestCommand: Command = {
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
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        rules: { type: 'string' },
        events: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'table' },
        webhook: { type: 'string' },
        'archiving-priority': { type: 'string' },
        'alerting-priority': { type: 'string' },
      },
      strict: true,
    });
    if (!values.events) throw new CliError('--events FILE|- is required');
    if (values.output !== 'json' && values.output !== 'table') throw new CliError('-o must be json or table');
    const archivingPriority = priorityFlag(values['archiving-priority'], '--archiving-priority');
    const alertingPriority = priorityFlag(values['alerting-priority'], '--alerting-priority');
    const rules = await loadRulesForCli(values.rules ?? DEFAULT_RULES_FILE, io);
    if (!rules) return 2;
    let webhook: WebhookConfig | undefined;
    if (values.webhook) {
      try {
        webhook = await loadWebhookFile(values.webhook);
      } catch (err) {
        if (err instanceof RuleLoadError) {
          for (const e of err.errors) io.stderr.write(`${e}\n`);
          return 2;
        }
        throw new CliError(`cannot read ${values.webhook}: ${(err as Error).message}`);
      }
      for (const w of webhook.warnings) io.stderr.write(`warning: ${w}\n`);
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
};

export const rulesCheckCommand: Command = {
  name: ['rules', 'check'],
  summary: 'Validate rule files (file, rule, position); --compat kubesphere lists rules KubeSphere reads differently',
  usage: `Usage: vigil rules check FILE|DIR [--compat kubesphere]

Loads KubeSphere Rule resources and Falco rules files strictly and prints every problem as
FILE:LINE:COLUMN: RULE: MESSAGE (what Falco would only warn about as "notice:" lines on stderr).
  --compat kubesphere   also list each rule whose result in KubeSphere differs from Vigil's, and why

Exit status: 0 when every rule loads, 1 when any is rejected, 2 on bad usage.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { compat: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
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
};
