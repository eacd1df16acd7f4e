import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { main } from '../src/cli/main.ts';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
  });
  stderr.on('data', (d) => {
    err += d;
  });
  return { io: { stdin: new PassThrough(), stdout, stderr }, out: () => out, err: () => err };
}

test('help lists the commands and exits 0', async () => {
  const t = io();
  assert.equal(await main(['--help'], t.io), 0);
  assert.match(t.out(), /Usage:/);
});

test('an unknown command exits 2 with the help on stderr', async () => {
  const t = io();
  assert.equal(await main(['no-such-command'], t.io), 2);
  assert.match(t.err(), /unknown command "no-such-command"/);
});
