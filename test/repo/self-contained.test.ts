// The repository stands on its own: a fresh clone has nothing beside it, and this machine's folders are nobody
// else's. Every file of the repository (git's list; outside a git checkout, the tree without dependencies and build
// output) is read and each line checked for a reference to a path outside the repository. The patterns are assembled so that
// this file does not match itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT as ROOT, repoFiles } from '../helpers/repo.ts';

/** Third-party data copied unchanged: its own contents may name paths (a Falco rule lists host paths). */
const VERBATIM = ['test/fixtures/falco/', 'test/fixtures/kubesphere/', 'test/fixtures/octavia/'];

const UP = String.raw`\.\.[/\\]`;
/** The team's folder beside the repository (one or more `..` then `shared`). */
const SHARED_DIR = new RegExp(`(?:${UP})+${['sha', 'red'].join('')}\\b`);
/** Home and work folders of a machine: nothing in them exists on another one. */
const MACHINE_DIR = /(?<![\w.~-])(?:\/(?:work|root|home|Users)\/|\/private\/var\/folders\/|[A-Za-z]:\\Users\\)/;
/** A temp path as a URL is a file someone expects to find. */
const TMP_URL = /file:\/\/\/(?:tmp|var\/tmp)\//;
/** In code, a literal temp path is fine as a placeholder value; read, opened, imported or run, it is a leak. */
const TMP_LITERAL = /(['"`])\/(?:tmp|var\/tmp)\//;
const READS =
  /\b(?:readFile|readFileSync|readdir|readdirSync|createReadStream|openSync|existsSync|statSync|import|require|spawn|spawnSync|execFile|execFileSync|fork|load\w*File)\s*\(/;
/** Relative references whose target is computed from the file's own place. */
const RELATIVE_REFS = [
  /new URL\(\s*(['"`])(\.\.?\/[^'"`]*)\1\s*,\s*import\.meta\.url/g,
  /(?:\bfrom|\bimport\s*\(?)\s*(['"])(\.\.?\/[^'"]*)\1/g,
  /\]\((\s*)(\.\.\/[^)\s#]*)\)/g,
];

const CODE = /\.(?:[cm]?[jt]sx?|sh|bash)$/;

export interface Leak {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** The references to paths outside the repository in `text`, the contents of `file` (relative to the root). */
export function leaks(file: string, text: string): Leak[] {
  const out: Leak[] = [];
  const verbatim = VERBATIM.some((d) => file.startsWith(d));
  const code = CODE.test(file) || text.startsWith('#!');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const add = (rule: string) => out.push({ file, line: i + 1, rule, text: line.trim().slice(0, 160) });
    if (SHARED_DIR.test(line)) add('names the team folder beside the repository');
    if (!verbatim && MACHINE_DIR.test(line)) add("names a machine's home or work folder");
    if (TMP_URL.test(line) || (code && TMP_LITERAL.test(line) && READS.test(line))) add('reads a temp path');
    for (const re of RELATIVE_REFS) {
      for (const m of line.matchAll(re)) {
        const rel = m[2]!.split('${')[0]!;
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), rel));
        if (target.startsWith('..') || path.isAbsolute(target)) add(`"${m[2]}" resolves outside the repository`);
      }
    }
  }
  return out;
}

function isBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8000).includes(0);
}

describe('the rules', () => {
  const up = ['..', '..', '..', ['sha', 'red'].join('')].join('/');
  const work = ['', 'work', ''].join('/');
  const tmp = ['', 'tmp', ''].join('/');

  test('flag the team folder, machine folders, temp paths read as files and references climbing out', () => {
    const cases: [string, string, string][] = [
      ['test/a/b.test.ts', `const f = new URL('${up}/data/x.jsonl', import.meta.url);`, 'team folder'],
      ['docs/a.md', `Copy ${up.slice(3)}/data/x.yaml first.`, 'team folder'],
      ['bench/a.ts', `readFileSync('${work}shared/x')`, 'home or work folder'],
      ['README.md', `cd ${['', 'home', 'me', 'vigil'].join('/')}`, 'home or work folder'],
      ['test/a.test.ts', `const text = readFileSync('${tmp}events.jsonl', 'utf8');`, 'temp path'],
      ['docs/a.md', `see file://${tmp}notes.txt`, 'temp path'],
      ['test/a/b.test.ts', `const f = new URL(\`../../../data/\${name}\`, import.meta.url);`, 'resolves outside'],
      ['bench/a.ts', "import { x } from '../../elsewhere/x.ts';", 'resolves outside'],
      ['docs/a.md', 'see [the notes](../../notes.md)', 'resolves outside'],
    ];
    for (const [file, line, rule] of cases) {
      const found = leaks(file, line);
      assert.ok(
        found.some((l) => l.rule.includes(rule) && l.line === 1),
        `${file}: ${line}: ${JSON.stringify(found)}`,
      );
    }
  });

  test('leave alone placeholders, URLs, paths inside the repository and verbatim third-party data', () => {
    const cases: [string, string][] = [
      ['test/a.test.ts', `parseConfig(text, 'vigil.yaml', { data: '${tmp}x' });`],
      ['bench/RESULTS.md', `BENCH_DIR=${tmp}b1m node bench/store.bench.ts`],
      ['docs/a.md', `curl https://example.com${work}items and /api/v1/home/x`],
      ['test/a/b.test.ts', "const f = new URL('../../fixtures/x.json', import.meta.url);"],
      ['test/a/b.test.ts', "import { main } from '../../src/cli/main.ts';"],
      ['docs/a.md', 'see [rules](../README.md)'],
      ['test/fixtures/falco/rules.yaml', `hostpath intersects (/etc, ${['', 'home', 'admin'].join('/')})`],
      ['src/a.ts', "const dir = path.join(os.tmpdir(), 'vigil-');"],
      ['test/a.test.ts', `await assert.rejects(Spool.open({ dir: '${tmp}x', maxBytes: 0 }));`],
    ];
    for (const [file, line] of cases) assert.deepEqual(leaks(file, line), [], `${file}: ${line}`);
  });
});

test('no file of the repository refers to a path outside it', () => {
  const files = repoFiles();
  assert.ok(files.includes('package.json') && files.includes('test/repo/self-contained.test.ts'), 'file list');
  const found: string[] = [];
  for (const file of files) {
    const buf = readFileSync(path.join(ROOT, file));
    if (isBinary(buf)) continue;
    for (const l of leaks(file, buf.toString('utf8'))) found.push(`${l.file}:${l.line}: ${l.rule}: ${l.text}`);
  }
  assert.deepEqual(found, [], 'copy what a test needs under test/fixtures/ (with its source and licence)');
});
