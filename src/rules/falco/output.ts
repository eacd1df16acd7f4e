// A rule's `output`, as libsinsp's event formatter reads it: `%field` or `%field[arg]` (optionally `%<width>field`,
// padded or cut to that width) between literal text. The field is the longest name at the `%` that is a known
// field: `%ka.target.name/%ka.target.resource` prints two fields, and `%ka.user.namex` prints ka.user.name and
// "x". A value the event lacks prints `<NA>`; a list field prints `(a,b)`.

import type { AuditEvent } from '../../event/model.ts';
import { bindField, type Extracted, FieldError } from './fields.ts';

const FIELD_NAME = /^[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/;
const FIELD_ARG = /^\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\][\s"']+))\]/;

export const NOT_AVAILABLE = '<NA>';

/** A value the formatter prints for `%field`. */
export function printValue(v: Extracted): string {
  if (v === undefined) return NOT_AVAILABLE;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  return `(${v.join(',')})`;
}

/** A value as Falco's JSON output_fields hold it. */
export type OutputFieldValue = string | string[] | bigint | null;

export interface OutputFormat {
  /** The message: the output with every field printed. */
  render(e: AuditEvent): string;
  /** Each field the output names (`ka.uri.param[command]`) and its value. */
  fields(e: AuditEvent): Record<string, OutputFieldValue>;
}

/** An output format problem, at `offset` in the output text. */
export class OutputError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'OutputError';
    this.offset = offset;
  }
}

type Getter = (e: AuditEvent) => Extracted;

/** The field at `s[i]` (just after `%` and the width): its getter, printed name and length in the text. */
function fieldAt(s: string, i: number, getterFor: (name: string, arg?: string) => Getter): [Getter, string, number] {
  const rest = s.slice(i);
  const m = FIELD_NAME.exec(rest);
  if (!m) throw new OutputError(`expected a field name after %, found ${JSON.stringify(rest.slice(0, 20))}`, i);
  const name = m[0];
  const argM = FIELD_ARG.exec(rest.slice(name.length));
  let first: FieldError | undefined;
  if (argM) {
    const arg = argM[1] ?? argM[2] ?? argM[3];
    try {
      return [getterFor(name, arg), `${name}[${arg}]`, name.length + argM[0].length];
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      first = err;
    }
  }
  // Falco tries shorter and shorter texts until one is a field.
  for (let n = name.length; n > 0; n--) {
    const cand = name.slice(0, n);
    if (FIELD_NAME.exec(cand)?.[0] !== cand) continue;
    try {
      return [getterFor(cand), cand, n];
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      first ??= err;
    }
  }
  throw new OutputError(first?.message ?? `unknown field "${name}"`, i);
}

/**
 * Compiles an output. `getterFor` binds a field (the rule set's shared, per-event cached extractors); it throws
 * FieldError for a name that is no field.
 */
export function compileOutput(
  text: string,
  getterFor: (name: string, arg?: string) => Getter = (n, a) => bindField(n, a).get,
): OutputFormat {
  const s = text.startsWith('*') ? text.slice(1) : text;
  const parts: string[] = [];
  const slots: { get: Getter; width: number }[] = [];
  const named = new Map<string, Getter>();
  let lit = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') {
      lit += s[i];
      continue;
    }
    if (i === s.length - 1) throw new OutputError('invalid formatting syntax: formatting cannot end with a %', i);
    let j = i + 1;
    while (/[0-9]/.test(s[j] ?? '')) j++;
    if (j === s.length) throw new OutputError('invalid formatting syntax: formatting cannot end with a number', i);
    const width = j > i + 1 ? Number(s.slice(i + 1, j)) : 0;
    const [get, name, len] = fieldAt(s, j, getterFor);
    parts.push(lit);
    lit = '';
    slots.push({ get, width });
    named.set(name, get);
    i = j + len - 1;
  }
  parts.push(lit);
  const entries = [...named];
  return {
    render(e) {
      let out = parts[0];
      for (let k = 0; k < slots.length; k++) {
        const { get, width } = slots[k];
        const v = printValue(get(e));
        out += (width ? v.slice(0, width).padEnd(width, ' ') : v) + parts[k + 1];
      }
      return out;
    },
    fields(e) {
      const out: Record<string, OutputFieldValue> = {};
      for (const [name, get] of entries) {
        const v = get(e);
        out[name] = v === undefined ? null : v;
      }
      return out;
    },
  };
}
