// Loading KubeSphere `Rule` resources (auditing.kubesphere.io/v1alpha1, kubesphere-auditing.md §1) from YAML
// files or a folder, multi-document YAML included. Every item is checked, enabled or not, and every error is
// collected with its file, line and column (the `yaml` package's LineCounter), so one run shows them all.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Alias, type Document, isMap, isScalar, LineCounter, type Node, parseAllDocuments, visit } from 'yaml';
import { compile, nextEvent, type Predicate, type RuleLimits } from './compile.ts';
import { buildFalcoRuleSet, type FalcoProblem, type FalcoRuleSet } from './falco/index.ts';
import {
  type Expr,
  type FieldPath,
  MAX_CONDITION_DEPTH,
  ParseError,
  parseCondition,
  parsePath,
  type Reference,
  ReferenceCycle,
} from './parser.ts';
import { compileTemplate, defaultMessage, type Render } from './template.ts';

export const RULE_API_VERSION = 'auditing.kubesphere.io/v1alpha1';
export const ITEM_TYPES = ['rule', 'macro', 'list', 'alias'] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

/** One problem in a rule file. `line`/`column` are 1-based positions in the file. */
export class RuleError {
  readonly file: string;
  /** Qualified item name `<crName>.<itemName>`, when the problem is in one item. */
  readonly rule?: string;
  readonly line?: number;
  readonly column?: number;
  /** 1-based line and column inside the condition / macro / alias / output text, when the problem is in one. */
  readonly textLine?: number;
  readonly textColumn?: number;
  readonly message: string;
  constructor(init: {
    file: string;
    rule?: string;
    line?: number;
    column?: number;
    textLine?: number;
    textColumn?: number;
    message: string;
  }) {
    this.file = init.file;
    this.rule = init.rule;
    this.line = init.line;
    this.column = init.column;
    this.textLine = init.textLine;
    this.textColumn = init.textColumn;
    this.message = init.message;
  }
  toString(): string {
    const at = this.line ? `${this.file}:${this.line}:${this.column}` : this.file;
    const rule = this.rule ? ` ${this.rule}:` : '';
    const col = !this.textColumn
      ? ''
      : this.textLine && this.textLine > 1
        ? ` (line ${this.textLine}, column ${this.textColumn} of the text)`
        : ` (column ${this.textColumn} of the text)`;
    return `${at}:${rule} ${this.message}${col}`;
  }
}

/** Thrown by loadRules when any file or item is invalid; `errors` lists them all. */
export class RuleLoadError extends Error {
  readonly errors: RuleError[];
  constructor(errors: RuleError[]) {
    super(errors.map(String).join('\n'));
    this.name = 'RuleLoadError';
    this.errors = errors;
  }
}

/** An item of `spec.rules` as written. */
export interface RuleItem {
  name: string;
  type: ItemType;
  desc?: string;
  condition?: string;
  macro?: string;
  list?: string[];
  alias?: string;
  /** KubeSphere's `enable` has no omitempty: omitted means false. */
  enable: boolean;
  output?: string;
  priority?: string;
}

export interface RuleResource {
  name: string;
  labels: Record<string, string>;
  file: string;
  items: RuleItem[];
}

/** A `type: rule` item, compiled. */
export interface CompiledRule {
  /** `<crName>.<itemName>`: KubeSphere keys every item so; Vigil names rules and alerts by it too. */
  name: string;
  resource: RuleResource;
  item: RuleItem;
  expr: Expr;
  /** Whether the event matches the condition (may throw RuleRuntimeError). */
  test: Predicate;
  /** `test` without starting a new evaluation: for the engine, which calls `nextEvent()` once per event. */
  match: Predicate;
  /** The alert message: `output`, or KubeSphere's default sentence. */
  render: Render;
}

