// The language of the configuration table: a Spec says what shape a value must have. One checker (`checkValue`)
// validates any value against a Spec and names each problem by its path; `Infer<S>` is the TypeScript type a valid
// value has, so the loader's validation, the config's types and the documentation check all come from one table.

/** A problem at `path` inside the value checked. */
export interface Problem {
  path: (string | number)[];
  message: string;
  /** The problem is the key itself (unknown, or not used here), not its value. */
  atKey?: boolean;
}

/** A problem found by a `parsed` spec, at `path` inside the value. */
export class SpecError extends Error {
  readonly path: (string | number)[];
  constructor(path: (string | number)[], message: string) {
    super(message);
    this.name = 'SpecError';
    this.path = path;
  }
}

export interface ObjectSpec<F extends Record<string, Spec> = Record<string, Spec>, R extends string = string> {
  kind: 'object';
  fields: F;
  required?: readonly R[];
  /** Exactly one of these keys must be set. */
  oneOf?: readonly string[];
  /** A rule across keys: a problem, or undefined (only run when the keys themselves are valid). */
  check?: (value: Record<string, unknown>) => Problem | undefined;
}

export interface UnionSpec<V extends Record<string, ObjectSpec> = Record<string, ObjectSpec>> {
  kind: 'union';
  /** The key that picks the variant (`type`). */
  key: string;
  /** What the variants are of, for messages: `not used by storage type postgres`. */
  label: string;
  variants: V;
  /** The variant when the key is absent; without one the key is required. */
  default?: keyof V & string;
}

export type Spec =
  | { kind: 'string'; pattern?: RegExp; describe?: string }
  /** A file or folder path; relative ones resolve against the config file's folder. `exists`: must exist. */
  | { kind: 'path'; exists?: boolean }
  | { kind: 'int' | 'number'; min?: number; max?: number }
  | { kind: 'bool' }
  | { kind: 'false' }
  | { kind: 'duration'; max?: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; of: Spec; orOne?: boolean; nonEmpty?: boolean }
  | { kind: 'map'; of: Spec }
  | ObjectSpec
  | UnionSpec
  /** The first alternative whose shape the value has (a mapping or a scalar). */
  | { kind: 'alt'; of: readonly Spec[] }
  | { kind: 'any' }
  /** A value another stage validates: `parse` throws a SpecError whose path (relative to the value) places it. */
  | { kind: 'parsed'; parse: (value: unknown) => unknown };

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredOf<S> = S extends { required?: readonly (infer R)[] } ? (string extends R ? never : R) : never;
type ObjectOf<F, R> = Simplify<
  { -readonly [K in keyof F & R]: Infer<F[K]> } & { -readonly [K in Exclude<keyof F, R>]?: Infer<F[K]> }
>;
type VariantsOf<V> = { [T in keyof V & string]: Simplify<{ type: T } & Infer<V[T]>> }[keyof V & string];
interface Scalars {
  string: string;
  path: string;
  int: number;
  number: number;
  duration: number;
  bool: boolean;
  false: false;
  any: unknown;
}

/** The type of a value valid against `S` (durations as milliseconds). */
export type Infer<S> = S extends { kind: infer K extends keyof Scalars }
  ? Scalars[K]
  : S extends { kind: 'enum'; values: readonly (infer V)[] }
    ? V
    : S extends { kind: 'list'; of: infer O; orOne: true }
      ? Infer<O> | Infer<O>[]
      : S extends { kind: 'list' | 'alt'; of: infer O }
        ? O extends readonly (infer A)[]
          ? Infer<A>
          : Infer<O>[]
        : S extends { kind: 'map'; of: infer O }
          ? Record<string, Infer<O>>
          : S extends { kind: 'object'; fields: infer F }
            ? ObjectOf<F, RequiredOf<S>>
            : S extends { kind: 'union'; variants: infer V }
              ? VariantsOf<V>
              : S extends { kind: 'parsed'; parse: (value: unknown) => infer T }
                ? T
                : unknown;

