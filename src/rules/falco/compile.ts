// Parsed Falco conditions become closures once, at load. Semantics are libsinsp's: a field that is not extracted
// makes its check false (`exists` included; only an enclosing `not` turns it true); a list field compares with `in`
// (every value in the set) and `intersects` (some value in the set) only; text compares byte-wise. Macros are
// shared: each compiles once per rule set into a predicate that remembers its answer for the event being
// evaluated, and each field is extracted at most once per event, whatever number of checks read it.

import type { AuditEvent } from '../../event/model.ts';
import type { Check, FieldExpr, Node, Value } from './condition.ts';
import { type BoundField, bindField, type Extracted, FieldError } from './fields.ts';
import { numberTest, parseUint64, pathPrefixTest, stringTest, type Test } from './operators.ts';

export type Predicate = (e: AuditEvent) => boolean;

/** Where a condition's text is, for messages: its owner and the file position of an offset in it. */
export interface Src {
  file: string;
  /** `rule "Create Privileged Pod"`, `macro kevt`, `exception "trusted"`. */
  owner: string;
  text: string;
  locate(offset: number): { line: number; column: number } | undefined;
}

export class CompileError extends Error {
  readonly src: Src;
  readonly offset: number;
  constructor(message: string, src: Src, offset: number) {
    super(message);
    this.name = 'CompileError';
    this.src = src;
    this.offset = offset;
  }
}

export interface ListDef {
  /** Position in definition order: a list name is expanded only at its turn (Falco substitutes lists in order). */
  index: number;
  items: readonly string[];
}

export interface MacroDef {
  node: Node;
  src: Src;
}

/** A check built from a rule's exceptions: its own source (the exception in the rules file). */
export type LocatedCheck = Check & { src: Src };

// The event being evaluated: memoized results belong to one epoch, which `nextFalcoEvent` advances.
let epoch = 0;
export function nextFalcoEvent(): void {
  epoch++;
}

const STRING_OPS = new Set([
  '=',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'contains',
  'icontains',
  'startswith',
  'endswith',
  'glob',
  'iglob',
  'regex',
  'in',
  'intersects',
  'pmatch',
  'exists',
]);
const NUMBER_OPS = new Set(['=', '!=', '<', '<=', '>', '>=', 'in', 'intersects', 'exists']);
const LIST_FIELD_OPS = new Set(['in', 'intersects', 'exists']);

const asciiCase = (upper: boolean) => (s: string) =>
  upper ? s.replace(/[a-z]/g, (c) => c.toUpperCase()) : s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** A list item as the value Falco reads once it has pasted the item into the condition. */