export interface RuleSet {
  resources: RuleResource[];
  /** Every `type: rule` item, enabled or not, in file order. */
  rules: CompiledRule[];
  /** Every item by qualified name. */
  items: Map<string, { resource: RuleResource; item: RuleItem }>;
  /** Finds what `${name}` means inside a resource (own resource first, then `${cr.item}`). */
  lookup(resource: string, name: string): { resource: RuleResource; item: RuleItem } | undefined;
  /** The Falco rules files among the sources (src/rules/falco), loaded together in order; absent when none. */
  falco?: FalcoRuleSet;
}

export type RuleSource = { file: string; text: string };

/** Reads `*.yaml` / `*.yml` of a folder (not recursive, sorted), or one file. */
export async function readRuleSources(path: string): Promise<RuleSource[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [{ file: path, text: await readFile(path, 'utf8') }];
  const names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return Promise.all(names.map(async (n) => ({ file: join(path, n), text: await readFile(join(path, n), 'utf8') })));
}

/** KubeSphere's shipped rules (ks-installer roles/ks-auditing/), Vigil's defaults. */
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('./default-rules.yaml', import.meta.url));

export async function loadRules(sources: RuleSource[] | string, limits?: RuleLimits): Promise<RuleSet> {
  return buildRuleSet(typeof sources === 'string' ? await readRuleSources(sources) : sources, limits);
}

export function loadDefaultRules(): Promise<RuleSet> {
  return loadRules(DEFAULT_RULES_FILE);
}

interface Located {
  resource: RuleResource;
  item: RuleItem;
  /** YAML node of each member, for positions. */
  nodes: Partial<Record<keyof RuleItem, Node>>;
  lines: LineCounter;
  text: string;
}

const ITEM_KEYS = new Set([
  'name',
  'type',
  'desc',
  'condition',
  'macro',
  'list',
  'alias',
  'enable',
  'output',
  'priority',
]);

/**
 * Whether a file is in Falco's dialect: a YAML sequence of items (`- rule:`, `- macro:`, `- list:` …), where a
 * KubeSphere file holds mappings (Rule resources). Decided on the first line that is not blank, a comment or a
 * document marker.
 */
export function isFalcoRulesFile(text: string): boolean {
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t === '---' || t.startsWith('%')) continue;
    return /^(?:-(?:\s|$)|\[)/.test(t) || /^---\s+(?:-(?:\s|$)|\[)/.test(t);
  }
  return false;
}

const fromFalco = (p: FalcoProblem) =>
  new RuleError({ file: p.file, rule: p.item, line: p.line, column: p.column, message: p.message });

/**
 * Parses and compiles; throws RuleLoadError listing every problem. Synchronous: used by the watcher too. Falco
 * rules files go to the Falco dialect, together and in order (a later file appends to or overrides an earlier one).
 */
