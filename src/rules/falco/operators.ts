// The string tests of libsinsp's filter_compare, for text fields: strcmp ordering (bytes), strstr, ASCII-only
// strcasestr, fnmatch globs (no flags: `*` crosses `/`), anchored RE2 regexes and path-prefix matching (`pmatch`:
// the value is one of the paths or below one, component by component, a component of a path may be a glob).

import { RE2JS } from 're2js';
import { compareText } from '../values.ts';

export type Test = (v: string) => boolean;

const asciiLower = (s: string): string => (/[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s);

/** An RE2 pattern matching exactly what fnmatch(pattern, s, 0) matches (FNM_CASEFOLD when `fold`). */
export function globToRe2(glob: string, fold = false): string {
  let re = fold ? '(?is)' : '(?s)';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < glob.length) re += RE2JS.quote(glob[++i]);
    else if (c === '[') {
      const cls = bracket(glob, i);
      if (cls === undefined) re += '\\[';
      else {
        re += cls.re;
        i = cls.end;
      }
    } else re += RE2JS.quote(c);
  }
  return re;
}

/** A bracket expression starting at `[`: its RE2 class and where it ends; undefined when it is not closed. */
function bracket(glob: string, start: number): { re: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (glob[i] === '!' || glob[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (; i < glob.length; i++) {
    const c = glob[i];
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    first = false;
    if (c === '[' && glob[i + 1] === ':') {
      const close = glob.indexOf(':]', i + 2);
      if (close < 0) return undefined;
      body += glob.slice(i, close + 2);
      i = close + 1;
    } else if (c === '\\' && i + 1 < glob.length) body += `\\${glob[++i]}`;
    else if (c === '-' && body !== '' && glob[i + 1] !== ']') body += '-';
    else body += /[\\\]^[-]/.test(c) ? `\\${c}` : c;
  }
  return undefined;
}

function anchored(pattern: string, what: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new Error(`invalid ${what}: ${(err as Error).message}`);
  }
}

/** Path components as libsinsp splits them: `/` separated, empty ones dropped. */
const components = (p: string): string[] => p.split('/').filter((c) => c !== '');

/** `pmatch`: the value equals one of the paths or lies below one. */
export function pathPrefixTest(paths: readonly string[]): Test {
  const prefixes = paths.map((p) =>
    components(p).map((c) => (/[?*[]/.test(c) ? anchored(globToRe2(c), `glob ${c}`) : c)),
  );
  return (v) => {
    const parts = components(v);
    return prefixes.some(
      (p) =>
        p.length <= parts.length && p.every((c, i) => (typeof c === 'string' ? c === parts[i] : c.testExact(parts[i]))),
    );
  };
}

/** The test `v <op> rhs` for one constant. `op` is one of the string operators (not in/intersects/pmatch). */
export function stringTest(op: string, rhs: string): Test {
  switch (op) {
    case '=':
    case 'in':
    case 'intersects':
      return (v) => v === rhs;
    case '!=':
      return (v) => v !== rhs;
    case '<':
      return (v) => compareText(v, rhs) < 0;
    case '<=':
      return (v) => compareText(v, rhs) <= 0;
    case '>':
      return (v) => compareText(v, rhs) > 0;
    case '>=':
      return (v) => compareText(v, rhs) >= 0;
    case 'contains':
      return (v) => v.includes(rhs);
    case 'icontains': {
      const l = asciiLower(rhs);
      return (v) => asciiLower(v).includes(l);
    }
    case 'startswith':
      return (v) => v.startsWith(rhs);
    case 'endswith':
      return (v) => v.endsWith(rhs);
    case 'glob':
    case 'iglob': {
      const re = anchored(globToRe2(rhs, op === 'iglob'), `glob ${JSON.stringify(rhs)}`);
      return (v) => re.testExact(v);
    }
    case 'regex': {
      const re = anchored(rhs, `regex ${JSON.stringify(rhs)}`);
      return (v) => re.testExact(v);
    }
    default:
      throw new Error(`operator ${op} has no string test`);
  }
}

/** Compares two unsigned 64-bit values with a numeric operator (`in`/`intersects` compare for equality). */
export function numberTest(op: string, rhs: bigint): (v: bigint) => boolean {
  switch (op) {
    case '=':
    case 'in':
    case 'intersects':
      return (v) => v === rhs;
    case '!=':
      return (v) => v !== rhs;
    case '<':
      return (v) => v < rhs;
    case '<=':
      return (v) => v <= rhs;
    case '>':
      return (v) => v > rhs;
    default:
      return (v) => v >= rhs;
  }
}

/** A uint64 constant as libsinsp reads one: decimal or 0x hexadecimal, within 64 bits. */
export function parseUint64(text: string): bigint | undefined {
  if (!/^(?:\d+|0[xX][0-9a-fA-F]+)$/.test(text)) return undefined;
  const n = BigInt(text);
  return n < 2n ** 64n ? n : undefined;
}