/** Builders that keep literal types (enum values, required keys) for Infer. */
export const spec = {
  string: (o: { pattern?: RegExp; describe?: string } = {}) => ({ kind: 'string' as const, ...o }),
  path: (o: { exists?: boolean } = {}) => ({ kind: 'path' as const, ...o }),
  int: (o: { min?: number; max?: number } = {}) => ({ kind: 'int' as const, ...o }),
  number: (o: { min?: number; max?: number } = {}) => ({ kind: 'number' as const, ...o }),
  bool: () => ({ kind: 'bool' as const }),
  false: () => ({ kind: 'false' as const }),
  duration: (o: { max?: number } = {}) => ({ kind: 'duration' as const, ...o }),
  enum: <const V extends readonly string[]>(values: V) => ({ kind: 'enum' as const, values }),
  list: <const O extends Spec>(of: O, o: { nonEmpty?: boolean } = {}) => ({ kind: 'list' as const, of, ...o }),
  listOrOne: <const O extends Spec>(of: O) => ({ kind: 'list' as const, of, orOne: true as const }),
  map: <const O extends Spec>(of: O) => ({ kind: 'map' as const, of }),
  object: <const F extends Record<string, Spec>, const R extends keyof F & string = never>(
    fields: F,
    o: { required?: readonly R[]; oneOf?: readonly (keyof F & string)[]; check?: ObjectSpec['check'] } = {},
  ): ObjectSpec<F, NoInfer<R>> => ({ kind: 'object', fields, ...o }),
  union: <const V extends Record<string, ObjectSpec>>(
    key: string,
    label: string,
    variants: V,
    o: { default?: keyof V & string } = {},
  ): UnionSpec<V> => ({ kind: 'union', key, label, variants, ...o }),
  alt: <const A extends readonly Spec[]>(...of: A) => ({ kind: 'alt' as const, of }),
  any: () => ({ kind: 'any' as const }),
  parsed: <T>(parse: (value: unknown) => T) => ({ kind: 'parsed' as const, parse }),
};

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;

/**
 * Longest period of a duration that becomes a timer (`setTimeout`/`setInterval`, 2^31 − 1 ms ≈ 24.8 days): Node
 * turns a longer one into 1 ms, so `checkpointInterval: 30d` signed a checkpoint every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Longest duration: 100 years (5218w). Durations are subtracted from now and turned into epoch µs by the stores
 * (retention's cutoff: `retention: 99999999999999999999w` once made PostgreSQL's retention fail every minute on a
 * cutoff that was no bigint); a century keeps that arithmetic exact and covers any real retention or window.
 */
export const MAX_DURATION_MS = 5218 * 7 * 86_400_000;

