// From the collected rules files to evaluable rules, as Falco's rule compiler does: lists expand the lists they name
// (defined before them), every macro must parse and name only macros defined before it, each rule's exceptions join
// its condition as `and not (...)` (built as Falco builds their text), and a rule whose source is not k8s_audit is
// skipped with a notice. Every problem names its file, line and column.

import type { AuditEvent } from '../../event/model.ts';
import {
  CompileError,
  Compiler,
  type ListDef,
  type MacroDef,
  nextFalcoEvent,
  type Predicate,
  type Src,
} from './compile.ts';
import { ConditionError, type Node, parseCondition } from './condition.ts';
import { bindField, FieldError, K8S_AUDIT_SOURCE } from './fields.ts';
import {
  type Collected,
  collect,
  type Entry,
  type ExceptionInfo,
  type FalcoProblem,
  type Loc,
  type RuleInfo,
} from './loader.ts';
import { compileOutput, OutputError, type OutputFormat } from './output.ts';
import { joined, type Located } from './position.ts';
import { type FalcoPriority, falcoPriorityRank, formatFalcoPriority } from './priority.ts';

export interface FalcoRule {
  name: string;
  desc: string;
  priority: FalcoPriority;
  /** falcoPriorityRank(priority): 0 (EMERGENCY) … 7 (DEBUG). */
  rank: number;
  source: string;
  /** Sorted, as Falco keeps them. */
  tags: string[];
  /** The priority as Falco prints it ("Warning"). */
  display: string;
  /** The labels its alerts carry besides Vigil's own (`tags`). */
  labels: Record<string, string>;
  /** Its entry in the event's record of fired rules (FALCO_RULES_ANNOTATION). */
  record: string;
  enabled: boolean;
  file: string;
  line?: number;
  column?: number;
  /** The condition (exceptions included); call within an evaluation (FalcoRuleSet.evaluate). */
  test: Predicate;
  output: OutputFormat;
}

export interface FalcoRuleSet {
  /** Every k8s_audit rule, enabled or not, in Falco's order (where each was first defined). */
  rules: FalcoRule[];
  lists: number;
  macros: number;
  /** Rules of other sources, not evaluated. */
  skipped: number;
  /** What Falco would warn about: unknown keys, skipped rules, unknown plugins. */
  notices: FalcoProblem[];
  /**
   * The rules that fire on an event, in order. `first` (Falco's default `rule_matching`): the first matching rule,
   * and, when that one ranks below `alertRank`, also the first matching one at or above it (what Falco run with
   * that minimum priority would report); `all`: every matching rule.
   */
  evaluate(e: AuditEvent, alertRank: number, matching: 'first' | 'all'): FalcoRule[] | undefined;
}

/** Events the k8saudit plugin would read: kube-apiserver's audit events, directly or through KubeSphere. */
const KUBERNETES_SOURCES = new Set(['kubernetes', 'kubesphere']);

const SUPPORTED_OPERATORS = [
  'exists',
  '<=',
  '<',
  '>=',
  '>',
  '==',
  '=',
  '!=',
  'glob',
  'iglob',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'regex',
  'intersects',
  'in',
  'pmatch',
];
const STR_OPERATORS = new Set([
  '==',
  '=',
  '!=',
  'glob',
  'iglob',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'regex',
]);
const MODIFIERS = new Set(['oneof', 'anyof', 'allof']);
const LIST_OPERATORS = new Set(['in', 'intersects', 'pmatch']);

function withModifier(op: string): boolean {
  const [a, b, ...rest] = op.split(/\s+/);
  return rest.length === 0 && STR_OPERATORS.has(a) && MODIFIERS.has(b ?? '');
}

const listOperator = (op: string) => LIST_OPERATORS.has(op) || withModifier(op);

/** Falco's quote_item: a value with a space is quoted, unless it is already. */
const quoteItem = (v: string) => (v.includes(' ') && v[0] !== '"' && v[0] !== "'" ? `"${v}"` : v);
const parenItem = (v: string) => (v[0] === '(' ? v : `(${v})`);

