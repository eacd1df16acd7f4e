// How KubeSphere's rule engine sees values: it prints every value with Go's fmt (`%v`) before comparing it to a
// string literal, and parses the printed text with strconv for number and boolean literals. Vigil reproduces
// those prints so that a rule written for KubeSphere gives the same answer here.

/** A value a rule cannot use the way it is written (KubeSphere panics; Vigil counts it and does not match). */
export class RuleRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleRuntimeError';
  }
}

/** Go `%v` of a float64 (JSON numbers decode to float64): 201 → "201", 1234567 → "1.234567e+06". */
export function goFloat(n: number): string {
  // fmt's %v is strconv 'g' with the shortest digits, which uses the exponent form when the decimal exponent
  // is < -4 or >= 6 (strconv: "if precision was the shortest possible, use precision 6 for this decision").
  if (Number.isInteger(n) && Math.abs(n) < 1e6) return Object.is(n, -0) ? '-0' : String(n);
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  const [mant, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp >= -4 && exp < 6) return String(n);
  // JS "1.5e-7" → Go "1.5e-07": explicit sign, at least two exponent digits.
  return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** Go `%v` of a decoded JSON value: strings bare, arrays `[a b]`, maps `map[k:v …]` with sorted keys. */
export function goPrint(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ' ' : '') + goPrint(v[i]);
    return `${s}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

// strconv.ParseFloat accepts decimal and hexadecimal forms, `inf`/`infinity`/`nan` in any case, and `_` only
// between digits of a prefixed literal; this covers what printed values can hold.
const GO_FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;
const GO_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

/** The number a printed value holds, as strconv.ParseFloat reads it, or a runtime error. */
export function toNumber(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (GO_FLOAT.test(v)) return Number(v);
    if (GO_SPECIAL.test(v)) {
      const neg = v[0] === '-';
      return /nan/i.test(v) ? Number.NaN : neg ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
  }
  throw new RuleRuntimeError(`${path} is ${JSON.stringify(goPrint(v))}, not a number`);
}

/** The boolean a printed value holds, as strconv.ParseBool reads it, or a runtime error. */
export function toBool(v: unknown, path: string): boolean {
  if (typeof v === 'boolean') return v;
  const s = goPrint(v);
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
  }
  throw new RuleRuntimeError(`${path} is ${JSON.stringify(s)}, not a boolean`);
}

/** Byte-wise (UTF-8) ordering as Go compares strings; JS compares UTF-16 units, which differ only past U+D7FF. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    // Past the BMP's lower part UTF-16 order is not UTF-8 order: compare code points.
    const cx = a.codePointAt(i)!;
    const cy = b.codePointAt(i)!;
    return cx - cy;
  }
  return a.length - b.length;
}
