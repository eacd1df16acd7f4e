// The npm package works where Vigil is installed rather than cloned: the repository is copied aside (so packing
// never rewrites this checkout's dist/ or web/dist under other tests), packed there with its prepack/prepare
// scripts, and the tarball installed into an empty folder with production dependencies only. From that folder
// the installed `vigil` serves the console, ingests, answers queries and runs its other commands, and the
// library's entry points load as JavaScript with their type declarations.
import assert from 'node:assert/strict';
import { type SpawnOptions, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, waitFor } from '../helpers/net.ts';
import { dropSchema, PG_URL, randomSchema } from '../helpers/postgres.ts';
import { REPO_ROOT, repoFiles } from '../helpers/repo.ts';
import { tempDir } from '../helpers/temp.ts';

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to its end, killing its whole process group when it outlives `timeoutMs`. */
function run(cmd: string, args: string[], opts: SpawnOptions & { input?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      reject(new Error(`${cmd} ${args.join(' ')}: still running after ${opts.timeoutMs} ms\n${out}\n${err}`));
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** npm's own script, run by this Node (24): `npm test` says where it is, else the `npm` on PATH. */
function npmCli(): string {
  if (process.env.npm_execpath?.endsWith('.js')) return process.env.npm_execpath;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'npm');
    if (dir && existsSync(p)) return realpathSync(p);
  }
  throw new Error('npm not found on PATH');
}

/**
 * The environment without what the surrounding `npm test` and the developer's shell set for this project: npm's
 * per-run variables (prefix, package, lifecycle) would point the nested npm back at the repository, and VIGIL_*
 * would configure the server under test. npm's cache, registry, proxy and TLS settings stay.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|registry|userconfig|https?_proxy|proxy|noproxy|cafile|ca|strict_ssl)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    if (/^VIGIL_/.test(k) || k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return env;
}

const MINUTE = 60_000;
const env = cleanEnv();
const npm = npmCli();
const work = tempDir('vigil-pack-');
const stage = path.join(work, 'repo');
const install = path.join(work, 'install');
const pkg = path.join(install, 'node_modules', 'vigil-audit');
const bin = path.join(install, 'node_modules', '.bin', 'vigil');
let tarball = '';

/** `vigil <args>` as installed, run from the install folder with this Node (24). */
const vigil = (args: string[], input?: string) =>
  run(process.execPath, [bin, ...args], { cwd: install, env, input, timeoutMs: MINUTE });

before(async () => {
  // The repository's files, as a clone has them, with the installed dependencies beside them.
  for (const f of repoFiles()) {
    mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, f), path.join(stage, f));
  }
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  mkdirSync(install);
  writeFileSync(path.join(install, 'package.json'), '{ "name": "vigil-install-check", "private": true }\n');

  let t = performance.now();
  const packed = await run(process.execPath, [npm, 'pack', '--pack-destination', work], {
    cwd: stage,
    env,
    timeoutMs: 5 * MINUTE,
  });
  assert.equal(packed.code, 0, `npm pack failed:\n${packed.out}\n${packed.err}`);
  const tgz = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  assert.equal(tgz.length, 1, `one tarball: ${tgz}`);
  tarball = path.join(work, tgz[0]!);
  const packMs = performance.now() - t;

  // Production dependencies only, from npm's cache where it has them (the repository's `npm ci` filled it).
  t = performance.now();
  const installed = await run(
    process.execPath,
    [npm, 'install', tarball, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', install],
    { cwd: install, env, timeoutMs: 5 * MINUTE },
  );
  assert.equal(installed.code, 0, `npm install failed:\n${installed.out}\n${installed.err}`);
  process.stderr.write(
    `# package: npm pack ${Math.round(packMs)} ms, npm install --omit=dev ${Math.round(performance.now() - t)} ms\n`,
  );
});

describe('the packed tarball', () => {
  test('holds compiled JavaScript, type declarations, the console, the CLI and the documents; no TypeScript sources', async () => {
    const listed = await run('tar', ['-tzf', tarball], { env, timeoutMs: MINUTE });
    assert.equal(listed.code, 0, listed.err);
    const files = listed.out.split('\n').filter(Boolean);
    for (const f of [
      'package/package.json',
      'package/bin/vigil.js',
      'package/dist/cli/main.js',
      'package/dist/store/sqlite/worker.js',
      'package/dist/store/fields.js',
      'package/dist/package.json',
      'package/dist/rules/default-rules.yaml',
      'package/web/dist/index.html',
      'package/LICENSE',
      'package/README.md',
      'package/SECURITY.md',
      'package/CHANGELOG.md',
      'package/docs/collector.md',
    ]) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.deepEqual(
      files.filter((f) => /\.[cm]?tsx?$/.test(f) && !f.endsWith('.d.ts')),
      [],
      'no TypeScript source is shipped (Node does not strip types under node_modules)',
    );
    assert.deepEqual(
      files.filter((f) => /^package\/(src|test|bench|web\/src|node_modules)\//.test(f)),
      [],
    );
  });

  test('installs no development dependency', () => {
    const modules = readdirSync(path.join(install, 'node_modules'));
    for (const dev of Object.keys(
      JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).devDependencies,
    )) {
      assert.ok(!modules.includes(dev.split('/')[0]!) || dev.startsWith('@types'), `${dev} is not installed`);
    }
  });
});