class LoadProblem extends Error {
  readonly loc: Loc;
  constructor(message: string, loc: Loc) {
    super(message);
    this.loc = loc;
  }
}

/** Checks an exception as Falco's collector does (fields known, comps operators, matching lengths). */
function validateException(ex: ExceptionInfo): { comps: Entry } {
  const fail = (m: string, loc: Loc = ex.loc): never => {
    throw new LoadProblem(`exception "${ex.name}": ${m}`, loc);
  };
  if (!ex.fields) fail('Rule exception item must have fields property with a list of fields');
  const fields = ex.fields!;
  const checkField = (e: Entry) => {
    if (e.list) return fail('a field must be a string', e.loc);
    const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(e.item.trim());
    try {
      bindField(m?.[1] ?? e.item, m?.[2]);
    } catch (err) {
      if (err instanceof FieldError) fail(`'${e.item}' is not a supported filter field: ${err.message}`, e.loc);
      throw err;
    }
  };
  if (fields.list) {
    const comps: Entry = ex.comps ?? {
      list: true,
      items: fields.items.map((f) => ({ list: false, item: '=', loc: f.loc })),
      loc: ex.loc,
    };
    if (!comps.list || comps.items.length !== fields.items.length)
      fail('Fields and comps lists must have equal length');
    for (const c of (comps as Extract<Entry, { list: true }>).items) {
      const op = c.list ? '' : c.item.trim();
      if (!SUPPORTED_OPERATORS.includes(op) && !withModifier(op))
        fail(`'${op}' is not a supported comparison operator`, c.loc);
    }
    for (const f of fields.items) checkField(f);
    return { comps };
  }
  const comps: Entry = ex.comps ?? { list: false, item: 'in', loc: ex.loc };
  if (comps.list) fail('Fields and comps must both be strings');
  const op = (comps as Extract<Entry, { list: false }>).item.trim();
  if (!LIST_OPERATORS.has(op) && !withModifier(op)) {
    fail(
      'When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)',
      comps.loc,
    );
  }
  checkField(fields);
  return { comps };
}

/** The text Falco builds for an exception (rule_loader_compiler's build_rule_exception_infos). */
function exceptionText(ex: ExceptionInfo, comps: Entry): string {
  const fields = ex.fields!;
  if (!fields.list) {
    const comp = (comps as Extract<Entry, { list: false }>).item.trim();
    const vals = ex.values.map((v) => {
      if (v.list)
        throw new LoadProblem(`exception "${ex.name}": Expected values array to contain a list of strings`, v.loc);
      return quoteItem(v.item);
    });
    return vals.length ? `(${fields.item} ${comp} (${vals.join(', ')}))` : '';
  }
  const ops = (comps as Extract<Entry, { list: true }>).items.map((c) => (c.list ? '' : c.item.trim()));
  const tuples = ex.values.map((tuple) => {
    const items = tuple.list ? tuple.items : [];
    if (items.length !== fields.items.length) {
      throw new LoadProblem(`exception "${ex.name}": Fields and values lists must have equal length`, tuple.loc);
    }
    const parts = fields.items.map((f, k) => {
      const v = items[k];
      const text = v.list
        ? `(${v.items.map((x) => quoteItem(x.list ? '' : x.item)).join(', ')})`
        : listOperator(ops[k])
          ? parenItem(v.item)
          : quoteItem(v.item);
      return ` ${(f as Extract<Entry, { list: false }>).item} ${ops[k]} ${text}`;
    });
    return `(${parts.join(' and ')})`;
  });
  return tuples.length ? `(${tuples.join(' or ')})` : '';
}

function srcOf(loc: Loc, owner: string, text: Located): Src {
  return { file: loc.file, owner, text: text.text, locate: text.locate };
}

