// Reloading on change: new rules take over, a bad file keeps the last good rules and reports why.
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type RuleError, type RuleSet, watchRules } from '../../src/rules/index.ts';
import { tempDir } from '../helpers/temp.ts';

const rule = (cond: string) => `apiVersion: auditing.kubesphere.io/v1alpha1
kind: Rule
metadata: {name: w, labels: {type: archiving}}
spec:
  rules:
    - name: r
      type: rule
      enable: true
      condition: ${cond}
`;

/** Collects reloads; `next()` resolves with the next one (bounded wait). */
function reloads() {
  const queue: { rules: RuleSet; errors: RuleError[] }[] = [];
  let wake: (() => void) | undefined;
  return {
    push(r: { rules: RuleSet; errors: RuleError[] }) {
      queue.push(r);
      wake?.();
    },
    async next() {
      const deadline = Date.now() + 5000;
      while (queue.length === 0) {
        if (Date.now() > deadline) throw new Error('no reload within 5 s');
        await new Promise<void>((res) => {
          wake = res;
          setTimeout(res, 100).unref();
        });
      }
      return queue.shift()!;
    },
  };
}

for (const mode of ['folder', 'file'] as const) {
  test(`watching a ${mode}: reload on change, keep the last good rules on a bad file`, async () => {
    const dir = tempDir('vigil-watch-');
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, rule('Verb = "create"'));
    const seen = reloads();
    const w = await watchRules(mode === 'folder' ? dir : file, (r) => seen.push(r), { debounceMs: 20 });
    try {
      assert.equal(w.current.rules[0].item.condition, 'Verb = "create"');

      writeFileSync(file, rule('Verb = "delete"'));
      const good = await seen.next();
      assert.deepEqual(good.errors, []);
      assert.equal(good.rules.rules[0].item.condition, 'Verb = "delete"');
      assert.equal(w.current, good.rules);

      // an editor-style replace (write elsewhere, rename over) with a broken condition
      const tmp = join(dir, '.rules.tmp');
      writeFileSync(tmp, rule('Verb = "delete" AND Verb = "x"'));
      renameSync(tmp, file);
      let bad = await seen.next();
      while (bad.errors.length === 0) bad = await seen.next();
      assert.match(String(bad.errors[0]), /rules\.yaml:9:\d+: w\.r: condition: keywords are lower-case/);
      assert.equal(bad.rules, good.rules);
      assert.equal(w.current, good.rules);
    } finally {
      w.close();
    }
  });
}

test('the first load must succeed: there is nothing good to keep yet', async () => {
  const dir = tempDir('vigil-watch-');
  writeFileSync(join(dir, 'rules.yaml'), rule('Verb in ()'));
  await assert.rejects(
    watchRules(dir, () => {}),
    /needs at least one value/,
  );
});
