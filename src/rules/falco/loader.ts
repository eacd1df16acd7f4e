// Reading Falco rules files in order, with Falco's loading semantics (falcosecurity/falco userspace/engine
// rule_loader_reader/collector): each file is a YAML sequence of items — `rule`, `macro`, `list`,
// `required_engine_version`, `required_plugin_versions`. A later definition of a name replaces the earlier one and
// keeps its place; `append: true` or `override: {key: append|replace}` change an earlier item; a rule item with
// only `enabled` switches an earlier rule. Conditions stay text until every file is read (an append pastes its text
// after a space), and each piece keeps its place in its file for messages. Unlike Falco, which stops a file at its
// first error, every item is read and every problem reported.

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  LineCounter as Lines,
  type Node,
  parseAllDocuments,
  type YAMLMap,
} from 'yaml';
import { joined, type Located, type Position, scalarLocated } from './position.ts';
import { type FalcoPriority, parseFalcoPriority } from './priority.ts';

/** A problem (or a notice) in a rules file: where, about what, and what. */
export interface FalcoProblem {
  file: string;
  line?: number;
  column?: number;
  /** `rule "Create Privileged Pod"`, `macro kevt`, `list allowed_k8s_users`. */
  item?: string;
  message: string;
}

export interface Loc {
  file: string;
  line?: number;
  column?: number;
}

/** An exception entry: a scalar, or a list of entries (fields, comps, a value tuple). */
export type Entry = { list: false; item: string; loc: Loc } | { list: true; items: Entry[]; loc: Loc };

export interface ExceptionInfo {
  name: string;
  loc: Loc;
  fields?: Entry;
  comps?: Entry;
  values: Entry[];
}

export interface ListInfo {
  name: string;
  items: string[];
  index: number;
  visibility: number;
  loc: Loc;
}

export interface MacroInfo {
  name: string;
  cond: Located[];
  index: number;
  visibility: number;
  loc: Loc;
}

export interface RuleInfo {
  name: string;
  loc: Loc;
  index: number;
  cond: Located[];
  output: Located[];
  desc: string;
  priority: FalcoPriority;
  source: string;
  enabled: boolean;
  tags: Set<string>;
  exceptions: ExceptionInfo[];
  skipIfUnknownFilter: boolean;
}

export interface Collected {
  lists: Map<string, ListInfo>;
  macros: Map<string, MacroInfo>;
  rules: Map<string, RuleInfo>;
  errors: FalcoProblem[];
  notices: FalcoProblem[];
}

/** Falco's engine version whose rules language Vigil reads (falco_engine_version.h). */
export const ENGINE_VERSION = '0.63.0';
/** Plugins whose fields Vigil provides, with the version it follows. */
export const PLUGIN_VERSIONS: Readonly<Record<string, string>> = {
  k8saudit: '0.18.0',
  json: '0.7.4',
};

class ItemError extends Error {
  readonly node?: Node | null;
  constructor(message: string, node?: Node | null) {
    super(message);
    this.node = node;
  }
}

const RULE_KEYS = new Set([
  'rule',
  'condition',
  'output',
  'desc',
  'priority',
  'source',
  'enabled',
  'capture',
  'capture_duration',
  'warn_evttypes',
  'skip-if-unknown-filter',
  'tags',
  'exceptions',
  'override',
  'append',
]);
const APPENDABLE = new Set(['condition', 'output', 'desc', 'tags', 'exceptions']);
const REPLACEABLE = new Set([
  'condition',
  'output',
  'desc',
  'priority',
  'capture',
  'capture_duration',
  'tags',
  'exceptions',
  'enabled',
  'warn_evttypes',
  'skip-if-unknown-filter',
]);