describe('the installed library', () => {
  test('every entry point of "exports" loads as JavaScript and has its declarations', async () => {
    const exportsMap = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')).exports as Record<
      string,
      { types: string; default: string }
    >;
    const expected: Record<string, string[]> = {
      '.': ['createAuditor', 'decodeEvents'],
      './event': ['decodeEvents'],
      './policy': ['loadPolicy', 'createPolicyEvaluator'],
      './sinks': ['createSink', 'parseSinkConfig'],
      './alerts': ['createAlertDispatcher'],
      './rules': ['buildRuleSet', 'loadRules'],
      './capture': ['createCapture', 'createAuditor'],
    };
    assert.deepEqual(Object.keys(exportsMap).sort(), Object.keys(expected).sort());
    for (const [entry, target] of Object.entries(exportsMap)) {
      assert.ok(existsSync(path.join(pkg, target.types)), `${entry}: ${target.types}`);
      const specifier = `vigil-audit${entry.slice(1)}`;
      const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
      const r = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: install,
        env,
        timeoutMs: MINUTE,
      });
      assert.equal(r.code, 0, `${specifier}: ${r.err}`);
      const names = JSON.parse(r.out) as string[];
      assert.ok(names.length > 0, `${specifier} exports something`);
      for (const name of expected[entry]!) assert.ok(names.includes(name), `${specifier} exports ${name}`);
    }
  });

  test('its own import #store/fields resolves, under Node, to the compiled field table in dist/', async () => {
    // `imports` are private to a package scope: only a module inside it can use the specifier. The root's map names
    // the TypeScript sources (not shipped); dist/'s package.json, the scope of the compiled modules, the compiled table.
    const probe = path.join(pkg, 'dist', 'imports-probe.js');
    writeFileSync(
      probe,
      `const m = await import('#store/fields');
console.log(JSON.stringify({ url: import.meta.resolve('#store/fields'), fields: m.FIELDS.map((f) => f.name) }));
`,
    );
    const r = await run(process.execPath, [probe], { cwd: install, env, timeoutMs: MINUTE });
    assert.equal(r.code, 0, r.err);
    const { url, fields } = JSON.parse(r.out) as { url: string; fields: string[] };
    assert.equal(realpathSync(new URL(url)), realpathSync(path.join(pkg, 'dist', 'store', 'fields.js')));
    assert.ok(fields.includes('user') && fields.includes('namespace'), `the table's fields: ${fields}`);
  });

  test('a TypeScript program type-checks against the declarations (and a wrong call does not)', async () => {
    writeFileSync(
      path.join(install, 'use.mts'),
      `import { createAuditor, decodeEvents } from 'vigil-audit';
import { createPolicyEvaluator, loadPolicy } from 'vigil-audit/policy';

const events = decodeEvents('{"kind":"Event","apiVersion":"audit.k8s.io/v1"}');
const first: string | undefined = events[0]?.auditID;
const evaluator = createPolicyEvaluator(loadPolicy('apiVersion: audit.k8s.io/v1\\nkind: Policy\\nrules:\\n- level: None\\n'));
export const used = [first, evaluator, createAuditor];
// @ts-expect-error: the declarations type the options (were they missing, this call would be accepted)
createAuditor({ policy: 42 });
`,
    );
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--target',
        'es2024',
        '--skipLibCheck',
        '--typeRoots',
        path.join(REPO_ROOT, 'node_modules', '@types'),
        '--types',
        'node',
        'use.mts',
      ],
      { cwd: install, env, timeoutMs: 2 * MINUTE },
    );
    assert.equal(r.code, 0, `${r.out}${r.err}`);
  });
});

