// Falco's condition language (libsinsp's filter grammar, falcosecurity/libs userspace/libsinsp/filter/parser.h),
// parsed into a tree with the offset of every node. The lexical rules are libsinsp's, quirks included: `and`/`or`
// bind as usual (`not` tightest, then `and`, then `or`), a word operator (`contains`, `startswith`…) needs a blank
// after it, values may be bare words (`ka.verb=create`, `(/proc, /etc)`), a field name has at least one dot and a
// lone identifier is a macro, strings are quoted with " or ' and know \b \f \n \r \t \\ \/ \" \' \xHH.
// Bare values that name a list are expanded by the compiler, as Falco substitutes list names before parsing.

export type Node =
  | { kind: 'and' | 'or'; items: Node[]; at: number }
  | { kind: 'not'; expr: Node; at: number }
  /** A macro reference. */
  | { kind: 'ident'; name: string; at: number }
  | Check;

export interface Check {
  kind: 'check';
  field: FieldExpr;
  /** `exists`, `=`, `!=`, `<`, `<=`, `>`, `>=`, `contains`, …, `in`, `intersects`, `pmatch` (`==` reads as `=`). */
  op: string;
  /** `oneof`, `anyof`, `allof` after a string operator. */
  mod?: string;
  /** Constant values: one for a comparison, a list for in/intersects/pmatch and modifiers. */
  values?: Value[];
  /** `val(field)` or a transformed field on the right. */
  rhs?: FieldExpr;
  /** The right side is a list in parentheses (or a list name), not a single value. */
  listRhs: boolean;
  at: number;
}

export interface FieldExpr {
  name: string;
  arg?: string;
  /** `tolower`, `toupper` or `val` around the field. */
  transformer?: string;
  at: number;
}

export interface Value {
  text: string;
  /** Written unquoted: it may name a list. */
  bare: boolean;
  at: number;
}

export class ConditionError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'ConditionError';
    this.offset = offset;
  }
}

export const MAX_DEPTH = 1000;