export function buildRuleSet(sources: RuleSource[], limits?: RuleLimits): RuleSet {
  const errors: RuleError[] = [];
  const resources: RuleResource[] = [];
  const located = new Map<string, Located>();
  const isFalco = sources.map((s) => isFalcoRulesFile(s.text));
  const falcoSources = sources.filter((_, i) => isFalco[i]);
  let falco: FalcoRuleSet | undefined;
  if (falcoSources.length) {
    const built = buildFalcoRuleSet(falcoSources);
    errors.push(...built.errors.map(fromFalco));
    falco = built.ruleset;
  }

  for (const [i, { file, text }] of sources.entries()) {
    if (isFalco[i]) continue;
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines });
    const at = (node: Node | null | undefined, message: string, rule?: string) => {
      const p = node?.range ? lines.linePos(node.range[0]) : undefined;
      errors.push(new RuleError({ file, rule, line: p?.line, column: p?.col, message }));
    };
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      if (doc.errors.length) {
        for (const e of doc.errors) {
          errors.push(
            new RuleError({ file, line: e.linePos?.[0].line, column: e.linePos?.[0].col, message: e.message }),
          );
        }
        continue;
      }
      if (doc.contents === null) continue;
      readResource(doc, file, text, lines, at, resources, located);
    }
  }

  const lookup = (resource: string, name: string) => located.get(`${resource}.${name}`) ?? located.get(name);

  const errorAt = (err: ParseError) => {
    const loc = located.get(err.source.owner);
    const node = loc?.nodes[err.source.member] as Node | undefined;
    const before = err.source.text.slice(0, err.pos);
    const textLine = before.split('\n').length;
    const textColumn = err.pos - before.lastIndexOf('\n');
    const p = loc && node ? filePosition(loc, node, err.source.text, err.pos, textLine, textColumn) : undefined;
    return new RuleError({
      file: loc?.resource.file ?? '',
      rule: err.source.owner,
      line: p?.line,
      column: p?.col,
      textLine,
      textColumn,
      message: `${err.source.member}: ${err.message}`,
    });
  };

  // Macros parse once, lazily, in their own resource's scope; "parsing" marks a cycle in progress.
  const macroCache = new Map<string, Expr | 'parsing' | ParseError>();
  const aliasCache = new Map<string, FieldPath | ParseError>();
  const cycle: string[] = [];
  const resolverFor =
    (resource: string) =>
    (name: string): Reference | undefined => {
      const hit = lookup(resource, name);
      if (!hit) return undefined;
      const key = `${hit.resource.name}.${hit.item.name}`;
      const it = hit.item;
      if (it.type === 'list') return { kind: 'list', name: key, items: it.list ?? [] };
      if (it.type === 'alias') return { kind: 'alias', name: key, path: () => aliasOf(key, it) };
      if (it.type === 'macro') return { kind: 'macro', name: key, expr: () => macroOf(key, hit.resource, it) };
      return undefined; // a rule is not referable
    };
  function aliasOf(key: string, it: RuleItem): FieldPath {
    let p = aliasCache.get(key);
    if (!p) {
      try {
        p = parsePath({ text: it.alias ?? '', owner: key, member: 'alias' });
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        p = err;
      }
      aliasCache.set(key, p);
    }
    if (p instanceof ParseError) throw p;
    return p;
  }
  function macroOf(key: string, resource: RuleResource, it: RuleItem): Expr {
    const c = macroCache.get(key);
    if (c === 'parsing') {
      throw new ReferenceCycle([...cycle.slice(cycle.indexOf(key)), key]);
    }
    if (c instanceof ParseError) throw c;
    if (c) return c;
    // Each macro expanded inside another is a stack frame deeper: stop a long chain before the stack does.
    if (cycle.length >= MAX_CONDITION_DEPTH) {
      throw new ParseError(
        { text: it.macro ?? '', owner: key, member: 'macro' },
        0,
        `macros expand more than ${MAX_CONDITION_DEPTH} levels deep`,
      );
    }
    macroCache.set(key, 'parsing');
    cycle.push(key);
    try {
      const e = parseCondition(
        { text: it.macro ?? '', owner: key, member: 'macro' },
        { resolve: resolverFor(resource.name) },
      );
      macroCache.set(key, e);
      return e;
    } catch (err) {
      if (err instanceof ParseError) macroCache.set(key, err);
      else macroCache.delete(key);
      throw err;
    } finally {
      cycle.pop();
    }
  }

  const rules: CompiledRule[] = [];
  const reported = new Set<string>();
  const report = (err: unknown) => {
    if (!(err instanceof ParseError)) throw err;
    const re = errorAt(err);
    const k = String(re);
    if (!reported.has(k)) {
      reported.add(k);
      errors.push(re);
    }
  };
  for (const [key, loc] of located) {
    const { resource, item } = loc;
    try {
      if (item.type === 'macro') macroOf(key, resource, item);
      else if (item.type === 'alias') aliasOf(key, item);
      else if (item.type === 'rule') {
        const resolve = resolverFor(resource.name);
        const expr = parseCondition({ text: item.condition ?? '', owner: key, member: 'condition' }, { resolve });
        const match = compile(expr, limits);
        const test: Predicate = (e) => {
          nextEvent();
          return match(e);
        };
        const render =
          item.output === undefined || item.output === ''
            ? defaultMessage
            : compileTemplate({ text: item.output, owner: key, member: 'output' }, resolve);
        rules.push({ name: key, resource, item, expr, test, match, render });
      }
    } catch (err) {
      report(err);
    }
  }

  if (errors.length) throw new RuleLoadError(errors);
  const items = new Map([...located].map(([k, v]) => [k, { resource: v.resource, item: v.item }]));
  return {
    resources,
    rules,
    items,
    lookup: (resource, name) => {
      const hit = lookup(resource, name);
      return hit && { resource: hit.resource, item: hit.item };
    },
    ...(falco ? { falco } : {}),
  };
}