function itemValue(item: string): { text: string; bare: boolean } | string {
  if (item.includes(' ') && item[0] !== '"' && item[0] !== "'") return { text: item, bare: false };
  if (item[0] === '"' || item[0] === "'") {
    const q = item[0];
    if (item.length >= 2 && item.endsWith(q) && !item.slice(1, -1).includes(q))
      return { text: item.slice(1, -1), bare: false };
    return `list item ${JSON.stringify(item)} is not a well-formed quoted string`;
  }
  if (/[()"'=,]/.test(item)) return `list item ${JSON.stringify(item)} is not a value Falco can read: quote it`;
  return { text: item, bare: true };
}

export class Compiler {
  private readonly lists: ReadonlyMap<string, ListDef>;
  private readonly macros: ReadonlyMap<string, MacroDef>;
  private readonly macroPreds = new Map<string, Predicate>();
  private readonly expanding: string[] = [];
  private readonly getters = new Map<string, (e: AuditEvent) => Extracted>();
  /** Macros some compiled rule used. */
  readonly usedMacros = new Set<string>();
  /** Problems in checks, collected so that one condition reports each of its unknown fields and bad operators. */
  problems: CompileError[] = [];

  constructor(lists: ReadonlyMap<string, ListDef>, macros: ReadonlyMap<string, MacroDef>) {
    this.lists = lists;
    this.macros = macros;
  }

  /** A rule's condition (with its exceptions, already part of `node`). */
  condition(node: Node, src: Src): Predicate {
    return this.node(node, src);
  }

  /** The field a rule's output names, bound (throws FieldError); not cached: outputs may render after the event. */
  field(name: string, arg: string | undefined): BoundField {
    return bindField(name, arg);
  }

  private node(n: Node, src: Src): Predicate {
    switch (n.kind) {
      case 'and': {
        const ps = n.items.map((c) => this.node(c, src));
        if (ps.length === 2) {
          const [a, b] = ps;
          return (e) => a(e) && b(e);
        }
        return (e) => {
          for (let i = 0; i < ps.length; i++) if (!ps[i](e)) return false;
          return true;
        };
      }
      case 'or': {
        const ps = n.items.map((c) => this.node(c, src));
        if (ps.length === 2) {
          const [a, b] = ps;
          return (e) => a(e) || b(e);
        }
        return (e) => {
          for (let i = 0; i < ps.length; i++) if (ps[i](e)) return true;
          return false;
        };
      }
      case 'not': {
        const p = this.node(n.expr, src);
        return (e) => !p(e);
      }
      case 'ident':
        return this.macro(n.name, src, n.at);
      case 'check':
        try {
          return this.check(n, (n as LocatedCheck).src ?? src);
        } catch (err) {
          if (!(err instanceof CompileError)) throw err;
          this.problems.push(err);
          return () => false;
        }
    }
  }

  private macro(name: string, src: Src, at: number): Predicate {
    const known = this.macroPreds.get(name);
    if (known) return known;
    const m = this.macros.get(name);
    if (!m) throw new CompileError(`Undefined macro '${name}' used in filter.`, src, at);
    if (this.expanding.includes(name)) throw new CompileError(`reference loop in macro '${name}'`, src, at);
    this.expanding.push(name);
    let p: Predicate;
    try {
      p = this.node(m.node, m.src);
    } finally {
      this.expanding.pop();
    }
    this.usedMacros.add(name);
    let at2 = -1;
    let result = false;
    const memo: Predicate = (e) => {
      if (at2 === epoch) return result;
      result = p(e);
      at2 = epoch;
      return result;
    };
    this.macroPreds.set(name, memo);
    return memo;
  }

  private cachedGetter(b: BoundField): (e: AuditEvent) => Extracted {
    const key = b.text;
    let g = this.getters.get(key);
    if (!g) {
      const get = b.get;
      let at = -1;
      let value: Extracted;
      g = (e) => {
        if (at !== epoch) {
          value = get(e);
          at = epoch;
        }
        return value;
      };
      this.getters.set(key, g);
    }
    return g;
  }

  /** The field of a check, bound and transformed. */
  private operand(f: FieldExpr, src: Src) {
    let b: BoundField;
    try {
      b = bindField(f.name, f.arg);
    } catch (err) {
      if (err instanceof FieldError) throw new CompileError(err.message, src, f.at + (err.offset ?? 0));
      throw err;
    }
    const get = this.cachedGetter(b);
    const t = f.transformer;
    if (t === undefined || t === 'val') return { def: b.def, get, exists: b.exists };
    if (b.def.type !== 'string') throw new CompileError(`${t}() applies to text fields, not ${f.name}`, src, f.at);
    const change = asciiCase(t === 'toupper');
    return {
      def: b.def,
      get: (e: AuditEvent): Extracted => {
        const v = get(e);
        return typeof v === 'string' ? change(v) : Array.isArray(v) ? v.map(change) : v;
      },
    };
  }

  /** Constant values, list names expanded as Falco substitutes them (a list's items, later lists in turn). */
  private values(vs: readonly Value[], src: Src): { text: string; at: number }[] {
    const out: { text: string; at: number }[] = [];
    const expand = (text: string, bare: boolean, at: number, minIndex: number) => {
      const l = bare ? this.lists.get(text) : undefined;
      if (l === undefined || l.index < minIndex) {
        out.push({ text, at });
        return;
      }
      for (const item of l.items) {
        const v = itemValue(item);
        if (typeof v === 'string') throw new CompileError(`${v} (list ${text})`, src, at);
        expand(v.text, v.bare, at, l.index + 1);
      }
    };
    for (const v of vs) expand(v.text, v.bare, v.at, 0);
    return out;
  }

  private check(c: Check, src: Src): Predicate {
    const lhs = this.operand(c.field, src);
    const { def } = lhs;
    const op = c.op;
    const allowed = def.list ? LIST_FIELD_OPS : def.type === 'uint64' ? NUMBER_OPS : STRING_OPS;
    if (!allowed.has(op)) {
      const kind = def.list ? 'list' : def.type === 'uint64' ? 'numeric' : 'string';
      throw new CompileError(`'${op}' operator not supported for ${kind} filters (${c.field.name})`, src, c.field.at);
    }
    if (c.mod !== undefined && def.list) {
      throw new CompileError(`'${op} ${c.mod}' operator not supported for list filters`, src, c.field.at);
    }
    const get = lhs.get;
    if (op === 'exists') return lhs.exists ?? ((e) => get(e) !== undefined);
    if (c.rhs !== undefined) return this.fieldComparison(c, lhs, src);
    const values = this.values(c.values ?? [], src);
    if (!c.listRhs && values.length !== 1) {
      const v = c.values?.[0];
      throw new CompileError(
        `list ${v?.text} has ${values.length} items where ${op} takes one value`,
        src,
        v?.at ?? c.at,
      );
    }
    if (def.type === 'uint64') return this.numberCheck(c, get, values, src);
    let tests: Test[];
    let set: Set<string> | undefined;
    try {
      if (op === 'pmatch') tests = [pathPrefixTest(values.map((v) => v.text))];
      else if ((op === 'in' || op === 'intersects') && c.mod === undefined) {
        set = new Set(values.map((v) => v.text));
        tests = [];
      } else tests = values.map((v) => stringTest(op, v.text));
    } catch (err) {
      throw new CompileError((err as Error).message, src, c.values?.[0]?.at ?? c.at);
    }
    if (set !== undefined) {
      const s = set;
      if (def.list) {
        return op === 'in'
          ? (e) => {
              const v = get(e) as string[] | undefined;
              if (v === undefined) return false;
              for (let i = 0; i < v.length; i++) if (!s.has(v[i])) return false;
              return true;
            }
          : (e) => {
              const v = get(e) as string[] | undefined;
              if (v === undefined) return false;
              for (let i = 0; i < v.length; i++) if (s.has(v[i])) return true;
              return false;
            };
      }
      return (e) => {
        const v = get(e) as string | undefined;
        return v !== undefined && s.has(v);
      };
    }
    const test = combine(tests, c.mod);
    return (e) => {
      const v = get(e) as string | undefined;
      return v !== undefined && test(v);
    };
  }

  private numberCheck(
    c: Check,
    get: (e: AuditEvent) => Extracted,
    values: { text: string; at: number }[],
    src: Src,
  ): Predicate {
    const tests = values.map((v) => {
      const n = parseUint64(v.text);
      if (n === undefined) throw new CompileError(`${c.field.name} compares with numbers, not "${v.text}"`, src, v.at);
      return numberTest(c.op, n);
    });
    const test = c.op === 'in' || c.op === 'intersects' ? combine(tests, 'anyof') : combine(tests, c.mod);
    return (e) => {
      const v = get(e);
      return typeof v === 'bigint' && test(v);
    };
  }

  /** `field op val(other)`: the right side's values are extracted from the same event. */
  private fieldComparison(c: Check, lhs: ReturnType<Compiler['operand']>, src: Src): Predicate {
    const rhs = this.operand(c.rhs!, src);
    if (rhs.def.type !== lhs.def.type) {
      throw new CompileError(`${c.field.name} and ${c.rhs!.name} have different types`, src, c.rhs!.at);
    }
    const { op, mod } = c;
    const isSet = (op === 'in' || op === 'intersects') && mod === undefined;
    return (e) => {
      const l = lhs.get(e);
      const r = rhs.get(e);
      if (l === undefined || r === undefined) return false;
      const rs = (Array.isArray(r) ? r : [r]).map(String);
      if (op === 'pmatch') return pathPrefixTest(rs)(String(l));
      if (isSet) {
        const ls = Array.isArray(l) ? l : [String(l)];
        return op === 'in' ? ls.every((x) => rs.includes(x)) : ls.some((x) => rs.includes(x));
      }
      if (typeof l === 'bigint') {
        return combine(
          rs.map((x) => numberTest(op, BigInt(x)) as (v: unknown) => boolean),
          mod,
        )(l);
      }
      if (!mod && rs.length !== 1) return false;
      return combine(
        rs.map((x) => stringTest(op, x) as (v: unknown) => boolean),
        mod,
      )(l);
    };
  }
}

/** One test, or several joined by a modifier: oneof (exactly one), anyof (some), allof (every). */
function combine<T>(tests: ((v: T) => boolean)[], mod: string | undefined): (v: T) => boolean {
  if (mod === undefined) return tests[0];
  if (tests.length === 0) return () => false;
  if (mod === 'anyof') return (v) => tests.some((t) => t(v));
  if (mod === 'allof') return (v) => tests.every((t) => t(v));
  return (v) => {
    let n = 0;
    for (const t of tests) if (t(v) && ++n > 1) return false;
    return n === 1;
  };
}
