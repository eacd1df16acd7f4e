// Values as KubeSphere's engine prints and parses them (Go fmt %v, strconv).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareText, goFloat, goPrint, toBool, toNumber } from '../../src/rules/values.ts';

test('numbers print as Go prints a float64 with %v', () => {
  const rows: [number, string][] = [
    [201, '201'],
    [0, '0'],
    [-2.5, '-2.5'],
    [0.5, '0.5'],
    [100000, '100000'],
    [123456.7, '123456.7'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e21, '1e+21'],
    [-1e100, '-1e+100'],
  ];
  for (const [n, s] of rows) assert.equal(goFloat(n), s, String(n));
});

test('arrays and maps print Go-style', () => {
  assert.equal(goPrint(['a', 'b']), '[a b]');
  assert.equal(goPrint([1, true, null, ['x']]), '[1 true <nil> [x]]');
  assert.equal(goPrint({ b: 1, a: 'x' }), 'map[a:x b:1]');
  assert.equal(goPrint([]), '[]');
});

test('numbers and booleans parse as strconv reads printed values', () => {
  assert.equal(toNumber('201', 'f'), 201);
  assert.equal(toNumber('-1.5e3', 'f'), -1500);
  assert.equal(toNumber('.5', 'f'), 0.5);
  assert.equal(toNumber('+Inf', 'f'), Number.POSITIVE_INFINITY);
  assert.throws(() => toNumber('12a', 'f'), /f is "12a", not a number/);
  assert.throws(() => toNumber(['1'], 'f'), /not a number/);
  assert.throws(() => toNumber(true, 'f'), /"true", not a number/);
  for (const t of ['1', 't', 'T', 'true', 'True', 'TRUE']) assert.equal(toBool(t, 'f'), true);
  for (const f of ['0', 'f', 'F', 'false', 'False', 'FALSE']) assert.equal(toBool(f, 'f'), false);
  assert.equal(toBool(1, 'f'), true);
  assert.throws(() => toBool('yes', 'f'), /"yes", not a boolean/);
});

test('text compares by UTF-8 bytes, as Go does', () => {
  assert.ok(compareText('a', 'b') < 0);
  assert.ok(compareText('ab', 'a') > 0);
  assert.equal(compareText('x', 'x'), 0);
  // UTF-8 puts U+FF61 (EF BD A1) before U+1F600 (F0 9F 98 80); UTF-16 units put U+1F600 (D83D …) first.
  assert.ok(compareText('\uff61', '\u{1f600}') < 0);
  assert.ok('\uff61' > '\u{1f600}');
});
