// bin/vigil.js in the repository: it runs the TypeScript sources, and on a Node older than 24 it says which
// version it needs and how to get it here (npm's pinned Node), in one message and exit 2, never a stack trace.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const bin = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const oldNode = fileURLToPath(new URL('./old-node.ts', import.meta.url));

test('on Node 20 it names the version it needs and points at npm with the pinned Node', async () => {
  const r = await promisify(execFile)(process.execPath, ['--import', oldNode, bin, '--help']).then(
    () => assert.fail('expected exit 2'),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^vigil: needs Node\.js >= 24, this is v20\.11\.0 \(/);
  assert.match(lines[1]!, /In the repository, run it through npm \(`npm ci`, then `npm start` or `npx vigil …`\)/);
});

test('on Node 24 it runs the command from the sources', async () => {
  const r = await promisify(execFile)(process.execPath, [bin, '--help']);
  assert.match(r.stdout, /^Vigil: an API audit trail\./);
});
