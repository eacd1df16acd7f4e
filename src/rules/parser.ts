// The condition language of KubeSphere's event-rule-engine (kubesphere-auditing.md §2), parsed strictly by hand:
// every token carries its offset, and anything KubeSphere's ANTLR parser would half-read (upper-case `AND`,
// unbalanced parentheses, unknown operators, `in ()`, leftover `${…}`) is an error at that offset.
//
// Precedence is KubeSphere's: `and` and `or` share one level and group left to right; `not`/`!` binds looser
// than both, so its operand runs to the end of the enclosing group (`not A and B` = `not (A and B)`).
// References `${…}` are resolved while parsing, into the tree: a macro becomes a parenthesized sub-expression
// (its own references expanded in turn), an alias a field path, a list the items of `in (…)` — taken as they
// are, so no quoting can break them.

import { FieldError, type PathSegment, type ResolvedField, resolveField, type Selector } from './fields.ts';

/** The text being parsed and what it belongs to, for error messages. */
export interface Source {
  text: string;
  /** Qualified item name, `<crName>.<itemName>`. */
  owner: string;
  /** Which member of the item holds the text. */
  member: 'condition' | 'macro' | 'alias' | 'output';
}

export class ParseError extends Error {
  readonly source: Source;
  readonly pos: number;
  constructor(source: Source, pos: number, message: string) {
    super(message);
    this.name = 'ParseError';
    this.source = source;
    this.pos = pos;
  }
}

/** A macro reached again while it is being expanded; the parser reports it at the reference. */
export class ReferenceCycle extends Error {
  constructor(chain: string[]) {
    super(`macro cycle: ${chain.join(' → ')}`);
    this.name = 'ReferenceCycle';
  }
}

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type TestOp = CompareOp | 'contains' | 'in' | 'like' | 'regex' | 'exists';

export type Literal =
  | { kind: 'string'; value: string; raw: string; pos: number }
  | { kind: 'number'; value: number; raw: string; pos: number }
  | { kind: 'bool'; value: boolean; raw: string; pos: number };

export interface FieldPath {
  /** As written (or as the alias target reads). */
  text: string;
  segs: PathSegment[];
  field: ResolvedField;
  pos: number;
  source: Source;
  /** Set when the path came from `${alias}`. */
  alias?: string;
}

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr; pos: number }
  | { kind: 'not'; expr: Expr; pos: number }
  /** Parentheses, or a macro's body (`macro` = its qualified name). */
  | { kind: 'group'; expr: Expr; pos: number; macro?: string }
  | {
      kind: 'test';
      path: FieldPath;
      op: TestOp;
      negated: boolean;
      literal?: Literal;
      items?: Literal[];
      /** Set when the items came from `${list}`. */
      list?: string;
      pos: number;
      source: Source;
    }
  | { kind: 'bare'; path: FieldPath; pos: number };

/** What `${name}` stands for, as the loader finds it (own Rule resource first, then `${cr.item}`). */
export type Reference =
  | { kind: 'macro'; name: string; expr: () => Expr }
  | { kind: 'alias'; name: string; path: () => FieldPath }
  | { kind: 'list'; name: string; items: string[] };

export type Resolver = (name: string) => Reference | undefined;

type TokenKind = 'word' | 'string' | 'number' | 'ref' | 'punct' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  end: number;
  /** Decoded string literal; reference name. */
  value?: string;
  segs?: PathSegment[];
}

const KEYWORDS = new Set(['and', 'or', 'not', 'contains', 'in', 'like', 'regex', 'exists']);
const BOOLS: Record<string, boolean> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false };
const NEGATABLE = new Set(['contains', 'in', 'like', 'regex', 'exists']);
const COMPARE = new Set(['=', '==', '!=', '<', '<=', '>', '>=']);
const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_-]/;