/** What Falco would only warn about in the rule set's Falco files (unknown keys, skipped rules), as RuleErrors. */
export function ruleNotices(rules: RuleSet): RuleError[] {
  return (rules.falco?.notices ?? []).map(fromFalco);
}

/**
 * Where offset `pos` of a scalar's value is in the file. Exact for plain and quoted one-line scalars and for
 * literal blocks (`|`), whose lines are the value's lines indented; otherwise the scalar's start.
 */
function filePosition(
  loc: Located,
  node: Node,
  value: string,
  pos: number,
  textLine: number,
  textColumn: number,
): { line: number; col: number } | undefined {
  if (!node.range || !isScalar(node)) return undefined;
  const start = node.range[0];
  const raw = loc.text.slice(start, node.range[1]);
  const at = (offset: number) => loc.lines.linePos(start + offset);
  if (!raw.includes('\n')) {
    if (node.type === 'PLAIN' && raw === value) return at(pos);
    if (node.type === 'QUOTE_DOUBLE' && !raw.includes('\\') && raw.length === value.length + 2) return at(pos + 1);
    if (node.type === 'QUOTE_SINGLE' && !raw.slice(1, -1).includes("''")) return at(pos + 1);
    return at(0);
  }
  if (node.type === 'BLOCK_LITERAL') {
    const body = raw.indexOf('\n') + 1;
    const indent = /^ */.exec(raw.slice(body))![0].length;
    const first = at(body);
    return { line: first.line + textLine - 1, col: indent + textColumn };
  }
  return at(0);
}

/**
 * The document as plain data, or undefined after reporting why not: the `yaml` package only finds an alias to a
 * missing anchor, or an alias expansion large enough to be a "billion laughs" attack, when converting.
 */
export function documentValue(
  doc: Document,
  at: (node: Node | null | undefined, message: string) => void,
): Record<string, unknown> | undefined {
  try {
    return doc.toJS() as Record<string, unknown>;
  } catch (err) {
    let bad: Alias | undefined;
    visit(doc, {
      Alias(_, node) {
        if (!node.resolve(doc)) {
          bad = node;
          return visit.BREAK;
        }
      },
    });
    at(bad ?? doc.contents, `invalid YAML: ${(err as Error).message}`);
    return undefined;
  }
}

