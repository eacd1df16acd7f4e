// Hostile inputs shared by the property tests: structure-aware mutations of valid seeds (delete, duplicate,
// retype members; huge, unicode and NUL strings; deep nesting; prototype-pollution keys) and the checks every
// parser must pass — a valid result or its documented error class, nothing else, Object.prototype untouched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';

// Deterministic runs (the house rule); FC_SEED=<n> explores other inputs, and a failure prints its seed.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261123) });

export const HUGE = 70 * 1024; // just over the 64 KiB field limit

export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

/** An own member, even when it is named `__proto__` (as JSON.parse would make it). */
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** `[[[…]]]` `depth` levels deep, built without recursion. */
export function nested(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__'];

function pollutionObject(): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  setOwn(o, '__proto__', { polluted: 'yes' });
  setOwn(o, 'constructor', { prototype: { polluted: 'yes' } });
  return o;
}

/** Values that break naive code: wrong types, huge/odd strings, deep nesting, prototype keys, non-JSON numbers. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\uffff',
    '💥\u202e\u0301',
    '2020-13-45T25:61:61Z',
    '9999-12-31T23:59:59.999999Z',
    '0000-01-01T00:00:00Z',
    '-1',
    '999',
    'RequestResponse',
    'ResponseComplete',
    [],
    {},
    [null],
    [1, 'x', {}],
  ),
  fc.constant(null).map(() => 'x'.repeat(HUGE)),
  fc.constant(null).map(() => nested(1500)),
  fc.constant(null).map(pollutionObject),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer(),
  fc.double(),
);

type Json = unknown;

/** One edit of a JSON tree at a path chosen by `picks` (each pick indexes the members/items at that level). */
export interface Mutation {
  picks: number[];
  op: 'delete' | 'retype' | 'duplicate' | 'rename' | 'pollute' | 'wrap' | 'unwrap';
  value: unknown;
  key: string;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  op: fc.constantFrom('delete', 'retype', 'retype', 'retype', 'duplicate', 'rename', 'pollute', 'wrap', 'unwrap'),
  value: nastyValue,
  key: fc.oneof(fc.constantFrom(...POLLUTION_KEYS), fc.string({ maxLength: 12 })),
});

function clone(v: Json): Json {
  return structuredClone(v);
}

function children(v: Json): (string | number)[] {
  if (Array.isArray(v)) return v.map((_, i) => i);
  if (v && typeof v === 'object') return Object.keys(v);
  return [];
}

/** Applies mutations to a deep copy of `seed`. */
export function mutate(seed: Json, muts: Mutation[]): Json {
  const root = { v: clone(seed) } as Record<string, unknown>;
  for (const m of muts) {
    let parent: Record<string, unknown> | unknown[] = root;
    let key: string | number = 'v';
    for (const p of m.picks) {
      const cur = (parent as Record<string | number, unknown>)[key];
      const ks = children(cur);
      if (ks.length === 0) break;
      parent = cur as Record<string, unknown>;
      key = ks[p % ks.length];
    }
    const bag = parent as Record<string | number, unknown>;
    const cur = bag[key];
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete bag[key];
        break;
      case 'retype':
        // A copy: constantFrom hands out the same object every run, which later edits would change (or make cyclic).
        if (Array.isArray(parent)) parent[key as number] = clone(m.value);
        else setOwn(bag as Record<string, unknown>, String(key), clone(m.value));
        break;
      case 'duplicate':
        if (Array.isArray(parent)) parent.splice(key as number, 0, clone(cur));
        else setOwn(bag as Record<string, unknown>, `${String(key)}${m.key}`, clone(cur));
        break;
      case 'rename':
        if (!Array.isArray(parent)) {
          delete bag[key];
          setOwn(bag as Record<string, unknown>, m.key, cur);
        }
        break;
      case 'pollute':
        if (cur && typeof cur === 'object' && !Array.isArray(cur)) {
          setOwn(cur as Record<string, unknown>, m.key, clone(m.value));
        }
        break;
      case 'wrap':
        bag[key] = [cur];
        break;
      case 'unwrap':
        if (Array.isArray(cur)) bag[key] = cur[0];
        else if (cur && typeof cur === 'object') bag[key] = Object.values(cur)[0];
        break;
    }
  }
  return root.v;
}

/** Seed + mutations → mutated value. */
export function mutated(seeds: readonly Json[]): fc.Arbitrary<Json> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([s, ms]) => mutate(s, ms));
}

const protoNames = Object.getOwnPropertyNames(Object.prototype).sort().join();

/** Object.prototype has gained no member and `{}` shows no polluted one. */
export function assertPrototypeClean(): void {
  assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(), protoNames);
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined);
  assert.equal(Object.getPrototypeOf(probe), Object.prototype);
}

/**
 * Runs `fn`: it either returns (the result is handed to `check`) or throws an instance of `cls` with a non-empty
 * message. TypeError, RangeError or any other class fails with the input shown.
 */
export function expectResultOrError<T>(
  fn: () => T,
  cls: abstract new (...args: never[]) => Error,
  check?: (r: T) => void,
): 'ok' | 'rejected' {
  let r: T;
  try {
    r = fn();
  } catch (err) {
    if (!(err instanceof cls)) {
      assert.fail(`expected ${cls.name} or a result, got ${(err as Error)?.stack ?? String(err)}`);
    }
    assert.ok(err.message.length > 0, 'error without a message');
    assertPrototypeClean();
    return 'rejected';
  }
  check?.(r);
  assertPrototypeClean();
  return 'ok';
}

/** Text mutations of a serialized seed: cut, splice in noise, duplicate a slice. */
export function mutatedText(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.nat(),
      fc.nat(),
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom('\u0000', '"', '\\', '{', '}', '[', ']', ':', ',', '\n', '\ufeff', '\ud800', '💥'),
      ),
      fc.constantFrom('cut', 'insert', 'replace', 'repeat'),
    )
    .map(([s, a, b, noise, op]) => {
      const i = a % (s.length + 1);
      const j = i + (b % 40);
      if (op === 'cut') return s.slice(0, i);
      if (op === 'insert') return s.slice(0, i) + noise + s.slice(i);
      if (op === 'replace') return s.slice(0, i) + noise + s.slice(j);
      return s.slice(0, j) + s.slice(i, j) + s.slice(i);
    });
}