/** `30s`, `15m`, `7d`, `2w` → milliseconds; undefined when malformed, zero or longer than MAX_DURATION_MS. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT_MS[m[2]!]!;
  return n > 0 && n <= MAX_DURATION_MS ? n : undefined;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

type Path = (string | number)[];

class Checker {
  readonly problems: Problem[] = [];
  fail(path: Path, message: string, atKey?: boolean): undefined {
    this.problems.push(atKey ? { path, message, atKey } : { path, message });
    return undefined;
  }

  check(v: unknown, s: Spec, path: Path): unknown {
    switch (s.kind) {
      case 'any':
        return v;
      case 'parsed':
        try {
          return s.parse(v);
        } catch (err) {
          if (!(err instanceof SpecError)) throw err;
          return this.fail([...path, ...err.path], err.message);
        }
      case 'object':
        return this.object(v, s, path);
      case 'union':
        return this.union(v, s, path);
      case 'alt': {
        const pick = s.of.find((a) => (a.kind === 'object' || a.kind === 'union') === isMapping(v)) ?? s.of[0]!;
        return this.check(v, pick, path);
      }
      case 'map': {
        if (!isMapping(v)) return this.fail(path, 'must be a mapping');
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) out[k] = this.check(v[k], s.of, [...path, k]);
        return out;
      }
      case 'list':
        if (s.orOne && !Array.isArray(v) && !isMapping(v)) return this.check(v, s.of, path);
        if (!Array.isArray(v)) return this.fail(path, 'must be a list');
        if (s.nonEmpty && v.length === 0) return this.fail(path, 'must be a non-empty list');
        return v.map((item, i) => this.check(item, s.of, [...path, i]));
      default:
        return this.scalar(v, s, path);
    }
  }

  private scalar(v: unknown, s: Spec, path: Path): unknown {
    if (isMapping(v) || Array.isArray(v)) return this.fail(path, `must be ${describe(s)}`);
    switch (s.kind) {
      case 'string':
      case 'path':
        if (typeof v === 'string' && s.kind === 'string' && s.pattern && !s.pattern.test(v))
          return this.fail(path, `must be ${s.describe ?? `like ${s.pattern}`}`);
        if (typeof v === 'string' && v !== '') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        return this.fail(path, 'must be a non-empty string');
      case 'bool':
        return typeof v === 'boolean' ? v : this.fail(path, 'must be true or false');
      case 'false':
        return v === false ? v : this.fail(path, 'must be false or a mapping');
      case 'int':
      case 'number':
        // an int beyond 2^53 is no exact integer any more (`bufferSize: 1e300` passed as one)
        if (typeof v !== 'number' || !Number.isFinite(v) || (s.kind === 'int' && !Number.isSafeInteger(v)))
          return this.fail(path, `must be ${describe(s)}`);
        if (s.min !== undefined && v < s.min) return this.fail(path, `must be at least ${s.min}`);
        if (s.max !== undefined && v > s.max) return this.fail(path, `must be at most ${s.max}`);
        return v;
      case 'enum':
        if (typeof v === 'string' && s.values.includes(v)) return v;
        return this.fail(path, `must be ${describe(s)}, not ${shown(v)}`);
      case 'duration': {
        const ms = typeof v === 'string' ? parseDuration(v) : undefined;
        if (ms !== undefined && s.max !== undefined && ms > s.max)
          return this.fail(path, `must be at most ${s.max / 1000} s (a timer's longest period), not ${shown(v)}`);
        return ms ?? this.fail(path, `must be ${describe(s)}, not ${shown(v)}`);
      }
    }
    return undefined;
  }

  private object(v: unknown, s: ObjectSpec, path: Path, variant?: { union: UnionSpec; type: string }) {
    if (!isMapping(v)) return this.fail(path, 'must be a mapping');
    const before = this.problems.length;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      if (variant && k === variant.union.key) {
        out[k] = v[k];
        continue;
      }
      const sub = s.fields[k];
      if (sub) out[k] = this.check(v[k], sub, [...path, k]);
      else if (variant && Object.values(variant.union.variants).some((o) => k in o.fields)) {
        const takes = [variant.union.key, ...Object.keys(s.fields)].join(', ');
        this.fail([...path, k], `not used by ${variant.union.label} type ${variant.type} (it takes ${takes})`, true);
      } else {
        const known = variant
          ? [variant.union.key, ...new Set(Object.values(variant.union.variants).flatMap((o) => Object.keys(o.fields)))]
          : Object.keys(s.fields);
        this.fail([...path, k], `unknown key (known: ${known.join(', ')})`, true);
      }
    }
    for (const r of s.required ?? [])
      if (!(r in v)) this.fail(path, variant ? `type ${variant.type} needs "${r}"` : `missing required key "${r}"`);
    if (s.oneOf && s.oneOf.filter((k) => k in v).length !== 1)
      this.fail(path, `needs exactly one of ${s.oneOf.join(', ')}`);
    if (s.check && this.problems.length === before) {
      const p = s.check(out);
      if (p) this.fail([...path, ...p.path], p.message);
    }
    return out;
  }

  private union(v: unknown, s: UnionSpec, path: Path): unknown {
    if (!isMapping(v)) return this.fail(path, 'must be a mapping');
    const type = v[s.key] ?? s.default;
    if (type === undefined) return this.fail(path, `missing required key "${s.key}"`);
    const types = Object.keys(s.variants);
    if (typeof type !== 'string' || !types.includes(type))
      return this.fail([...path, s.key], `must be one of ${types.join(', ')}, not ${shown(type)}`);
    const out = this.object(v, s.variants[type]!, path, { union: s, type });
    return out && { [s.key]: type, ...out };
  }
}

/** A value checked against `s`: the value as validated (durations as milliseconds), and every problem found. */
export function checkValue(value: unknown, s: Spec, path: Path = []): { value: unknown; problems: Problem[] } {
  const c = new Checker();
  const out = c.check(value, s, path);
  return { value: out, problems: c.problems };
}