/** A semver "x.y.z" (missing parts 0) as numbers. */
function semver(text: string): [number, number, number] | undefined {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

/** sinsp_version::compatible_with: the same major version, and not older. */
function compatible(have: string, want: [number, number, number]): boolean {
  const h = semver(have)!;
  return h[0] === want[0] && (h[1] > want[1] || (h[1] === want[1] && h[2] >= want[2]));
}

const BOOLEANS: Record<string, boolean> = {};
for (const [words, v] of [
  [['true', 'yes', 'on', 'y'], true],
  [['false', 'no', 'off', 'n'], false],
] as const) {
  for (const w of words) {
    BOOLEANS[w] = v;
    BOOLEANS[w.toUpperCase()] = v;
    BOOLEANS[w[0].toUpperCase() + w.slice(1)] = v;
  }
}

/** Reads one file's items into the collection (which holds what earlier files defined). */
class FileReader {
  private readonly file: string;
  private readonly text: string;
  private readonly lines: LineCounter;
  private readonly c: Collected;
  private readonly next: () => number;

  constructor(file: string, text: string, lines: LineCounter, c: Collected, next: () => number) {
    this.file = file;
    this.text = text;
    this.lines = lines;
    this.c = c;
    this.next = next;
  }

  /** The document being read, for aliases (`*name`). */
  doc?: Document;

  /** A member's node, an alias resolved to what it names. */
  at(map: YAMLMap, key: string): Node | undefined {
    return this.deref(map.get(key, true) as Node | undefined);
  }

  deref(node: Node | null | undefined): Node | undefined {
    if (node === null || node === undefined) return undefined;
    return isAlias(node) && this.doc ? ((node.resolve(this.doc) as Node | undefined) ?? node) : node;
  }

  loc(node: Node | null | undefined): Loc {
    const r = node?.range;
    if (!r) return { file: this.file };
    const p = this.lines.linePos(r[0]);
    return { file: this.file, line: p.line, column: p.col };
  }

  problem(node: Node | null | undefined, message: string, item?: string): FalcoProblem {
    return { ...this.loc(node), ...(item ? { item } : {}), message };
  }

  located(node: Node | null | undefined): Located {
    return scalarLocated(node, this.text, this.lines);
  }

  /** A scalar member's text: yaml-cpp reads every scalar as its source text. */
  scalar(map: YAMLMap, key: string, opts: { optional?: boolean; empty?: boolean } = {}): string | undefined {
    const node = this.at(map, key);
    if (!map.has(key)) {
      if (opts.optional) return undefined;
      throw new ItemError(`Item has no mapping for key '${key}'`, map);
    }
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) {
      if (opts.empty) return undefined;
      throw new ItemError(`Mapping for key '${key}' is empty`, (node as Node | null) ?? map);
    }
    if (!isScalar(node)) throw new ItemError('Value is not a scalar value', node);
    const v = scalarText(node);
    if (v === '' && !opts.empty) throw new ItemError('Value must be non-empty', node);
    return v;
  }

  bool(map: YAMLMap, key: string): boolean | undefined {
    const v = this.scalar(map, key, { optional: true });
    if (v === undefined) return undefined;
    const b = BOOLEANS[v];
    if (b === undefined) throw new ItemError("Can't decode YAML scalar value", this.at(map, key));
    return b;
  }

  seq(map: YAMLMap, key: string, optional: boolean): { values: string[]; nodes: Node[] } | undefined {
    if (!map.has(key)) {
      if (optional) return undefined;
      throw new ItemError(`Item has no mapping for key '${key}'`, map);
    }
    const node = this.at(map, key);
    if (!isSeq(node)) throw new ItemError('Value is not a sequence', node ?? map);
    const values: string[] = [];
    const nodes: Node[] = [];
    for (const item of node.items as Node[]) {
      const n = this.deref(item) ?? item;
      if (!isScalar(n)) throw new ItemError('sequence value is not scalar', n);
      values.push(scalarText(n));
      nodes.push(n);
    }
    return { values, nodes };
  }

  warnUnknownKeys(map: YAMLMap, expected: Set<string>, item: string): void {
    for (const pair of map.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (!expected.has(k)) {
        this.c.notices.push(this.problem(pair.key as Node, `Unknown key '${k}'. The key will be ignored.`, item));
      }
    }
  }

  /** `override: {key: append|replace}` → the keys to append and to replace. */
  overrides(map: YAMLMap, appendable: Set<string>, replaceable: Set<string>) {
    const append = new Set<string>();
    const replace = new Set<string>();
    const node = this.at(map, 'override');
    if (!map.has('override')) return { append, replace };
    if (!isMap(node)) throw new ItemError('override must be a mapping of keys to append or replace', node ?? map);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const op = isScalar(pair.value) ? String(pair.value.value) : '';
      if (op === 'append') {
        if (!appendable.has(key))
          throw new ItemError(`Key '${key}' cannot be appended to, use 'replace' instead`, pair.key as Node);
        append.add(key);
      } else if (op === 'replace') {
        if (!replaceable.has(key)) throw new ItemError(`Key '${key}' cannot be replaced`, pair.key as Node);
        replace.add(key);
      } else {
        const allowed = [appendable.has(key) ? 'append' : '', replaceable.has(key) ? 'replace' : '']
          .filter(Boolean)
          .join(' ');
        throw new ItemError(
          `Invalid override operation for key '${key}': '${op}'. Allowed values are: ${allowed}`,
          (pair.value as Node) ?? node,
        );
      }
    }
    return { append, replace };
  }

  read(item: Node): void {
    if (!isMap(item))
      throw new ItemError('Unexpected element type. Each element should be a yaml associative array.', item);
    if (item.has('required_engine_version')) this.engineVersion(item);
    else if (item.has('required_plugin_versions')) this.pluginVersions(item);
    else if (item.has('list')) this.list(item);
    else if (item.has('macro')) this.macro(item);
    else if (item.has('rule')) this.rule(item);
    else this.c.notices.push(this.problem(item, 'Unknown top level item'));
  }

  private engineVersion(item: YAMLMap): void {
    const node = this.at(item, 'required_engine_version');
    const text = this.scalar(item, 'required_engine_version')!;
    const want = /^\d+$/.test(text) ? semver(`0.${text}.0`) : semver(text);
    if (!want) {
      throw new ItemError(
        `Unable to parse engine version '${text}' as a semver string. Expected "x.y.z" semver format.`,
        node,
      );
    }
    if (!compatible(ENGINE_VERSION, want)) {
      throw new ItemError(
        `Rules require engine version ${want.join('.')}, but engine version is ${ENGINE_VERSION}`,
        node,
      );
    }
    this.warnUnknownKeys(item, new Set(['required_engine_version']), 'required_engine_version');
  }

  private pluginVersions(item: YAMLMap): void {
    const seq = this.at(item, 'required_plugin_versions');
    if (!isSeq(seq)) throw new ItemError('Value of required_plugin_versions must be a sequence', seq ?? item);
    for (const plugin of seq.items as Node[]) {
      if (!isMap(plugin)) throw new ItemError('Plugin version must be a mapping', plugin);
      const alternatives: { name: string; version: string; node: Node }[] = [];
      const one = (m: YAMLMap) => {
        const name = this.scalar(m, 'name')!;
        const version = this.scalar(m, 'version')!;
        if (!semver(version)) throw new ItemError(`Invalid required version '${version}' for plugin '${name}'`, m);
        alternatives.push({ name, version, node: m });
      };
      one(plugin);
      const alts = this.at(plugin, 'alternatives');
      if (plugin.has('alternatives')) {
        if (!isSeq(alts)) throw new ItemError('Value of plugin version alternatives must be a sequence', plugin);
        for (const a of alts.items as Node[]) {
          if (!isMap(a)) throw new ItemError('Plugin version alternative must be a mapping', a);
          one(a);
        }
      }
      const known = alternatives.filter((a) => PLUGIN_VERSIONS[a.name] !== undefined);
      if (known.length === 0) {
        this.c.notices.push(
          this.problem(
            plugin,
            `plugin ${alternatives.map((a) => a.name).join(' or ')} is not one whose fields Vigil provides (${Object.keys(PLUGIN_VERSIONS).join(', ')}): rules that need it are skipped or rejected`,
          ),
        );
      } else if (!known.some((a) => compatible(PLUGIN_VERSIONS[a.name], semver(a.version)!))) {
        const a = known[0];
        throw new ItemError(
          `Plugin '${a.name}' version ${a.version} is required, but Vigil follows ${a.name} ${PLUGIN_VERSIONS[a.name]}`,
          a.node,
        );
      }
    }
    this.warnUnknownKeys(item, new Set(['required_plugin_versions']), 'required_plugin_versions');
  }

  private list(item: YAMLMap): void {
    const name = this.scalar(item, 'list')!;
    const label = `list ${name}`;
    try {
      const items = this.seq(item, 'items', false)!.values;
      const append = this.bool(item, 'append') ?? false;
      const o = this.overrides(item, new Set(['items']), new Set(['items']));
      if (append && (o.append.size || o.replace.size)) throw new ItemError(OVERRIDE_APPEND, item);
      const prev = this.c.lists.get(name);
      if (append || o.append.has('items')) {
        if (!prev) throw new ItemError(NO_PREVIOUS_LIST, item);
        prev.items.push(...items);
        prev.visibility = this.next();
      } else {
        const id = this.next();
        this.c.lists.set(name, { name, items, index: prev?.index ?? id, visibility: id, loc: this.loc(item) });
      }
      this.warnUnknownKeys(item, new Set(['list', 'items', 'append', 'override']), label);
    } catch (err) {
      throw err instanceof ItemError ? Object.assign(err, { item: label }) : err;
    }
  }

  private macro(item: YAMLMap): void {
    const name = this.scalar(item, 'macro')!;
    const label = `macro ${name}`;
    try {
      this.scalar(item, 'condition');
      const cond = this.located(this.at(item, 'condition'));
      const append = this.bool(item, 'append') ?? false;
      const o = this.overrides(item, new Set(['condition']), new Set(['condition']));
      if (append && (o.append.size || o.replace.size)) throw new ItemError(OVERRIDE_APPEND, item);
      const prev = this.c.macros.get(name);
      if (append || o.append.has('condition')) {
        if (!prev) throw new ItemError(NO_PREVIOUS_MACRO, item);
        prev.cond.push(cond);
        prev.visibility = this.next();
      } else {
        const id = this.next();
        this.c.macros.set(name, { name, cond: [cond], index: prev?.index ?? id, visibility: id, loc: this.loc(item) });
      }
      this.warnUnknownKeys(item, new Set(['macro', 'condition', 'append', 'override']), label);
    } catch (err) {
      throw err instanceof ItemError ? Object.assign(err, { item: label }) : err;
    }
  }

  private rule(item: YAMLMap): void {
    const name = this.scalar(item, 'rule')!;
    const label = `rule "${name}"`;
    try {
      this.ruleItem(item, name);
      this.warnUnknownKeys(item, RULE_KEYS, label);
    } catch (err) {
      throw err instanceof ItemError ? Object.assign(err, { item: label }) : err;
    }
  }

  private ruleItem(item: YAMLMap, name: string): void {
    const source = this.scalar(item, 'source', { optional: true, empty: true }) ?? '';
    const append = this.bool(item, 'append') ?? false;
    const o = this.overrides(item, APPENDABLE, REPLACEABLE);
    const overriding = o.append.size > 0 || o.replace.size > 0;
    if (append && overriding) throw new ItemError(OVERRIDE_APPEND, item);
    const prev = this.c.rules.get(name);
    const differs = (s: string) => prev !== undefined && s !== '' && prev.source !== s;
    if (differs(source)) throw new ItemError('Rule has been re-defined with a different source', item);
    if (overriding) {
      const present = new Set([...APPENDABLE, ...REPLACEABLE].filter((k) => item.has(k)));
      for (const [set, kind] of [
        [o.append, 'append'],
        [o.replace, 'replace'],
      ] as const) {
        for (const k of set) {
          if (!present.has(k))
            throw new ItemError(`An ${kind} override for '${k}' was specified but '${k}' is not defined`, item);
          present.delete(k);
        }
      }
      for (const k of present) {
        throw new ItemError(
          `Unexpected key '${k}': no corresponding entry under 'override' is defined.`,
          this.at(item, k),
        );
      }
      if (o.append.size) {
        if (!prev) throw new ItemError(NO_PREVIOUS_RULE_APPEND, item);
        this.appendTo(prev, item, o.append);
      }
      if (o.replace.size) {
        if (!prev) throw new ItemError(NO_PREVIOUS_RULE_REPLACE, item);
        this.replaceIn(prev, item, o.replace);
      }
      this.next();
      return;
    }
    if (append) {
      if (!prev) throw new ItemError(NO_PREVIOUS_RULE_APPEND, item);
      const keys = new Set(['condition', 'exceptions'].filter((k) => item.has(k)));
      if (keys.size === 0) throw new ItemError('Appended rule must have exceptions or condition property', item);
      this.appendTo(prev, item, keys);
      this.next();
      return;
    }
    if (!['condition', 'output', 'desc', 'priority'].some((k) => item.has(k))) {
      // Only `enabled`: switches an earlier rule on or off.
      this.scalar(item, 'enabled');
      if (!prev) throw new ItemError("Rule has 'enabled' key but no rule by that name already exists", item);
      prev.enabled = this.bool(item, 'enabled')!;
      return;
    }
    this.scalar(item, 'condition');
    this.scalar(item, 'output');
    const desc = this.scalar(item, 'desc')!;
    // A full definition without `source` is a syscall rule (and so differs from an earlier k8s_audit one).
    const effective = source === '' ? 'syscall' : source;
    if (differs(effective)) throw new ItemError('Rule has been re-defined with a different source', item);
    const priority = this.priority(item);
    const id = this.next();
    const info: RuleInfo = {
      name,
      loc: this.loc(item),
      index: prev?.index ?? id,
      cond: [this.located(this.at(item, 'condition'))],
      output: [trimmed(this.located(this.at(item, 'output')))],
      desc,
      priority,
      source: effective,
      enabled: this.bool(item, 'enabled') ?? true,
      tags: new Set(this.seq(item, 'tags', true)?.values ?? []),
      exceptions: this.exceptions(item, false),
      skipIfUnknownFilter: this.bool(item, 'skip-if-unknown-filter') ?? false,
    };
    for (const k of ['capture', 'warn_evttypes']) this.bool(item, k);
    this.scalar(item, 'capture_duration', { optional: true });
    this.c.rules.set(name, info);
  }

  private priority(item: YAMLMap): FalcoPriority {
    const text = this.scalar(item, 'priority')!;
    const p = parseFalcoPriority(text);
    if (!p) throw new ItemError('Invalid priority', this.at(item, 'priority'));
    return p;
  }

  private appendTo(prev: RuleInfo, item: YAMLMap, keys: Set<string>): void {
    if (keys.has('condition')) {
      this.scalar(item, 'condition');
      prev.cond.push(this.located(this.at(item, 'condition')));
    }
    if (keys.has('output')) {
      this.scalar(item, 'output');
      prev.output.push(this.located(this.at(item, 'output')));
    }
    if (keys.has('desc')) prev.desc += ` ${this.scalar(item, 'desc')}`;
    if (keys.has('tags')) for (const t of this.seq(item, 'tags', false)!.values) prev.tags.add(t);
    if (keys.has('exceptions')) {
      for (const ex of this.exceptions(item, true)) {
        const same = prev.exceptions.find((p) => p.name === ex.name);
        if (!same) {
          if (!ex.fields) throw new ItemError('Rule exception must have fields property with a list of fields', item);
          if (!ex.values.length)
            throw new ItemError('Rule exception must have values property with a list of values', item);
          prev.exceptions.push(ex);
        } else {
          if (ex.fields)
            throw new ItemError('Can not append exception fields to existing exception, only values', item);
          if (ex.comps) throw new ItemError('Can not append exception comps to existing exception, only values', item);
          same.values.push(...ex.values);
        }
      }
    }
  }

  private replaceIn(prev: RuleInfo, item: YAMLMap, keys: Set<string>): void {
    const node = (k: string) => this.at(item, k);
    if (keys.has('condition')) {
      this.scalar(item, 'condition');
      prev.cond = [this.located(node('condition'))];
    }
    if (keys.has('output')) {
      this.scalar(item, 'output');
      prev.output = [this.located(node('output'))];
    }
    if (keys.has('desc')) prev.desc = this.scalar(item, 'desc')!;
    if (keys.has('tags')) prev.tags = new Set(this.seq(item, 'tags', false)!.values);
    if (keys.has('exceptions')) prev.exceptions = this.exceptions(item, false);
    if (keys.has('priority')) prev.priority = this.priority(item);
    if (keys.has('enabled')) prev.enabled = this.bool(item, 'enabled')!;
    if (keys.has('skip-if-unknown-filter')) prev.skipIfUnknownFilter = this.bool(item, 'skip-if-unknown-filter')!;
    for (const k of ['capture', 'warn_evttypes']) if (keys.has(k)) this.bool(item, k);
  }

  private entry(node: Node | null | undefined, what: string): Entry | undefined {
    if (node === null || node === undefined) return undefined;
    if (isScalar(node)) {
      const item = scalarText(node);
      if (item === '') throw new ItemError('Value must be non-empty', node);
      return { list: false, item, loc: this.loc(node) };
    }
    if (isSeq(node)) {
      return {
        list: true,
        items: (node.items as Node[]).map((n) => {
          const e = this.entry(n, what);
          if (!e) throw new ItemError(`${what}: an empty value`, n);
          return e;
        }),
        loc: this.loc(node),
      };
    }
    throw new ItemError(`${what} must be a string or a list`, node);
  }

  private exceptions(item: YAMLMap, appending: boolean): ExceptionInfo[] {
    const node = this.at(item, 'exceptions');
    if (!item.has('exceptions') || node === null || (isScalar(node) && node.value === null)) return [];
    if (!isSeq(node)) throw new ItemError('Rule exceptions must be a sequence', node ?? item);
    const out: ExceptionInfo[] = [];
    for (const ex of node.items as Node[]) {
      if (!isMap(ex)) throw new ItemError('Rule exception must be a mapping', ex);
      const name = this.scalar(ex, 'name')!;
      if (out.some((o) => o.name === name)) {
        this.c.notices.push(this.problem(ex, `Multiple definitions of exception '${name}' in the same rule`));
      }
      const fields = this.entry(this.at(ex, 'fields'), 'fields');
      if (!fields && !appending && !ex.has('fields')) throw new ItemError("Item has no mapping for key 'fields'", ex);
      const comps = this.entry(this.at(ex, 'comps'), 'comps');
      const valuesNode = this.at(ex, 'values');
      const values: Entry[] = [];
      if (ex.has('values')) {
        if (!isSeq(valuesNode)) throw new ItemError('Rule exception values must be a sequence', valuesNode ?? ex);
        for (const v of valuesNode.items as Node[]) values.push(this.entry(v, 'values') ?? notEmpty(v));
      } else if (appending) {
        this.c.notices.push(this.problem(ex, 'Overriding/appending exception with no values'));
      }
      out.push({ name, loc: this.loc(ex), fields, comps, values });
    }
    return out;
  }
}