const BLANK = /[ \t\b\r\n]/;
const NOT_BLANK = /^not[ \t\n\r\f\v]+/;
const IDENTIFIER = /^[a-zA-Z]+[a-zA-Z0-9_]*/;
const FIELD_NAME = /^[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/;
const FIELD_ARG_BARE = /^[^\][\s"']+/;
const HEX = /^0[xX][0-9a-fA-F]+/;
const NUMBER = /^[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?/;
const BARE = /^[^()"'\s=,]+/;

// Word operators need a blank after them (the trailing space), symbols do not. Order matters: longest first.
const NUM_OPS = ['<=', '<', '>=', '>'];
const STR_OPS = [
  '==',
  '=',
  '!=',
  'glob ',
  'iglob ',
  'contains ',
  'icontains ',
  'bcontains ',
  'startswith ',
  'bstartswith ',
  'endswith ',
  'regex ',
];
const MODIFIERS = ['oneof ', 'anyof ', 'allof '];
const LIST_OPS = ['intersects', 'in', 'pmatch'];
const ALL_OPS = ['exists', ...NUM_OPS, ...STR_OPS, ...LIST_OPS].map((o) => `'${o.trim()}'`).join(', ');
/** Transformers libsinsp knows; Vigil evaluates tolower, toupper and val. */
export const TRANSFORMERS = ['tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'];
export const SUPPORTED_TRANSFORMERS = new Set(['tolower', 'toupper', 'val']);

/** libsinsp's unescape_str for a quoted token (quotes included). */
function unescapeQuoted(token: string, at: number): string {
  const quote = token[0];
  let out = '';
  for (let i = 1; i < token.length - 1; i++) {
    const c = token[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const d = token[++i];
    const fail = (m: string): never => {
      throw new ConditionError(m, at + i - 1);
    };
    switch (d) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case ' ': // libsinsp keeps a backslash for "\ " (an escape some old rules used)
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case '"':
      case "'":
        if (d !== quote) fail(`invalid \\${d} escape in ${quote}-quoted string`);
        out += d;
        break;
      case 'x': {
        const hex = token.slice(i + 1, i + 3);
        if (i + 2 >= token.length - 1 || !/^[0-9a-fA-F]{2}$/.test(hex)) fail('invalid hex char escape sequence');
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 2;
        break;
      }
      default:
        fail(`unsupported string escape sequence: \\${d}`);
    }
  }
  return out;
}

/** Parses a whole condition; throws ConditionError at the offset where libsinsp's parser would stop. */
export function parseCondition(input: string): Node {
  return new Parser(input).parse();
}

class Parser {
  private readonly s: string;
  private i = 0;
  private depth = 0;
  private last = '';

  constructor(s: string) {
    this.s = s;
  }

  private fail(message: string, at = this.i): never {
    throw new ConditionError(message, at);
  }

  private enter(): void {
    if (++this.depth >= MAX_DEPTH) this.fail(`exceeded max depth limit of ${MAX_DEPTH}`);
  }

  private blank(): boolean {
    const start = this.i;
    while (this.i < this.s.length && BLANK.test(this.s[this.i])) this.i++;
    return this.i > start;
  }

  private lit(str: string): boolean {
    if (!this.s.startsWith(str, this.i)) return false;
    this.i += str.length;
    this.last = str;
    return true;
  }

  private rx(re: RegExp): string | undefined {
    const m = re.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    this.last = m[0];
    return m[0];
  }

  /** An operator of the list; one written with a trailing space needs a blank after it. */
  private op(list: readonly string[]): string | undefined {
    for (const o of list) {
      if (!o.endsWith(' ')) {
        if (this.lit(o)) return o;
        continue;
      }
      const save = this.i;
      if (this.lit(o.trimEnd())) {
        if (this.blank()) return o.trimEnd();
        this.i = save;
      }
    }
    return undefined;
  }

  parse(): Node {
    if (this.s.length === 0) this.fail('filter input string is empty');
    const n = this.or();
    if (this.i !== this.s.length) this.fail(`unexpected token after '${this.last}', expecting 'or', 'and'`);
    return n;
  }

  private or(): Node {
    this.enter();
    const at = this.i;
    this.blank();
    const items = [this.and()];
    this.blank();
    while (this.lit('or')) {
      if (this.blank()) items.push(this.and());
      else if (this.lit('(')) items.push(this.embedded());
      else this.fail("expected blank or '(' after 'or'");
      this.blank();
    }
    this.depth--;
    return items.length > 1 ? { kind: 'or', items, at } : items[0];
  }

  private and(): Node {
    this.enter();
    const at = this.i;
    this.blank();
    const items = [this.not()];
    this.blank();
    while (this.lit('and')) {
      if (this.blank()) items.push(this.not());
      else if (this.lit('(')) items.push(this.embedded());
      else this.fail("expected blank or '(' after 'and'");
      this.blank();
    }
    this.depth--;
    return items.length > 1 ? { kind: 'and', items, at } : items[0];
  }

  private not(): Node {
    this.enter();
    this.blank();
    const at = this.i;
    let negate = false;
    while (this.rx(NOT_BLANK)) negate = !negate;
    let child: Node;
    if (this.lit('not(')) {
      negate = !negate;
      child = this.embedded();
    } else child = this.check();
    this.depth--;
    return negate ? { kind: 'not', expr: child, at } : child;
  }

  /** After a `(`: an expression and its `)`. */
  private embedded(): Node {
    this.enter();
    this.blank();
    const n = this.or();
    this.blank();
    if (!this.lit(')')) this.fail("expected a ')' token");
    this.depth--;
    return n;
  }

  private check(): Node {
    this.enter();
    this.blank();
    const at = this.i;
    let n: Node;
    if (this.lit('(')) n = this.embedded();
    else if (this.rx(FIELD_NAME)) n = this.condition(this.fieldRest(this.last, at), at);
    else if (this.transformerStart()) n = this.condition(this.transformed(at), at);
    else if (this.rx(IDENTIFIER)) n = { kind: 'ident', name: this.last, at };
    else this.fail("expected a '(' token, a field check, or an identifier");
    this.depth--;
    return n;
  }

  private fieldRest(name: string, at: number): FieldExpr {
    const f: FieldExpr = { name, at };
    const arg = this.fieldArg();
    if (arg !== undefined) f.arg = arg;
    return f;
  }

  private fieldArg(): string | undefined {
    if (!this.lit('[')) return undefined;
    const q = this.quoted();
    const arg = q ?? this.rx(FIELD_ARG_BARE);
    if (arg === undefined) this.fail('expected a valid field argument: a quoted string or a bare string');
    if (!this.lit(']')) this.fail("expected a ']' token");
    return arg;
  }

  /** At `name(` of a transformer: reports one Vigil does not evaluate. */
  private transformerStart(): boolean {
    for (const t of TRANSFORMERS) {
      if (this.s.startsWith(`${t}(`, this.i)) {
        if (!SUPPORTED_TRANSFORMERS.has(t)) this.fail(`the ${t}() transformer is not supported by Vigil`);
        return true;
      }
    }
    return false;
  }

  /** `tolower(field)`, `toupper(field)` or `val(field)`, with an optional argument after it. */
  private transformed(at: number): FieldExpr {
    const name = this.rx(/^[a-z]+\(/)!.slice(0, -1);
    this.blank();
    const fieldAt = this.i;
    if (!this.rx(FIELD_NAME)) {
      if (TRANSFORMERS.some((t) => this.s.startsWith(`${t}(`, this.i)) || this.s.startsWith('val(', this.i)) {
        this.fail('nested transformers are not supported by Vigil');
      }
      this.fail(`expected a field within '${name}' transformer`);
    }
    const f = this.fieldRest(this.last, fieldAt);
    this.blank();
    if (!this.lit(')')) this.fail("expected a ')' token closing the transformer");
    if (this.s[this.i] === '[') this.fail('an argument after a transformer is not supported by Vigil');
    return { ...f, transformer: name, at };
  }

  /** A transformer or val() on the right-hand side, if one starts here. */
  private rhsTransformer(): FieldExpr | undefined {
    this.blank();
    const at = this.i;
    if (this.s.startsWith('val(', this.i) || this.transformerStart()) return this.transformed(at);
    return undefined;
  }

  private condition(field: FieldExpr, at: number): Check {
    this.enter();
    this.blank();
    const check = (op: string, more: Partial<Check> = {}): Check => {
      this.depth--;
      return { kind: 'check', field, op, listRhs: false, at, ...more };
    };
    if (this.op(['exists'])) return check('exists');
    this.blank();
    const num = this.op(NUM_OPS);
    if (num !== undefined) {
      const rhs = this.rhsTransformer();
      if (rhs) return check(num, { rhs });
      const vat = this.i;
      const v = this.rx(HEX) ?? this.rx(NUMBER);
      if (v === undefined) this.fail('expected a number value or a field with a valid transformer');
      return check(num, { values: [{ text: v, bare: false, at: vat }] });
    }
    const str = this.op(STR_OPS);
    if (str !== undefined) {
      const op = str === '==' ? '=' : str;
      const hadBlank = /^[a-z]/.test(str) || this.blank();
      const save = this.i;
      const mod = hadBlank ? this.op(MODIFIERS) : undefined;
      if (mod !== undefined && this.listFollows() && !this.boolKeywordFollows()) {
        return check(op, { mod, values: this.listValue(), listRhs: true });
      }
      this.i = save;
      const rhs = this.rhsTransformer();
      if (rhs) return check(op, { rhs });
      return check(op, { values: [this.strValue()] });
    }
    const list = this.op(LIST_OPS);
    if (list !== undefined) {
      this.blank();
      if (this.s[this.i] === '(') return check(list, { values: this.listValue(), listRhs: true });
      const rhs = this.rhsTransformer();
      if (rhs) return check(list, { rhs });
      const vat = this.i;
      if (this.rx(IDENTIFIER))
        return check(list, { values: [{ text: this.last, bare: true, at: vat }], listRhs: true });
      this.fail('expected a list, an identifier, or a field with a valid transformer');
    }
    this.fail(`expected a valid check operator: one of ${ALL_OPS}`);
  }

  private listFollows(): boolean {
    return this.s[this.i] === '(' || IDENTIFIER.test(this.s.slice(this.i));
  }

  private boolKeywordFollows(): boolean {
    return /^(?:and|or|not)(?![a-zA-Z0-9])/.test(this.s.slice(this.i));
  }

  /** `(a, "b c", d)` (possibly empty) or a list name. */
  private listValue(): Value[] {
    this.blank();
    const at = this.i;
    if (!this.lit('(')) {
      if (this.rx(IDENTIFIER)) return [{ text: this.last, bare: true, at }];
      this.fail('expected a list or an identifier');
    }
    this.blank();
    const values: Value[] = [];
    const first = this.tryStrValue();
    if (first !== undefined) {
      values.push(first);
      this.blank();
      while (this.lit(',')) {
        values.push(this.strValue());
        this.blank();
      }
    }
    if (!this.lit(')')) this.fail("expected a ')' token");
    return values;
  }

  private tryStrValue(): Value | undefined {
    this.blank();
    const at = this.i;
    const q = this.quoted();
    if (q !== undefined) return { text: q, bare: false, at };
    const b = this.rx(BARE);
    return b === undefined ? undefined : { text: b, bare: true, at };
  }

  private strValue(): Value {
    const v = this.tryStrValue();
    if (v === undefined) this.fail('expected a string value');
    return v;
  }

  /** A quoted string (its closing quote is the first one not after a backslash), unescaped. */
  private quoted(): string | undefined {
    const q = this.s[this.i];
    if (q !== '"' && q !== "'") return undefined;
    for (let j = this.i + 1; j < this.s.length; j++) {
      if (this.s[j] === q && this.s[j - 1] !== '\\') {
        const token = this.s.slice(this.i, j + 1);
        const value = unescapeQuoted(token, this.i);
        this.i = j + 1;
        this.last = token;
        return value;
      }
    }
    return undefined;
  }
}
