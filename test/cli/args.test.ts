// Every command parses its options the same way: a bad one is one line naming it, then the command's usage, exit 2,
// never Node's parse error with its stack.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands } from '../../src/cli/commands.ts';
import { parseListen } from '../../src/server/index.ts';
import { vigil } from '../helpers/cli.ts';
import { freePort } from '../helpers/net.ts';

function assertUsageError(r: { code: number; err: string }, name: string, line: RegExp): void {
  assert.equal(r.code, 2, `${name}: ${r.err}`);
  const [first, ...rest] = r.err.split('\n');
  assert.match(first!, line, name);
  assert.match(rest.join('\n'), /Usage: vigil /, name);
  assert.doesNotMatch(r.err, /ERR_PARSE_ARGS|\n\s+at /, name);
}

test('every command: an unknown option is one line naming it, then the usage, exit 2', async () => {
  assert.ok(commands.length >= 14);
  for (const c of commands) {
    const name = c.name.join(' ');
    const r = await vigil([...c.name, '--no-such-option']);
    assertUsageError(r, name, new RegExp(`^vigil ${name}: unknown option --no-such-option$`));
  }
});

test('every command: an option without its value is one line naming it, then the usage, exit 2', async () => {
  let checked = 0;
  for (const c of commands) {
    const name = c.name.join(' ');
    for (const [option, spec] of Object.entries(c.options)) {
      if (spec.type !== 'string') continue;
      const r = await vigil([...c.name, `--${option}`]);
      assertUsageError(r, `${name} --${option}`, new RegExp(`^vigil ${name}: option --${option} needs a value$`));
      checked++;
    }
  }
  assert.ok(checked > 30, `${checked} options checked`);
});

test('the examples of the issue: vigil serve --port 1, vigil query --namespace, a stray argument', async () => {
  assertUsageError(await vigil(['serve', '--port', '1']), 'serve', /^vigil serve: unknown option --port$/);
  assertUsageError(await vigil(['query', '--namespace']), 'query', /^vigil query: option --namespace needs a value$/);
  assertUsageError(await vigil(['query', '-n']), 'query', /^vigil query: option --namespace needs a value$/);
  assertUsageError(await vigil(['serve', 'now']), 'serve', /^vigil serve: unexpected argument "now"$/);
  assertUsageError(await vigil(['query', '--all=yes']), 'query', /^vigil query: option --all takes no value$/);
});

test('--listen takes host:port, :port or a bare port (on loopback)', () => {
  assert.deepEqual(parseListen('9000'), { host: '127.0.0.1', port: 9000 });
  assert.deepEqual(parseListen('0.0.0.0:9000'), { host: '0.0.0.0', port: 9000 });
  assert.deepEqual(parseListen(':9000'), { host: '0.0.0.0', port: 9000 });
  assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  assert.throws(() => parseListen('99999'), /listen: expected host:port/);
});

test('the CLI clients read VIGIL_URL', async () => {
  const saved = process.env.VIGIL_URL;
  const port = await freePort();
  process.env.VIGIL_URL = `http://127.0.0.1:${port}`;
  try {
    for (const command of ['query', 'tail']) {
      const r = await vigil([command]);
      assert.equal(r.code, 1);
      assert.match(r.err, new RegExp(`cannot reach the server at http://127\\.0\\.0\\.1:${port}: `));
    }
  } finally {
    if (saved === undefined) delete process.env.VIGIL_URL;
    else process.env.VIGIL_URL = saved;
  }
});

test('vigil serve reads VIGIL_LISTEN (a bad one is named, exit 2)', async () => {
  const saved = process.env.VIGIL_LISTEN;
  process.env.VIGIL_LISTEN = 'nowhere';
  try {
    const r = await vigil(['serve']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^vigil serve: listen: expected host:port, :port or a port, got "nowhere"$/m);
  } finally {
    if (saved === undefined) delete process.env.VIGIL_LISTEN;
    else process.env.VIGIL_LISTEN = saved;
  }
});

test('an unexpected failure (an unreachable database) is one line too, exit 1, no stack', async () => {
  const r = await vigil([
    'rules',
    'backtest',
    '--rules',
    'src/rules/default-rules.yaml',
    '--storage-url',
    'postgres://nobody@127.0.0.1:1/none',
  ]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /^vigil rules backtest: .+\n$/);
  assert.doesNotMatch(r.err, /\n\s+at /);
});
