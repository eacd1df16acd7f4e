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

/**
 * A literal every match of `re` must contain, or '' when none is known. Most events fail most patterns; checking
 * this substring first spares them the regex engine (re2js still decides every match). Sound because only
 * top-level literal characters count: no alternation, flags, groups, classes, escapes or optional repeats.
 */
export function requiredLiteral(re: string): string {
  if (re.includes('|') || re.includes('(?')) return '';
  let best = '';
  let run = '';
  let depth = 0;
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === '\\') {
      end();
      i++;
      continue;
    }
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (depth > 0 || '()[].^$'.includes(c)) {
      if (c === '[') {
        // skip the class: it stands for one unknown character
        const close = re.indexOf(']', i + 2);
        i = close < 0 ? re.length : close;
      }
      end();
      continue;
    }
    if ('*?{'.includes(c)) {
      // the character before may be absent (or, for {n,m}, repeated)
      run = run.slice(0, -1);
      end();
      if (c === '{') {
        const close = re.indexOf('}', i);
        i = close < 0 ? re.length : close;
      }
      continue;
    }
    if (c === '+') {
      // the character before repeats: what follows need not be adjacent to it
      end();
      continue;
    }
    run += c;
  }
  end();
  return best;
}

interface Pattern {
  test(s: string): boolean;
}

function compileRegex(pattern: string, lit: Literal, path: FieldPath, what: string): Pattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    throw new ParseError(path.source, lit.pos, `invalid ${what} ${lit.raw}: ${(err as Error).message}`);
  }
  const needle = requiredLiteral(pattern);
  if (!needle) return re;
  return { test: (s) => s.includes(needle) && re.test(s) };
}

/**
 * `contains` on an array without printing it: in Go's `[a b]`, a text without spaces or brackets can only occur
 * inside one element's print.
 */
function containsIn(v: unknown, s: string, simple: boolean): boolean {
  if (simple && Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'string' ? x.includes(s) : goPrint(x).includes(s)) return true;
    }
    return false;
  }
  return printed(v).includes(s);
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
      const simple = s !== '' && !/[ [\]]/.test(s);
      leaf = (v) => containsIn(v, s, simple);
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

// Macros are shared by many rules (KubeSphere's `${pod}` and `${create}` sit in four rules each): each macro
// compiles to one predicate that remembers its result for the event being evaluated. The "event being evaluated"
// is an epoch the caller advances once per event (`nextEvent`), so a changed or reused event object is never
// answered from memory.
let epoch = 0;
/** Starts a new evaluation: macro results remembered for the previous event are forgotten. */
export function nextEvent(): void {
  epoch++;
}

const macroPredicates = new WeakMap<Expr, Predicate>();

function memoized(p: Predicate): Predicate {
  let at = -1;
  let result = false;
  return (x) => {
    if (at === epoch) return result;
    // A runtime error propagates and leaves nothing remembered.
    result = p(x);
    at = epoch;
    return result;
  };
}

/**
 * Compiles a parsed condition into a predicate; call `nextEvent()` before evaluating each event (the engine does).
 * Throws ParseError for an invalid regex / like pattern.
 */
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
    case 'group': {
      if (e.macro === undefined) return compile(e.expr);
      // The macro's parsed body is one shared tree, whichever rule references it.
      let p = macroPredicates.get(e.expr);
      if (!p) {
        p = memoized(compile(e.expr));
        macroPredicates.set(e.expr, p);
      }
      return p;
    }
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