function lex(src: Source): Token[] {
  const s = src.text;
  const out: Token[] = [];
  let i = 0;
  const fail = (pos: number, msg: string): never => {
    throw new ParseError(src, pos, msg);
  };
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= s.length) fail(start, 'unterminated string: missing closing "');
        const d = s[i];
        if (d === '"') break;
        // Only \" and \\ are escapes; any other backslash stays, so regexes keep their \d, \. …
        if (d === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          value += s[i + 1];
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      i++;
      out.push({ kind: 'string', text: s.slice(start, i), pos: start, end: i, value });
      continue;
    }
    if (c === "'") fail(start, "strings are written in double quotes, not '…'");
    if (c === '$' && s[i + 1] === '{') {
      const close = s.indexOf('}', i + 2);
      if (close < 0) fail(start, 'unterminated reference: missing } after $' + '{');
      const name = s.slice(i + 2, close).trim();
      if (!name) fail(start, 'empty reference $' + '{}');
      i = close + 1;
      out.push({ kind: 'ref', text: s.slice(start, i), pos: start, end: i, value: name });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(s[i + 1] ?? ''))) {
      i++;
      while (/[0-9]/.test(s[i] ?? '')) i++;
      if (s[i] === '.' && /[0-9]/.test(s[i + 1] ?? '')) {
        i++;
        while (/[0-9]/.test(s[i] ?? '')) i++;
      }
      if (i < s.length && /[A-Za-z0-9_.]/.test(s[i])) fail(start, `malformed number "${s.slice(start, i + 1)}"`);
      out.push({ kind: 'number', text: s.slice(start, i), pos: start, end: i });
      continue;
    }
    if (IDENT_START.test(c)) {
      const segs: PathSegment[] = [];
      for (;;) {
        const segStart = i;
        if (!IDENT_START.test(s[i] ?? '')) fail(i, `expected a field name after "." in "${s.slice(start, i)}"`);
        while (i < s.length && IDENT.test(s[i])) i++;
        const seg: PathSegment = { name: s.slice(segStart, i), pos: segStart };
        if (s[i] === '[') seg.sel = lexSelector();
        segs.push(seg);
        if (s[i] === '.') {
          i++;
          continue;
        }
        break;
      }
      out.push({ kind: 'word', text: s.slice(start, i), pos: start, end: i, segs });
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
      i += 2;
      out.push({ kind: 'punct', text: two, pos: start, end: i });
      continue;
    }
    if ('()=<>!,'.includes(c)) {
      i++;
      out.push({ kind: 'punct', text: c, pos: start, end: i });
      continue;
    }
    fail(start, `unexpected character "${c}"`);
  }
  out.push({ kind: 'eof', text: '', pos: s.length, end: s.length });
  return out;

  function lexSelector(): Selector {
    const open = i;
    const close = s.indexOf(']', i);
    if (close < 0) fail(open, 'missing ] in array selector');
    const inner = s.slice(i + 1, close);
    i = close + 1;
    if (inner === '*') return { kind: 'any' };
    if (/^\d+$/.test(inner)) return { kind: 'index', n: Number(inner) };
    const m = /^(\d*):(\d*)$/.exec(inner);
    if (m) {
      return {
        kind: 'slice',
        from: m[1] === '' ? undefined : Number(m[1]),
        to: m[2] === '' ? undefined : Number(m[2]),
      };
    }
    return fail(open, `bad array selector "[${inner}]": use [*], [n] or [a:b]`);
  }
}

export interface ParseContext {
  resolve: Resolver;
}

/** Parses a whole condition (or macro body). */
export function parseCondition(src: Source, ctx: ParseContext): Expr {
  return new Parser(src, ctx).parseAll();
}

/** Parses a lone field path (an alias target). */
export function parsePath(src: Source): FieldPath {
  const toks = lex(src);
  const t = toks[0];
  if (t.kind !== 'word' || KEYWORDS.has(t.text) || toks[1].kind !== 'eof') {
    throw new ParseError(src, t.pos, `an alias must be one field path, like ObjectRef.Name, not "${src.text}"`);
  }
  return makePath(src, t);
}

function makePath(src: Source, t: Token, alias?: string): FieldPath {
  try {
    return { text: t.text, segs: t.segs!, field: resolveField(t.segs!), pos: t.pos, source: src, alias };
  } catch (err) {
    if (err instanceof FieldError) throw new ParseError(src, err.pos, err.message);
    throw err;
  }
}

class Parser {
  private readonly toks: Token[];
  private i = 0;
  private readonly src: Source;
  private readonly ctx: ParseContext;

  constructor(src: Source, ctx: ParseContext) {
    this.src = src;
    this.ctx = ctx;
    this.toks = lex(src);
  }

  private get tok(): Token {
    return this.toks[this.i];
  }

  private fail(pos: number, msg: string): never {
    throw new ParseError(this.src, pos, msg);
  }

  private isKw(t: Token, kw: string): boolean {
    return t.kind === 'word' && t.text === kw;
  }

  private describe(t: Token): string {
    return t.kind === 'eof' ? 'the end of the condition' : `"${t.text}"`;
  }

  parseAll(): Expr {
    if (this.tok.kind === 'eof') this.fail(0, 'empty condition');
    const e = this.parseExpr();
    const t = this.tok;
    if (t.kind !== 'eof') {
      if (t.kind === 'punct' && t.text === ')') this.fail(t.pos, 'unbalanced ")": no matching "("');
      this.expectedConnective(t);
    }
    return e;
  }

