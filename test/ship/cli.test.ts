// `vigil ship` refuses bad flags, files and state with one line naming the problem (exit 2), before it starts.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { vigil } from '../helpers/cli.ts';
import { tempDir } from '../helpers/temp.ts';

test('bad flags, files and state: one line, exit 2', async () => {
  const dir = tempDir('vigil-ship-cli-');
  const token = path.join(dir, 'token');
  writeFileSync(token, 'a token\n');
  const badState = path.join(dir, 'bad-state');
  mkdirSync(badState);
  writeFileSync(path.join(badState, 'ship-state.json'), '{"version":1,"paths":');
  const base = ['--file', path.join(dir, 'audit.log'), '--to', 'http://127.0.0.1:9/audit/webhook/event'];
  const cases: [string[], RegExp][] = [
    [['--to', 'http://127.0.0.1:9/'], /--file PATH is required/],
    [['--file', 'a.log'], /--to URL is required/],
    [['--file', 'a.log', '--to', 'nope'], /--to: "nope" is not a URL/],
    [[...base, '--token-file', path.join(dir, 'missing')], /--token-file .*missing: cannot read: ENOENT/],
    [[...base, '--token-file', token], /a token cannot contain whitespace/],
    [[...base, '--client-cert', token], /--client-cert and --client-key go together/],
    [[...base, '--batch-size', '0'], /--batch-size: expected an integer 1\.\.10000, not "0"/],
    [[...base, '--poll-interval', 'soon'], /--poll-interval: expected a duration/],
    [[...base, '--cluster', ''], /--cluster: empty name/],
    [[...base, '--metrics-listen', 'nowhere'], /--metrics-listen: listen: expected host:port/],
    [[...base, '--state', badState], /ship-state\.json: not JSON .*move it away/],
  ];
  for (const [args, message] of cases) {
    const r = await vigil(['ship', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});