/** A problem inside a located text: its position in the file. */
function at(src: Src, offset: number, message: string): FalcoProblem {
  const p = src.locate(offset);
  return { file: src.file, line: p?.line, column: p?.column, item: src.owner, message };
}

function parse(src: Src): Node {
  try {
    return parseCondition(src.text);
  } catch (err) {
    if (err instanceof ConditionError) throw new CompileError(err.message, src, err.offset);
    throw err;
  }
}

/** Every identifier a condition names (macro references). */
function identifiers(n: Node, out: { name: string; at: number }[] = []) {
  if (n.kind === 'ident') out.push({ name: n.name, at: n.at });
  else if (n.kind === 'and' || n.kind === 'or') for (const c of n.items) identifiers(c, out);
  else if (n.kind === 'not') identifiers(n.expr, out);
  return out;
}

function compileLists(c: Collected): Map<string, ListDef> {
  const out = new Map<string, ListDef>();
  for (const l of c.lists.values()) {
    const items: string[] = [];
    // One level, as Falco: an item naming a list defined before this one stands for that list's items as written.
    for (const it of l.items) {
      const ref = c.lists.get(it);
      if (ref && ref.index < l.visibility) items.push(...ref.items);
      else items.push(it);
    }
    out.set(l.name, { index: l.index, items });
  }
  return out;
}

function compileMacros(c: Collected, errors: FalcoProblem[]): Map<string, MacroDef> {
  const out = new Map<string, MacroDef>();
  for (const m of c.macros.values()) {
    const src = srcOf(m.loc, `macro ${m.name}`, joined(m.cond));
    try {
      const node = parse(src);
      for (const ref of identifiers(node)) {
        const target = c.macros.get(ref.name);
        if (!target || target.index >= m.visibility) {
          errors.push(at(src, ref.at, `Undefined macro '${ref.name}' used in filter.`));
        }
      }
      out.set(m.name, { node, src });
    } catch (err) {
      if (!(err instanceof CompileError)) throw err;
      errors.push(at(err.src, err.offset, err.message));
    }
  }
  return out;
}

const UNKNOWN_FIELD = /^unknown field /;

/** One rule, compiled; undefined when it is skipped (skip-if-unknown-filter). Throws RuleProblems. */
function compileRule(r: RuleInfo, compiler: Compiler, notices: FalcoProblem[]): FalcoRule | undefined {
  const owner = `rule "${r.name}"`;
  const problems: FalcoProblem[] = [];
  const asProblem = (err: CompileError): FalcoProblem => {
    const p = at(err.src, err.offset, err.message);
    return err.src.owner === owner ? p : { ...p, item: err.src.owner, message: `${p.message} (in ${owner})` };
  };
  const outSrc = srcOf(r.loc, owner, joined(r.output));
  let output: OutputFormat | undefined;
  try {
    output = compileOutput(outSrc.text, (name, arg) => compiler.field(name, arg).get);
  } catch (err) {
    if (!(err instanceof OutputError)) throw err;
    problems.push(at(outSrc, err.offset, `output: ${err.message}`));
  }
  const condSrc = srcOf(r.loc, owner, joined(r.cond));
  const preds: Predicate[] = [];
  compiler.problems = [];
  try {
    preds.push(compiler.condition(parse(condSrc), condSrc));
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    compiler.problems.push(err);
  }
  for (const ex of r.exceptions) {
    try {
      const { comps } = validateException(ex);
      const text = exceptionText(ex, comps);
      if (text === '') continue;
      const exLoc = ex.loc.line === undefined ? undefined : { line: ex.loc.line, column: ex.loc.column ?? 1 };
      const exSrc: Src = { file: ex.loc.file, owner, text, locate: () => exLoc };
      const p = compiler.condition(parse(exSrc), exSrc);
      preds.push((e) => !p(e));
    } catch (err) {
      if (err instanceof LoadProblem) problems.push({ ...err.loc, item: owner, message: err.message });
      else if (err instanceof CompileError) compiler.problems.push(err);
      else throw err;
    }
  }
  problems.push(...compiler.problems.map(asProblem));
  if (problems.length) {
    if (r.skipIfUnknownFilter && problems.every((p) => UNKNOWN_FIELD.test(p.message.replace(/^output: /, '')))) {
      for (const p of problems)
        notices.push({ ...p, message: `${p.message}; ${owner} skipped (skip-if-unknown-filter)` });
      return undefined;
    }
    throw new RuleProblems(problems);
  }
  const tags = [...r.tags].sort();
  const display = formatFalcoPriority(r.priority);
  const test: Predicate =
    preds.length === 1
      ? preds[0]
      : (e) => {
          for (let i = 0; i < preds.length; i++) if (!preds[i](e)) return false;
          return true;
        };
  return {
    name: r.name,
    desc: r.desc,
    priority: r.priority,
    rank: falcoPriorityRank(r.priority),
    source: r.source,
    tags,
    display,
    labels: Object.freeze<Record<string, string>>(tags.length ? { tags: tags.join(',') } : {}),
    record: `{"rule":${JSON.stringify(r.name)},"priority":"${display}"}`,
    enabled: r.enabled,
    file: r.loc.file,
    line: r.loc.line,
    column: r.loc.column,
    test,
    output: output!,
  };
}

