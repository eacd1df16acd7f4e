// The house stays in shape (issue #19): no circle among the files of src/, at most one import running back up the
// floors (FLOORS in structure.ts, also in README's layout section), no source file over 700 lines, no function
// over 120. Each failure lists exactly what is wrong.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLOORS, MAX_FILE_LINES, MAX_FUNCTION_LINES, measure } from './structure.ts';

const report = measure();

// TODO(lead): remove after merging branch house-store, which rebuilds these files (store/**, integrity/**, the field
// table): until then their circle, their imports back up and their long files are reported as `todo`, so that this
// branch stays green. Everything else is held to the rules now.
const HOUSE_STORE_PENDING = true;
const houseStore = (file: string) =>
  /^src\/(store|integrity)\//.test(file) || /^src\/query\/(matches|params)\.ts$/.test(file);
const pending = HOUSE_STORE_PENDING ? 'house-store rebuilds these files (remove after merging it)' : undefined;

function listed(items: string[]): string {
  return items.length ? `\n  ${items.join('\n  ')}` : '';
}

test('every folder of src/ stands on a floor', () => {
  assert.deepEqual(report.unplaced, [], `folders missing from FLOORS (${FLOORS.join(' > ')})`);
});

test('no circle among the files of src/, outside the files house-store rebuilds', () => {
  const own = report.circles.filter((c) => !c.some(houseStore));
  assert.equal(own.length, 0, `circles:${listed(own.map((c) => c.join(' -> ')))}`);
});

test('no circle among the files of src/', { todo: pending }, () => {
  assert.equal(report.circles.length, 0, `circles:${listed(report.circles.map((c) => c.join(' -> ')))}`);
});

test('at most one import runs back up the floors, outside the files house-store rebuilds', () => {
  const own = report.backUp.filter((i) => !houseStore(i.from));
  assert.ok(own.length <= 1, `imports running back up:${listed(own.map((i) => `${i.from} -> ${i.to}`))}`);
});

test('at most one import runs back up the floors', { todo: pending }, () => {
  const all = report.backUp.map((i) => `${i.from} -> ${i.to}`);
  assert.ok(all.length <= 1, `imports running back up:${listed(all)}`);
});

test(`no source file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}, outside house-store's`, () => {
  const files = report.longFiles.filter((f) => !houseStore(f.file)).map((f) => `${f.file}: ${f.lines} lines`);
  const fns = report.longFunctions
    .filter((f) => !houseStore(f.file))
    .map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines`);
  assert.deepEqual([...files, ...fns], [], `too long:${listed([...files, ...fns])}`);
});

test(`no source file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}`, { todo: pending }, () => {
  const all = [
    ...report.longFiles.map((f) => `${f.file}: ${f.lines} lines`),
    ...report.longFunctions.map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines`),
  ];
  assert.deepEqual(all, [], `too long:${listed(all)}`);
});
