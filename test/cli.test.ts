import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vigil } from './helpers/cli.ts';

test('help lists the commands and exits 0', async () => {
  const r = await vigil(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage:/);
});

test('an unknown command exits 2 with the help on stderr', async () => {
  const r = await vigil(['no-such-command']);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown command "no-such-command"/);
});