/** The shape a spec wants, in words. */
export function describe(s: Spec): string {
  switch (s.kind) {
    case 'enum':
      return `one of ${s.values.join(', ')}`;
    case 'duration':
      return 'a duration like 30s, 15m, 12h, 7d, 2w (at most 5218w, 100 years)';
    case 'list':
      return 'a list';
    case 'map':
    case 'object':
    case 'union':
      return 'a mapping';
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'bool':
      return 'true or false';
    case 'path':
    case 'string':
      return 'a non-empty string';
    default:
      return `a ${s.kind}`;
  }
}

/** Whether a key of this spec holds a value of its own (not only keys below it). */
function valued(s: Spec): boolean {
  if (s.kind === 'object' || s.kind === 'union' || s.kind === 'map') return false;
  if (s.kind === 'list') return valued(s.of);
  return true;
}

/**
 * Every key the spec accepts that holds a value, as the configuration reference writes them: `storage.path`,
 * `ingest.amqp[].url`, `workspaces.<name>` (a map's keys), `capture.sinks[].batch.throttle.qps`.
 */
export function keyPaths(s: Spec, base = ''): string[] {
  const at = (k: string) => (base ? `${base}.${k}` : k);
  switch (s.kind) {
    case 'object':
      return Object.entries(s.fields).flatMap(([k, f]) => [...(valued(f) ? [at(k)] : []), ...keyPaths(f, at(k))]);
    case 'union':
      return [...new Set([at(s.key), ...Object.values(s.variants).flatMap((v) => keyPaths(v, base))])];
    case 'list':
      return keyPaths(s.of, `${base}[]`);
    case 'map':
      return [...(valued(s.of) ? [at('<name>')] : []), ...keyPaths(s.of, at('<name>'))];
    case 'alt':
      return [...new Set(s.of.flatMap((a) => keyPaths(a, base)))];
    default:
      return [];
  }
}

/**
 * Calls `visit` for every value of a `path` spec inside a valid `value` (what the checker returned), with where it
 * is; `visit` returns the value to keep (a resolved path).
 */
export function mapPaths(
  value: unknown,
  s: Spec,
  visit: (p: string, spec: { exists?: boolean }, path: Path) => string,
  path: Path = [],
): unknown {
  if (value === undefined || value === null) return value;
  switch (s.kind) {
    case 'path':
      return visit(value as string, s, path);
    case 'object': {
      const o = { ...(value as Record<string, unknown>) };
      for (const [k, f] of Object.entries(s.fields)) if (k in o) o[k] = mapPaths(o[k], f, visit, [...path, k]);
      return o;
    }
    case 'union': {
      const type = (value as Record<string, unknown>)[s.key] ?? s.default;
      const variant = s.variants[type as string];
      return variant ? mapPaths(value, variant, visit, path) : value;
    }
    case 'alt': {
      const pick = s.of.find((a) => (a.kind === 'object' || a.kind === 'union') === isMapping(value));
      return pick ? mapPaths(value, pick, visit, path) : value;
    }
    case 'list':
      return Array.isArray(value) ? value.map((v, i) => mapPaths(v, s.of, visit, [...path, i])) : value;
    case 'map': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        o[k] = mapPaths(v, s.of, visit, [...path, k]);
      return o;
    }
    default:
      return value;
  }
}
