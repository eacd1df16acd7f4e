// Parsed conditions become closures once, at load: evaluating a rule is a few property reads and comparisons,
// no tree walking and no regex compilation per event. Semantics follow KubeSphere's engine
// (kubesphere-auditing.md §2.2–§2.5): values are compared as Go prints them, a missing field makes every
// operator false — the negated ones too — and `like`/`regex` are unanchored RE2 searches (re2js: linear time).

import { RE2JS } from 're2js';
import type { AuditEvent } from '../event/model.ts';
import { type Step, walk } from './fields.ts';
import { type Expr, type FieldPath, type Literal, ParseError } from './parser.ts';
import { compareText, goPrint, RuleRuntimeError, toBool, toNumber } from './values.ts';

export type Predicate = (e: AuditEvent) => boolean;
type Leaf = (v: unknown) => boolean;

/** A value an operator can see: present, and not an object (KubeSphere's map has no key for objects). */
function isValue(v: unknown): boolean {
  return v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v));
}

function hasLeaf(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'object' || Array.isArray(v)) return true;
  for (const k in v as Record<string, unknown>) if (hasLeaf((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** `exists`: a value, or an object with at least one non-null member somewhere below (`RequestObject.spec exists`). */
const exists: Leaf = hasLeaf;

function printed(v: unknown): string {
  return typeof v === 'string' ? v : goPrint(v);
}

/** KubeSphere's `like`: `?` → `.`, each run of `*` → `(.*)`, nothing else escaped, not anchored. */
export function globToRegex(glob: string): string {
  return glob.replace(/\?/g, '.').replace(/\*+/g, '(.*)');
}

function compileRegex(pattern: string, lit: Literal, path: FieldPath, what: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new ParseError(path.source, lit.pos, `invalid ${what} ${lit.raw}: ${(err as Error).message}`);
  }
}

function select(v: unknown, steps: Step[], i: number, leaf: Leaf): boolean {
  if (i === steps.length) return leaf(v);
  const s = steps[i];
  if (s.kind === 'keys') return select(walk(v, s.keys, s.lowers), steps, i + 1, leaf);
  if (!Array.isArray(v)) return false;
  const sel = s.sel;
  if (sel.kind === 'any') {
    for (let j = 0; j < v.length; j++) if (select(v[j], steps, i + 1, leaf)) return true;
    return false;
  }
  if (sel.kind === 'index') return sel.n < v.length && select(v[sel.n], steps, i + 1, leaf);
  const from = Math.min(sel.from ?? 0, v.length);
  const to = Math.min(sel.to ?? v.length, v.length);
  if (from >= to) return false;
  for (let j = from; j < to; j++) if (!select(v[j], steps, i + 1, leaf)) return false;
  return true;
}

/** Applies a leaf test at a path, the missing-field rule and the negation after it. */
function atPath(path: FieldPath, leaf: Leaf, negated: boolean, isExists: boolean): Predicate {
  const { get, steps } = path.field;
  const name = path.text;
  if (steps.length === 0) {
    if (isExists) return negated ? (e) => !leaf(get(e)) : (e) => leaf(get(e));
    return negated
      ? (e) => {
          const v = get(e);
          return isValue(v) && !leaf(v);
        }
      : (e) => {
          const v = get(e);
          return isValue(v) && leaf(v);
        };
  }
  const checked: Leaf = isExists ? leaf : (v) => isValue(v) && leaf(v);
  return (e) => {
    const base = get(e);
    if (base === undefined || base === null) return isExists && negated;
    if (!Array.isArray(base)) throw new RuleRuntimeError(`${name}: the value before [...] is not an array`);
    const r = select(base, steps, 0, checked);
    return negated ? !r : r;
  };
}

function compareLeaf(op: string, lit: Literal, path: FieldPath): Leaf {
  const name = path.text;
  if (lit.kind === 'bool') {
    const b = lit.value;
    return op === '=' ? (v) => toBool(v, name) === b : (v) => toBool(v, name) !== b;
  }
  if (lit.kind === 'number') {
    const n = lit.value;
    switch (op) {
      case '=':
        return (v) => toNumber(v, name) === n;
      case '!=':
        return (v) => toNumber(v, name) !== n;
      case '<':
        return (v) => toNumber(v, name) < n;
      case '<=':
        return (v) => toNumber(v, name) <= n;
      case '>':
        return (v) => toNumber(v, name) > n;
      default:
        return (v) => toNumber(v, name) >= n;
    }
  }
  const s = lit.value;
  switch (op) {
    case '=':
      return (v) => printed(v) === s;
    case '!=':
      return (v) => printed(v) !== s;
    case '<':
      return (v) => compareText(printed(v), s) < 0;
    case '<=':
      return (v) => compareText(printed(v), s) <= 0;
    case '>':
      return (v) => compareText(printed(v), s) > 0;
    default:
      return (v) => compareText(printed(v), s) >= 0;
  }
}

/** A literal as the text KubeSphere compares with: a number literal keeps its source spelling (`201.0`). */
function litText(l: Literal): string {
  return l.kind === 'string' ? l.value : l.raw;
}

function compileTest(t: Extract<Expr, { kind: 'test' }>): Predicate {
  const { path, op, negated } = t;
  const f = path.field;
  const plainString = f.steps.length === 0 && (f.type === 'text' || f.type === 'string');
  // Fast paths for the common case: a string member of the event against string literals.
  if (plainString && (op === '=' || op === '!=') && t.literal?.kind === 'string') {
    const get = f.get;
    const s = t.literal.value;
    return op === '='
      ? (e) => get(e) === s
      : (e) => {
          const v = get(e);
          return v !== undefined && v !== s;
        };
  }
  if (plainString && op === 'in') {
    const get = f.get;
    const set = new Set(t.items!.map(litText));
    return negated
      ? (e) => {
          const v = get(e) as string | undefined;
          return v !== undefined && !set.has(v);
        }
      : (e) => {
          const v = get(e) as string | undefined;
          return v !== undefined && set.has(v);
        };
  }
  let leaf: Leaf;
  switch (op) {
    case 'exists':
      return atPath(path, exists, negated, true);
    case 'in': {
      const set = new Set(t.items!.map(litText));
      leaf = (v) => set.has(printed(v));
      break;
    }
    case 'contains': {
      const s = litText(t.literal!);
      leaf = (v) => printed(v).includes(s);
      break;
    }
    case 'like': {
      const re = compileRegex(globToRegex(t.literal!.value as string), t.literal!, path, 'like pattern');
      leaf = (v) => re.test(printed(v));
      break;
    }
    case 'regex': {
      const re = compileRegex(t.literal!.value as string, t.literal!, path, 'regex');
      leaf = (v) => re.test(printed(v));
      break;
    }
    default:
      leaf = compareLeaf(op, t.literal!, path);
  }
  return atPath(path, leaf, negated, false);
}

/** Compiles a parsed condition into a predicate. Throws ParseError for an invalid regex / like pattern. */
export function compile(e: Expr): Predicate {
  switch (e.kind) {
    case 'and': {
      const a = compile(e.left);
      const b = compile(e.right);
      return (x) => a(x) && b(x);
    }
    case 'or': {
      const a = compile(e.left);
      const b = compile(e.right);
      return (x) => a(x) || b(x);
    }
    case 'not': {
      const a = compile(e.expr);
      return (x) => !a(x);
    }
    case 'group':
      return compile(e.expr);
    case 'bare': {
      const name = e.path.text;
      return atPath(e.path, (v) => toBool(v, name), false, false);
    }
    case 'test':
      return compileTest(e);
  }
}

/** The tree printed with every group explicit: two conditions mean the same iff they print the same. */
export function canonicalText(e: Expr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return `(${canonicalText(e.left)} ${e.kind} ${canonicalText(e.right)})`;
    case 'not':
      return `(not ${canonicalText(e.expr)})`;
    case 'group':
      return canonicalText(e.expr);
    case 'bare':
      return e.path.field.canonical;
    case 'test': {
      const op = e.negated ? `not ${e.op}` : e.op;
      if (e.items)
        return `${e.path.field.canonical} ${op} (${e.items.map((i) => JSON.stringify(litText(i))).join(',')})`;
      return e.literal ? `${e.path.field.canonical} ${op} ${e.literal.raw}` : `${e.path.field.canonical} ${op}`;
    }
  }
}