const notEmpty = (n: Node): never => {
  throw new ItemError('Value must be non-empty', n);
};

/** A scalar as its text (yaml-cpp keeps `0x1F`, `1.0`, `yes` as written). */
function scalarText(node: Node): string {
  if (!isScalar(node)) return '';
  if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source;
  return node.value === null || node.value === undefined ? '' : String(node.value);
}

/** Falco trims a rule's output. */
function trimmed(l: Located): Located {
  const lead = l.text.length - l.text.trimStart().length;
  return { text: l.text.trim(), locate: (offset: number): Position | undefined => l.locate(offset + lead) };
}

const OVERRIDE_APPEND =
  "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const NO_PREVIOUS_MACRO =
  "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";
const NO_PREVIOUS_LIST = "List uses 'append' or 'override.items: append' but no list by that name already exists";
const NO_PREVIOUS_RULE_APPEND =
  "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";
const NO_PREVIOUS_RULE_REPLACE =
  "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";

/** Whether a file is in Falco's dialect: its first document is a YAML sequence (KubeSphere's are mappings). */
export function isFalcoRulesText(text: string): boolean {
  for (const doc of parseAllDocuments(text)) {
    if (doc.contents === null) continue;
    return isSeq(doc.contents);
  }
  return false;
}

/** Reads rules files in order into one collection (Falco merges every file's items by name). */
export function collect(files: readonly { file: string; text: string }[]): Collected {
  const c: Collected = { lists: new Map(), macros: new Map(), rules: new Map(), errors: [], notices: [] };
  let id = 0;
  const next = () => id++;
  for (const { file, text } of files) {
    const lines = new Lines();
    const r = new FileReader(file, text, lines, c, next);
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      r.doc = doc;
      if (doc.errors.length) {
        for (const e of doc.errors) {
          c.errors.push({ file, line: e.linePos?.[0].line, column: e.linePos?.[0].col, message: e.message });
        }
        continue;
      }
      const root = doc.contents;
      if (root === null || (isScalar(root) && root.value === null)) continue;
      if (!isSeq(root)) {
        c.errors.push(r.problem(root, 'Rules content is not yaml array of objects'));
        continue;
      }
      for (const item of root.items as Node[]) {
        if (item === null || (isScalar(item) && item.value === null)) continue;
        try {
          r.read(item);
        } catch (err) {
          if (!(err instanceof ItemError)) throw err;
          c.errors.push(r.problem(err.node ?? item, err.message, (err as ItemError & { item?: string }).item));
        }
      }
    }
  }
  return c;
}

export { joined };