function readResource(
  doc: Document,
  file: string,
  text: string,
  lines: LineCounter,
  at: (node: Node | null | undefined, message: string, rule?: string) => void,
  resources: RuleResource[],
  located: Map<string, Located>,
): void {
  const root = doc.contents;
  if (!isMap(root)) {
    at(root, 'expected a Rule resource (a YAML mapping)');
    return;
  }
  const js = documentValue(doc, at);
  if (js === undefined) return;
  if (js.kind === 'Webhook' && js.apiVersion === RULE_API_VERSION) return; // read by loadWebhookFile
  if (js.kind !== 'Rule') {
    at((doc.get('kind', true) as Node) ?? root, `expected kind: Rule, found ${JSON.stringify(js.kind)}`);
    return;
  }
  if (js.apiVersion !== RULE_API_VERSION) {
    at(
      (doc.get('apiVersion', true) as Node) ?? root,
      `expected apiVersion: ${RULE_API_VERSION}, found ${JSON.stringify(js.apiVersion)}`,
    );
    return;
  }
  const meta = (js.metadata ?? {}) as Record<string, unknown>;
  const name = meta.name;
  if (typeof name !== 'string' || !name) {
    at((doc.get('metadata', true) as Node) ?? root, 'metadata.name is required');
    return;
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries((meta.labels ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string') at(doc.getIn(['metadata', 'labels', k], true) as Node, `label ${k} must be a string`);
    else labels[k] = v;
  }
  const spec = js.spec as Record<string, unknown> | undefined;
  const list = spec?.rules;
  if (!Array.isArray(list)) {
    at((doc.get('spec', true) as Node) ?? root, 'spec.rules must be a list of items');
    return;
  }
  const twin = resources.find((r) => r.name === name);
  if (twin) {
    at(doc.getIn(['metadata', 'name'], true) as Node, `Rule "${name}" is also defined in ${twin.file}`);
    return;
  }
  const resource: RuleResource = { name, labels, file, items: [] };
  resources.push(resource);
  list.forEach((raw, i) => {
    const itemNode = doc.getIn(['spec', 'rules', i], true) as Node;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      at(itemNode, 'a rule item must be a mapping');
      return;
    }
    const r = raw as Record<string, unknown>;
    const nm = r.name;
    if (typeof nm !== 'string' || !nm) {
      at(itemNode, 'item needs a name');
      return;
    }
    const key = `${name}.${nm}`;
    const node = (k: string) => doc.getIn(['spec', 'rules', i, k], true) as Node | undefined;
    const bad = (k: string, msg: string) => at(node(k) ?? itemNode, msg, key);
    let ok = true;
    for (const k of Object.keys(r)) {
      if (!ITEM_KEYS.has(k)) {
        bad(k, `unknown member "${k}"; items have ${[...ITEM_KEYS].join(', ')}`);
        ok = false;
      }
    }
    if (!(ITEM_TYPES as readonly string[]).includes(r.type as string)) {
      bad('type', `type must be one of rule, macro, list, alias (lower-case), found ${JSON.stringify(r.type)}`);
      return;
    }
    const type = r.type as ItemType;
    for (const k of ['desc', 'condition', 'macro', 'alias', 'output', 'priority']) {
      if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') {
        bad(k, `${k} must be a string`);
        ok = false;
      }
    }
    if (r.enable !== undefined && r.enable !== null && typeof r.enable !== 'boolean') {
      bad('enable', 'enable must be true or false');
      ok = false;
    }
    if (r.list !== undefined && r.list !== null) {
      if (!Array.isArray(r.list)) {
        bad('list', 'list must be a list of strings');
        ok = false;
      } else {
        r.list.forEach((v, j) => {
          if (typeof v !== 'string') {
            at(
              (doc.getIn(['spec', 'rules', i, 'list', j], true) as Node) ?? itemNode,
              `list item ${JSON.stringify(v)} must be a string: quote it`,
              key,
            );
            ok = false;
          }
        });
      }
    }
    const needs: Record<ItemType, keyof RuleItem> = { rule: 'condition', macro: 'macro', list: 'list', alias: 'alias' };
    const need = needs[type];
    if (r[need] === undefined || r[need] === null || r[need] === '') {
      bad('name', `a ${type} item needs "${need}"`);
      ok = false;
    }
    if (located.has(key)) {
      bad('name', `duplicate item name "${nm}" in Rule ${name}`);
      ok = false;
    }
    if (!ok) return;
    const item: RuleItem = {
      name: nm,
      type,
      desc: r.desc as string | undefined,
      condition: r.condition as string | undefined,
      macro: r.macro as string | undefined,
      list: r.list as string[] | undefined,
      alias: r.alias as string | undefined,
      enable: r.enable === true,
      output: r.output as string | undefined,
      priority: r.priority as string | undefined,
    };
    resource.items.push(item);
    const nodes: Located['nodes'] = {};
    for (const k of ['name', 'condition', 'macro', 'alias', 'output', 'list'] as const) {
      const n = node(k);
      if (n) nodes[k] = n;
    }
    located.set(key, { resource, item, nodes, lines, text });
  });
}