class RuleProblems extends Error {
  readonly problems: FalcoProblem[];
  constructor(problems: FalcoProblem[]) {
    super(problems[0]?.message);
    this.problems = problems;
  }
}

/** Loads Falco rules files (in order) into evaluable k8s_audit rules; `errors` lists every problem. */
export function buildFalcoRuleSet(files: readonly { file: string; text: string }[]): {
  ruleset: FalcoRuleSet;
  errors: FalcoProblem[];
} {
  const c = collect(files);
  const errors = [...c.errors];
  const notices = [...c.notices];
  const lists = compileLists(c);
  const macros = compileMacros(c, errors);
  const compiler = new Compiler(lists, macros);
  const rules: FalcoRule[] = [];
  const skippedBySource = new Map<string, RuleInfo[]>();
  for (const r of c.rules.values()) {
    if (r.source !== K8S_AUDIT_SOURCE) {
      const key = `${r.loc.file}\0${r.source}`;
      skippedBySource.set(key, [...(skippedBySource.get(key) ?? []), r]);
      continue;
    }
    try {
      const rule = compileRule(r, compiler, notices);
      if (rule) rules.push(rule);
    } catch (err) {
      if (!(err instanceof RuleProblems)) throw err;
      errors.push(...err.problems);
    }
  }
  let skipped = 0;
  for (const group of skippedBySource.values()) {
    const first = group[0];
    skipped += group.length;
    notices.push({
      ...first.loc,
      item: `rule "${first.name}"`,
      message: `${group.length} rule(s) of source ${first.source} skipped: Vigil evaluates rules of source ${K8S_AUDIT_SOURCE}`,
    });
  }
  const enabled = rules.filter((r) => r.enabled);
  const order = new Map(files.map((f, i) => [f.file, i]));
  errors.sort(
    (a, b) =>
      (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
  return {
    errors,
    ruleset: {
      rules,
      lists: c.lists.size,
      macros: c.macros.size,
      skipped,
      notices,
      evaluate(e, alertRank, matching) {
        if (!KUBERNETES_SOURCES.has(e.source)) return undefined;
        nextFalcoEvent();
        let out: FalcoRule[] | undefined;
        for (let i = 0; i < enabled.length; i++) {
          const r = enabled[i];
          if (matching === 'first' && out !== undefined && r.rank > alertRank) continue;
          if (!r.test(e)) continue;
          if (out === undefined) out = [r];
          else out.push(r);
          if (matching === 'first' && r.rank <= alertRank) break;
        }
        return out;
      },
    },
  };
}
