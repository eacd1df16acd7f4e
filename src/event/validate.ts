// One error type for every decoder: it names the offending field as a JSON path (`items[3].stage`) and says why,
// so `vigil import` and the receivers can answer "line 12: items[3].stage: \"Done\" is not one of …".

export class EventValidationError extends Error {
  /** JSON path of the offending field, e.g. `items[3].stage`; empty for the whole input. */
  readonly field: string;
  /** Why the value was rejected, without the field name. */
  readonly reason: string;
  /** 1-based line of the input the event came from, when the input was line-oriented. */
  readonly line?: number;

  constructor(field: string, reason: string, line?: number) {
    const where = field ? `${field}: ` : '';
    super(line === undefined ? `${where}${reason}` : `line ${line}: ${where}${reason}`);
    this.name = 'EventValidationError';
    this.field = field;
    this.reason = reason;
    if (line !== undefined) this.line = line;
  }

  /** The same error placed at a line of a larger input. */
  atLine(line: number): EventValidationError {
    return new EventValidationError(this.field, this.reason, line);
  }

  /** The same error with its field nested under `prefix` (e.g. `[3]` or `items[3]`). */
  under(prefix: string): EventValidationError {
    const field = !this.field ? prefix : this.field.startsWith('[') ? prefix + this.field : `${prefix}.${this.field}`;
    return new EventValidationError(field, this.reason, this.line);
  }
}

/** `base.field`, `base[3].field`, or just `field` at the top. Built only when an error is raised. */
export function joinPath(base: string, field: string): string {
  if (!base) return field;
  if (!field) return base;
  return field.startsWith('[') ? base + field : `${base}.${field}`;
}

/** A short rendering of a bad value for messages: strings quoted (and cut), other values by JSON type. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return typeof v;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function fail(base: string, field: string, reason: string): never {
  throw new EventValidationError(joinPath(base, field), reason);
}

export function expected(base: string, field: string, what: string, got: unknown): never {
  const shown = typeof got === 'object' || got === undefined ? typeName(got) : `${typeName(got)} ${describe(got)}`;
  return fail(base, field, `expected ${what}, got ${shown}`);
}

/** Wraps `JSON.parse` so a syntax error is an EventValidationError (V8 already names the line and column). */
export function parseJson(text: string, what = 'input'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new EventValidationError('', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}