describe('the installed vigil command', () => {
  const schema = randomSchema();
  let server: ReturnType<typeof spawn> | undefined;
  let url = '';
  let serverLog = '';
  const now = new Date().toISOString();
  const kubeEvent = (auditID: string, verb: string) => ({
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/configmaps${verb === 'create' ? '' : '/settings'}`,
    verb,
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.7'],
    objectRef: { resource: 'configmaps', namespace: 'default', name: 'settings', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
    requestReceivedTimestamp: now,
    stageTimestamp: now,
  });
  const eventList = {
    kind: 'EventList',
    apiVersion: 'audit.k8s.io/v1',
    items: [kubeEvent('pack-create-1', 'create'), kubeEvent('pack-get-1', 'get')],
  };

  const events = path.join(install, 'events.jsonl');
  const policy = path.join(install, 'policy.yaml');

  before(async () => {
    writeFileSync(
      events,
      `${eventList.items.map((e) => JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', ...e })).join('\n')}\n`,
    );
    writeFileSync(
      policy,
      'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verbs: [get]\n- level: Metadata\n',
    );
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [bin, 'serve', '--data', './d', '--listen', `127.0.0.1:${port}`], {
      cwd: install,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (d) => {
      serverLog += d;
    });
    server.stderr!.on('data', (d) => {
      serverLog += d;
    });
    await waitFor(
      `vigil serve on ${url}`,
      async () => {
        assert.equal(server!.exitCode, null, `vigil serve exited:\n${serverLog}`);
        return (await fetch(`${url}/readyz`)).ok;
      },
      30_000,
    );
  });

  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await dropSchema(schema);
  });

  test('--help lists the commands', async () => {
    const r = await vigil(['--help']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Usage:$/m);
    assert.match(r.out, /vigil serve /);
  });

  test('on Node 20 it names the version it needs and how to install it', async () => {
    const oldNode = path.join(REPO_ROOT, 'test', 'package', 'old-node.ts');
    const r = await run(process.execPath, ['--import', oldNode, bin, '--help'], {
      cwd: install,
      env,
      timeoutMs: MINUTE,
    });
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(
      r.err,
      /^vigil: needs Node\.js >= 24, this is v20\.11\.0 \(.*\)\.\nInstall Node\.js 24 or newer \(https:/,
    );
  });

  test('serve: "/" is the built console, and its script and stylesheet load', async () => {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<div id="app"><\/div>/);
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    assert.ok(
      assets.some((a) => a.endsWith('.js')),
      `a script in ${html}`,
    );
    for (const asset of assets) {
      const res = await fetch(url + asset);
      assert.equal(res.status, 200, asset);
      assert.match(res.headers.get('content-type') ?? '', asset.endsWith('.js') ? /javascript/ : /text\/css/);
      assert.ok((await res.arrayBuffer()).byteLength > 1000, `${asset} has content`);
    }
  });

  test('serve: an EventList is ingested, the default rules archive the change and drop the read', async () => {
    const res = await fetch(`${url}/audit/webhook/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(eventList),
    });
    const body = (await res.json()) as { accepted: number; inserted: number };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.accepted, 2);
    assert.equal(body.inserted, 1);
    const q = (await (await fetch(`${url}/api/v1/events?user_filter=alice`)).json()) as {
      total: number;
      items: { auditID: string; verb: string; objectRef: { name: string } }[];
    };
    assert.equal(q.total, 1);
    assert.deepEqual(
      q.items.map((e) => [e.auditID, e.verb, e.objectRef.name]),
      [['pack-create-1', 'create', 'settings']],
    );
  });

  test('query reads the event back over the API', async () => {
    const r = await vigil(['query', '--server', url, '--user', 'alice', '-o', 'jsonl']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).auditID),
      ['pack-create-1'],
    );
  });

  test('policy test, rules test, rules check and token hash', async () => {
    const p = await vigil(['policy', 'test', '--policy', policy, '--events', events, '-o', 'json']);
    assert.equal(p.code, 0, p.err);
    assert.deepEqual(
      p.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).level),
      ['Metadata', 'None'],
    );

    const r = await vigil(['rules', 'test', '--events', events, '-o', 'json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim().split('\n').length, 2, r.out);

    const c = await vigil(['rules', 'check', path.join(pkg, 'dist', 'rules', 'default-rules.yaml')]);
    assert.equal(c.code, 0, `${c.out}${c.err}`);

    const h = await vigil(['token', 'hash'], 'a-token\n');
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /^sha256:[0-9a-f]{64}\n$/);
  });

  test('import into a new SQLite store', async () => {
    const i = await vigil(['import', '--data', './imported', events]);
    assert.equal(i.code, 0, i.err);
    assert.ok(existsSync(path.join(install, 'imported', 'vigil.db')));
  });

  test('migrate and migrate-data into PostgreSQL', async () => {
    const m = await vigil(['migrate', '--storage-url', PG_URL, '--schema', schema]);
    assert.equal(m.code, 0, `${m.out}${m.err}`);
    const d = await vigil(['migrate-data', '--from', 'sqlite:./imported/vigil.db', '--to', PG_URL, '--schema', schema]);
    assert.equal(d.code, 0, `${d.out}${d.err}`);
  });

  test('serve stops on SIGTERM; verify, export and backtest read what it stored', async () => {
    const exited = new Promise<number | null>((r) => server!.once('exit', (code) => r(code)));
    server!.kill('SIGTERM');
    assert.equal(await exited, 0, serverLog);
    const v = await vigil(['verify', '--data', './d']);
    assert.equal(v.code, 0, `${v.out}${v.err}`);
    const e = await vigil(['export', '--data', './d', '--out', 'export.jsonl']);
    assert.equal(e.code, 0, e.err);
    assert.ok(readFileSync(path.join(install, 'export.jsonl'), 'utf8').includes('pack-create-1'));
    const b = await vigil(['rules', 'backtest', '--rules', path.join(pkg, 'dist', 'rules'), '--data', './d']);
    assert.equal(b.code, 0, `${b.out}${b.err}`);
  });

  test('console build has nothing to do: the console came built', async () => {
    const r = await vigil(['console', 'build']);
    assert.equal(r.code, 0, `${r.out}${r.err}`);
  });
});
