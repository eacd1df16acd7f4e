// The house stays in shape (issue #19): no circle among the files of src/, at most one import running back up the
// floors (FLOORS in structure.ts, also in README's layout section), no source file over 700 lines, no function
// over 120; integrity/ holds no storage, and the field table stays importable by the console. Each failure lists
// exactly what is wrong.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FLOORS, MAX_FILE_LINES, MAX_FUNCTION_LINES, measure } from './structure.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const report = measure();

function listed(items: string[]): string {
  return items.length ? `\n  ${items.join('\n  ')}` : '';
}

test('every folder of src/ stands on a floor', () => {
  assert.deepEqual(report.unplaced, [], `folders missing from FLOORS (${FLOORS.join(' > ')})`);
});

test('no circle among the files of src/', () => {
  assert.equal(report.circles.length, 0, `circles:${listed(report.circles.map((c) => c.join(' -> ')))}`);
});

test('at most one import runs back up the floors', () => {
  const all = report.backUp.map((i) => `${i.from} -> ${i.to}`);
  assert.ok(all.length <= 1, `imports running back up:${listed(all)}`);
});

test(`no source file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}`, () => {
  const all = [
    ...report.longFiles.map((f) => `${f.file}: ${f.lines} lines`),
    ...report.longFunctions.map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines`),
  ];
  assert.deepEqual(all, [], `too long:${listed(all)}`);
});

test('integrity/ holds no storage: no store, no SQL driver, no CLI; its collector part reads only the config', () => {
  // Each store keeps the chain and checkpoints in its own tables and hands them to integrity through TrailReader and
  // CheckpointTarget; `vigil verify` and `vigil export`, which put the two together, are the CLI's (src/cli/).
  const bad: string[] = [];
  for (const [from, imports] of report.imports) {
    if (!from.startsWith('src/integrity/')) continue;
    for (const to of imports)
      if (
        !(
          to.startsWith('src/integrity/') ||
          ['node:crypto', 'node:fs', 'node:fs/promises', 'node:path'].includes(to) ||
          to.startsWith('src/files/') ||
          (from === 'src/integrity/serve.ts' && to === 'src/config/index.ts')
        )
      )
        bad.push(`${from} -> ${to}`);
  }
  assert.deepEqual(bad, [], `integrity/ imports:${listed(bad)}`);
});

test('the field table imports only the event model, and the console reaches it as #store/fields', () => {
  // The console's bundle imports the table: nothing of Node (no node:, no package) may come with it.
  assert.deepEqual(report.imports.get('src/store/fields.ts'), ['src/event/model.ts']);
  assert.deepEqual(report.imports.get('src/event/model.ts'), []);
  assert.match(readFileSync(path.join(ROOT, 'web/src/query.ts'), 'utf8'), /from '#store\/fields'/);
  // package.json's subpath import, so that web/ builds wherever the repository is (the installed package maps it
  // onto the compiled table in dist/'s own package.json, scripts/build-package.ts; test/package/pack.test.ts)
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { imports: Record<string, string> };
  assert.equal(pkg.imports['#store/fields'], './src/store/fields.ts');
  // and a change to either file rebuilds the console (src/server/console.ts lists both among its sources)
  assert.match(
    readFileSync(path.join(ROOT, 'src/server/console.ts'), 'utf8'),
    /'store', 'fields\.ts'.*'event', 'model\.ts'/,
  );
});
