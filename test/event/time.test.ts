import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseTimeMs, toMicroTime } from '../../src/event/index.ts';
import { toCadfTime, toOsloTime, toRfc3339Nano } from '../../src/event/time.ts';

test('toMicroTime normalises every producer form to UTC with six fraction digits', () => {
  const cases: [string | number | Date, string][] = [
    ['2018-10-25T13:58:49.730588Z', '2018-10-25T13:58:49.730588Z'], // already MicroTime: unchanged
    ['2017-06-15T23:07:40Z', '2017-06-15T23:07:40.000000Z'],
    ['2017-03-21T03:57:09.106841886-04:00', '2017-03-21T07:57:09.106841Z'], // nanoseconds truncated, offset applied
    ['2023-12-04T17:09:28.710118072Z', '2023-12-04T17:09:28.710118Z'],
    ['2018-10-11T22:42:22.720112+0000', '2018-10-11T22:42:22.720112Z'], // pycadf
    ['2018-10-11 22:42:22.721025', '2018-10-11T22:42:22.721025Z'], // oslo naive UTC
    ['2018-10-11 22:42:22', '2018-10-11T22:42:22.000000Z'], // oslo drops a zero fraction
    ['2020-02-29T23:30:00.5+05:30', '2020-02-29T18:00:00.500000Z'],
    ['2020-12-31T23:59:59.9-01:00', '2021-01-01T00:59:59.900000Z'],
    ['2019-01-01t00:00:00z', '2019-01-01T00:00:00.000000Z'],
    ['0050-03-01T00:00:00Z', '0050-03-01T00:00:00.000000Z'], // not 1950
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000000Z'], // Go's zero time
    [Date.UTC(2021, 0, 2, 3, 4, 5, 678), '2021-01-02T03:04:05.678000Z'],
    [new Date(Date.UTC(1999, 11, 31)), '1999-12-31T00:00:00.000000Z'],
  ];
  for (const [input, want] of cases) assert.equal(toMicroTime(input), want, String(input));
});

test('toMicroTime rejects what is not a time, saying so', () => {
  for (const bad of [
    '',
    'yesterday',
    '2019-02-29T00:00:00Z',
    '2019-13-01T00:00:00Z',
    '2019-01-01T24:00:00Z',
    '2019-01-01T00:00:60Z',
    '2019-01-01T00:00:00.Z',
    '2019-01-01T00:00:00+5',
    '2019-01-01T00:00:00Zjunk',
    '2019-01-31T00:00:00.000000Y',
  ]) {
    assert.throws(() => toMicroTime(bad), /is not a timestamp/, bad);
  }
  assert.throws(() => toMicroTime(Number.NaN), /not a valid time/);
  assert.throws(() => toMicroTime(new Date('nope')), /not a valid time/);
  // Looks like MicroTime but 30 February does not exist.
  assert.throws(() => toMicroTime('2021-02-30T00:00:00.000000Z'), /is not a timestamp/);
});

test('parseTimeMs gives epoch milliseconds and throws instead of NaN', () => {
  assert.equal(parseTimeMs('1970-01-01T00:00:01.999999Z'), 1999);
  assert.equal(parseTimeMs('2017-03-21T03:57:09.106841886-04:00'), Date.UTC(2017, 2, 21, 7, 57, 9, 106));
  assert.throws(() => parseTimeMs('not a time'), /"not a time" is not a timestamp/);
});

test('output forms: pycadf +0000, oslo naive, Go RFC3339Nano', () => {
  assert.equal(toCadfTime('2018-10-11T22:42:22.720112Z'), '2018-10-11T22:42:22.720112+0000');
  assert.equal(toOsloTime('2018-10-11T22:42:22.721025Z'), '2018-10-11 22:42:22.721025');
  assert.equal(toOsloTime('2018-10-11T22:42:22.000000Z'), '2018-10-11 22:42:22');
  assert.equal(toRfc3339Nano('2017-06-15T21:50:50.259470Z'), '2017-06-15T21:50:50.25947Z');
  assert.equal(toRfc3339Nano('2017-06-15T21:50:50.000000Z'), '2017-06-15T21:50:50Z');
});

test('property: MicroTime of any instant parses back to the same instant, in every output form', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253402300799 }), fc.integer({ min: 0, max: 999999 }), (sec, micro) => {
      const m = `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(micro).padStart(6, '0')}Z`;
      assert.equal(toMicroTime(m), m);
      assert.equal(toMicroTime(toCadfTime(m)), m);
      assert.equal(toMicroTime(toOsloTime(m)), m);
      assert.equal(toMicroTime(toRfc3339Nano(m)), m);
      assert.equal(parseTimeMs(m), sec * 1000 + Math.floor(micro / 1000));
    }),
    { numRuns: 500 },
  );
});
