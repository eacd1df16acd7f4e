// `vigil policy test`: replays recorded audit events through a policy and shows, for each, the level it would
// be recorded at, the stages omitted and the rule that decided — to check a policy before deploying it.
import { readFile } from 'node:fs/promises';
import { type AuditEvent, decodeEvents } from '../event/index.ts';
import {
  attributesFromEvent,
  createPolicyEvaluator,
  loadPolicyFile,
  type PolicyDecision,
  PolicyError,
} from '../policy/index.ts';
import { CliError, defineCommand } from './command.ts';

const usage = `Usage: vigil policy test --policy POLICY.yaml [--events FILE|-] [-o table|json]

Evaluates a Kubernetes audit policy (audit.k8s.io/v1 or v1beta1) against recorded audit events and prints,
for each event, the level, the omitted stages and the index of the first matching rule.

Options:
  --policy FILE     the audit policy file (required)
  --events FILE|-   audit events: Kubernetes JSON lines or an EventList; "-" or absent reads stdin
  -o, --output FMT  table (default) or json: one {"auditID","level","omitStages","rule"} object per line

Exit status: 0 on success, 2 on a bad policy (errors as file:line:column) or bad input.
`;

export const policyTestCommand = defineCommand({
  name: ['policy', 'test'],
  summary: 'show the level, omitted stages and rule a policy gives each recorded audit event',
  usage,
  options: {
    policy: { type: 'string' },
    events: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run({ values }, io) {
    const opts = options(values);
    let policy: Awaited<ReturnType<typeof loadPolicyFile>>;
    try {
      policy = await loadPolicyFile(opts.policy);
    } catch (err) {
      if (err instanceof PolicyError) {
        // One `file:line:col: …` line per problem, unprefixed, so that editors and CI annotate them.
        io.stderr.write(`${err.message}\n`);
        return 2;
      }
      throw new CliError(`cannot read the policy: ${(err as Error).message}`);
    }
    const source = opts.events === '-' ? '<stdin>' : opts.events;
    const text = opts.events === '-' ? await readAll(io.stdin) : await readEventsFile(opts.events);
    let events: AuditEvent[];
    try {
      events = decodeEvents(text);
    } catch (err) {
      throw new CliError(`${source}: ${(err as Error).message}`);
    }
    const evaluator = createPolicyEvaluator(policy);
    const rows = events.map((e) => ({ event: e, decision: evaluator.evaluate(attributesFromEvent(e)) }));
    io.stdout.write(opts.output === 'json' ? jsonLines(rows) : table(rows));
    return 0;
  },
});

interface Options {
  policy: string;
  events: string;
  output: 'table' | 'json';
}

function options(values: { policy?: string; events?: string; output?: string }): Options {
  if (!values.policy) throw new CliError(`--policy is required\n\n${usage}`);
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new CliError(`-o must be table or json, not "${output}"`);
  return { policy: values.policy, events: values.events ?? '-', output };
}

async function readEventsFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the events: ${(err as Error).message}`);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

interface Row {
  event: AuditEvent;
  decision: PolicyDecision;
}

function jsonLines(rows: Row[]): string {
  let out = '';
  for (const { event, decision } of rows) {
    out += `${JSON.stringify({
      auditID: event.auditID ?? null,
      level: decision.level,
      omitStages: decision.omitStages,
      rule: decision.rule,
    })}\n`;
  }
  return out;
}

const NONE = '<none>';

/** kubectl-style: upper-case headers, columns padded to the widest cell, three spaces apart. */
function table(rows: Row[]): string {
  const cells = [['AUDIT-ID', 'VERB', 'USER', 'RESOURCE/URI', 'LEVEL', 'OMIT-STAGES', 'RULE']];
  for (const { event, decision } of rows) {
    cells.push([
      event.auditID || NONE,
      event.verb || NONE,
      event.user?.username || NONE,
      target(event),
      decision.level,
      decision.omitStages.length ? decision.omitStages.join(',') : NONE,
      decision.rule === null ? NONE : String(decision.rule),
    ]);
  }
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')}\n`).join('');
}

/** `resource[.group][/subresource] [namespace/]name` for resource requests, the path for the others. */
function target(e: AuditEvent): string {
  const a = attributesFromEvent(e);
  if (!a.resourceRequest) return a.path || NONE;
  let s = a.resource + (a.apiGroup ? `.${a.apiGroup}` : '') + (a.subresource ? `/${a.subresource}` : '');
  if (a.name) s += ` ${a.namespace ? `${a.namespace}/` : ''}${a.name}`;
  else if (a.namespace) s += ` -n ${a.namespace}`;
  return s || NONE;
}