  private expectedConnective(t: Token): never {
    if (t.kind === 'word' && /^(and|or|not)$/i.test(t.text)) {
      this.fail(t.pos, `keywords are lower-case: write "${t.text.toLowerCase()}", not "${t.text}"`);
    }
    this.fail(t.pos, `expected "and", "or" or the end of the condition, found ${this.describe(t)}`);
  }

  private parseExpr(): Expr {
    let left = this.parseUnary();
    for (;;) {
      const t = this.tok;
      if (this.isKw(t, 'and') || this.isKw(t, 'or')) {
        this.i++;
        const right = this.parseUnary();
        left = { kind: t.text as 'and' | 'or', left, right, pos: t.pos };
        continue;
      }
      return left;
    }
  }

  private parseUnary(): Expr {
    const t = this.tok;
    if (this.isKw(t, 'not') || (t.kind === 'punct' && t.text === '!')) {
      this.i++;
      // Looser than and/or: the operand is the rest of the enclosing group.
      return { kind: 'not', expr: this.parseExpr(), pos: t.pos };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    if (t.kind === 'punct' && t.text === '(') {
      this.i++;
      if (this.tok.kind === 'punct' && this.tok.text === ')') this.fail(this.tok.pos, 'empty parentheses');
      const expr = this.parseExpr();
      const close = this.tok;
      if (!(close.kind === 'punct' && close.text === ')')) {
        if (close.kind === 'eof') this.fail(t.pos, 'unbalanced "(": missing ")"');
        this.expectedConnective(close);
      }
      this.i++;
      return { kind: 'group', expr, pos: t.pos };
    }
    if (t.kind === 'ref') {
      const ref = this.lookup(t);
      this.i++;
      if (ref.kind === 'macro') {
        let expr: Expr;
        try {
          expr = ref.expr();
        } catch (err) {
          if (err instanceof ReferenceCycle) this.fail(t.pos, err.message);
          throw err;
        }
        return { kind: 'group', expr, pos: t.pos, macro: ref.name };
      }
      if (ref.kind === 'alias') return this.parseTest({ ...ref.path(), alias: ref.name, pos: t.pos });
      this.fail(t.pos, `\${${t.value}} is a list: it can only follow "in" or "not in"`);
    }
    if (t.kind === 'word' && !KEYWORDS.has(t.text)) {
      this.i++;
      return this.parseTest(makePath(this.src, t));
    }
    this.fail(t.pos, `expected a condition, found ${this.describe(t)}`);
  }

  private lookup(t: Token): Reference {
    const ref = this.ctx.resolve(t.value!);
    if (!ref) this.fail(t.pos, `unresolved reference \${${t.value}}: no macro, list or alias of that name`);
    return ref;
  }

  private parseTest(path: FieldPath): Expr {
    let t = this.tok;
    let negated = false;
    const pos = path.pos;
    if (this.isKw(t, 'not')) {
      const next = this.toks[this.i + 1];
      if (!(next.kind === 'word' && NEGATABLE.has(next.text))) {
        this.fail(next.pos, `expected contains, in, like, regex or exists after "not", found ${this.describe(next)}`);
      }
      negated = true;
      this.i++;
      t = this.tok;
    }
    const f = path.field;
    if (t.kind === 'punct' && COMPARE.has(t.text)) {
      this.i++;
      const op = (t.text === '==' ? '=' : t.text) as CompareOp;
      const lit = this.literal(op === '=' || op === '!=');
      this.checkType(path, op, lit, t.pos);
      return this.test(path, op, false, pos, { literal: lit });
    }
    if (t.kind === 'word' && NEGATABLE.has(t.text)) {
      this.i++;
      const op = t.text as TestOp;
      if (f.endsWithSelector && op !== 'contains') {
        this.fail(t.pos, `${path.text} ends with [...]: only "contains" / "not contains" apply to a selection`);
      }
      if (f.type === 'struct' && op !== 'exists') {
        this.fail(pos, `${f.canonical} is an object: name one of its members, or use "exists"`);
      }
      if (op === 'exists') return this.test(path, op, negated, pos, {});
      if (op === 'in') return this.parseIn(path, negated, pos);
      const lit = this.literal(false);
      if (op !== 'contains' && lit.kind !== 'string')
        this.fail(lit.pos, `"${op}" takes a string pattern in double quotes`);
      return this.test(path, op, negated, pos, { literal: lit });
    }
    if (negated) this.fail(t.pos, 'expected contains, in, like, regex or exists after "not"');
    if (t.kind === 'word' && /^(and|or|not)$/i.test(t.text) && !KEYWORDS.has(t.text)) this.expectedConnective(t);
    if (t.kind === 'punct' && (t.text === '(' || t.text === '!' || t.text === ',')) {
      this.fail(t.pos, `unexpected "${t.text}" after ${path.text}`);
    }
    if (t.kind === 'word' && !KEYWORDS.has(t.text) && !/^(and|or|not)$/i.test(t.text)) {
      this.fail(t.pos, `unknown operator "${t.text}": use = != < <= > >= contains in like regex exists`);
    }
    if (t.kind === 'string' || t.kind === 'number') this.fail(t.pos, `missing operator before ${t.text}`);
    // A bare field: its boolean value.
    if (f.endsWithSelector) this.fail(pos, `${path.text} ends with [...]: only "contains" / "not contains" apply`);
    if (f.type !== 'any') this.fail(pos, `${f.canonical} is not a boolean field: compare it with an operator`);
    return { kind: 'bare', path, pos };
  }

  private test(
    path: FieldPath,
    op: TestOp,
    negated: boolean,
    pos: number,
    more: { literal?: Literal; items?: Literal[]; list?: string },
  ): Expr {
    return { kind: 'test', path, op, negated, pos, source: this.src, ...more };
  }

  private parseIn(path: FieldPath, negated: boolean, pos: number): Expr {
    const t = this.tok;
    if (t.kind === 'ref') {
      const ref = this.lookup(t);
      if (ref.kind !== 'list') this.fail(t.pos, `\${${t.value}} is a ${ref.kind}: "in" needs a list`);
      this.i++;
      if (ref.items.length === 0) this.fail(t.pos, `list \${${t.value}} is empty`);
      const items: Literal[] = ref.items.map((v) => ({ kind: 'string', value: v, raw: JSON.stringify(v), pos: t.pos }));
      return this.test(path, 'in', negated, pos, { items, list: ref.name });
    }
    if (!(t.kind === 'punct' && t.text === '('))
      this.fail(t.pos, `expected "(" or \${list} after "in", found ${this.describe(t)}`);
    this.i++;
    const items: Literal[] = [];
    if (this.tok.kind === 'punct' && this.tok.text === ')') this.fail(this.tok.pos, '"in ()" needs at least one value');
    for (;;) {
      const lit = this.literal(false);
      items.push(lit);
      const sep = this.tok;
      if (sep.kind === 'punct' && sep.text === ',') {
        this.i++;
        continue;
      }
      if (sep.kind === 'punct' && sep.text === ')') {
        this.i++;
        break;
      }
      if (sep.kind === 'eof') this.fail(t.pos, 'unbalanced "(": missing ")" after the values');
      this.fail(sep.pos, `expected "," or ")" in the value list, found ${this.describe(sep)}`);
    }
    return this.test(path, 'in', negated, pos, { items });
  }

  private literal(allowBool: boolean): Literal {
    const t = this.tok;
    if (t.kind === 'string') {
      this.i++;
      return { kind: 'string', value: t.value!, raw: t.text, pos: t.pos };
    }
    if (t.kind === 'number') {
      this.i++;
      return { kind: 'number', value: Number(t.text), raw: t.text, pos: t.pos };
    }
    if (t.kind === 'word' && t.text in BOOLS) {
      if (!allowBool) this.fail(t.pos, `a boolean only compares with = or !=`);
      this.i++;
      return { kind: 'bool', value: BOOLS[t.text], raw: t.text, pos: t.pos };
    }
    if (t.kind === 'ref') {
      const ref = this.ctx.resolve(t.value!);
      const what = ref ? `${ref.kind} \${${t.value}}` : `\${${t.value}}`;
      this.fail(t.pos, `expected a value, found ${what}: values are "strings", numbers or true/false`);
    }
    if (t.kind === 'word') {
      this.fail(
        t.pos,
        `expected a value, found ${this.describe(t)}: fields cannot be compared with fields; quote strings`,
      );
    }
    this.fail(t.pos, `expected a value, found ${this.describe(t)}`);
  }

  private checkType(path: FieldPath, op: CompareOp, lit: Literal, opPos: number): void {
    const f = path.field;
    if (f.endsWithSelector) {
      this.fail(opPos, `${path.text} ends with [...]: only "contains" / "not contains" apply to a selection`);
    }
    if (f.type === 'struct') this.fail(path.pos, `${f.canonical} is an object: name one of its members`);
    if (lit.kind === 'bool' && f.type !== 'any') {
      this.fail(lit.pos, `type mismatch: ${f.canonical} is never a boolean, compare it with a string or number`);
    }
    if (lit.kind === 'number' && (f.type === 'text' || f.type === 'array')) {
      this.fail(
        lit.pos,
        `type mismatch: ${f.canonical} is ${f.type === 'array' ? 'an array' : 'text'}, never a number; quote the value (${op} "${lit.raw}")`,
      );
    }
  }
}
