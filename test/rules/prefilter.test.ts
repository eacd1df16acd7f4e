// The literal prefilter in front of re2js must never turn a match into a non-match.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { globToRegex, requiredLiteral } from '../../src/rules/compile.ts';

const TOKENS = [
  'a',
  'b',
  'ab',
  '-',
  '.',
  '*',
  '+',
  '?',
  '(',
  ')',
  '[a-b]',
  '^',
  '$',
  '\\d',
  '{2}',
  '{0,1}',
  '|',
  '(?i)',
  'B',
];

function compiles(re: string): RE2JS | undefined {
  try {
    return RE2JS.compile(re);
  } catch {
    return undefined;
  }
}

test('every string a regex matches contains its required literal', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...TOKENS), { maxLength: 8 }),
      fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'A', 'B', '-', '1', 'x'), maxLength: 12 }), {
        minLength: 1,
        maxLength: 5,
      }),
      (tokens, subjects) => {
        const source = tokens.join('');
        const re = compiles(source);
        if (!re) return;
        const needle = requiredLiteral(source);
        for (const s of subjects)
          if (re.test(s)) assert.ok(s.includes(needle), `${source} matched ${s} without ${needle}`);
      },
    ),
    { numRuns: 3000 },
  );
});

test('the same holds for like patterns turned into regexes', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', '.', '-'), maxLength: 8 }),
      fc.string({ unit: fc.constantFrom('a', 'b', '-', 'x'), maxLength: 12 }),
      (glob, s) => {
        const source = globToRegex(glob);
        const re = compiles(source);
        if (!re) return;
        if (re.test(s)) assert.ok(s.includes(requiredLiteral(source)));
      },
    ),
    { numRuns: 3000 },
  );
});
