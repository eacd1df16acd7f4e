// The shape of storage and tamper evidence (issue 19), checked from the source's own imports: no import circle in
// src/, store/ reaching down only (to the event model and integrity's pure logic), integrity/ knowing no store, the
// field table importable by the console, and files and functions kept small. (integrity/cli.ts, the verify and
// export commands, is the CLI's: it composes store and integrity, and belongs with src/cli/.)
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAX_FILE_LINES = 700;
const MAX_FUNCTION_LINES = 120;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.tsx?$/.test(name)) out.push(rel);
  }
  return out;
}

/** Each source file's imports (and re-exports) of other files of the tree, as paths from the root. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const spec = /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const f of files) {
    const deps: string[] = [];
    for (const m of readFileSync(path.join(ROOT, f), 'utf8').matchAll(spec)) {
      const s = m[1] ?? m[2]!;
      if (s.startsWith('.')) deps.push(path.posix.normalize(path.posix.join(path.posix.dirname(f), s)));
      else deps.push(s);
    }
    graph.set(f, deps);
  }
  return graph;
}

const files = sources('src');
const graph = importGraph(files);

test('no two source files of src/ import each other, directly or around a circle', () => {
  // Tarjan's strongly connected components over the file graph
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) circles.push(scc);
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  assert.deepEqual(circles, []);
});

/** The imports of files under `dir` (but `except`) that leave it for another folder of src/, or for a package. */
function leaving(dir: string, except: string[] = []): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const [from, deps] of graph)
    if (from.startsWith(dir) && !except.includes(from))
      for (const to of deps) if (!to.startsWith(dir)) out.push({ from, to });
  return out;
}

test('store/ imports downward only: the event model, integrity’s pure chain and checkpoint logic, node and its drivers', () => {
  const bad = leaving('src/store/').filter(
    ({ to }) =>
      !(
        to.startsWith('node:') ||
        to === 'pg' ||
        to.startsWith('src/event/') ||
        (to.startsWith('src/integrity/') && !['src/integrity/cli.ts', 'src/integrity/serve.ts'].includes(to))
      ),
  );
  assert.deepEqual(bad, []);
});

test('integrity/ holds no storage: no store, no SQL driver; the collector part reads only the config', () => {
  const bad = leaving('src/integrity/', ['src/integrity/cli.ts']).filter(
    ({ from, to }) =>
      !(
        ['node:crypto', 'node:fs', 'node:path'].includes(to) ||
        (from === 'src/integrity/serve.ts' && to === 'src/config/index.ts')
      ),
  );
  assert.deepEqual(bad, []);
});

test('the field table imports only the event model, so that the console bundle can import it', () => {
  assert.deepEqual(graph.get('src/store/fields.ts'), ['src/event/model.ts']);
  assert.deepEqual(
    graph.get('src/event/model.ts')?.filter((d) => !d.startsWith('.')),
    [],
  );
  // the console reaches it by package.json's subpath import, wherever web/ is built from
  assert.match(readFileSync(path.join(ROOT, 'web/src/query.ts'), 'utf8'), /from '#store\/fields'/);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { imports: Record<string, string> };
  assert.equal(pkg.imports['#store/fields'], './src/store/fields.ts');
  // and a change to either file rebuilds the console (src/server/console.ts lists both among its sources)
  assert.match(
    readFileSync(path.join(ROOT, 'src/server/console.ts'), 'utf8'),
    /'store', 'fields\.ts'.*'event', 'model\.ts'/,
  );
});

test(`store/ and integrity/: no file over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}`, () => {
  const long: string[] = [];
  for (const f of files.filter((x) => x.startsWith('src/store/') || x.startsWith('src/integrity/'))) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
    const lines = sf.getLineAndCharacterOfPosition(text.length).line + (text.endsWith('\n') ? 0 : 1);
    if (lines > MAX_FILE_LINES) long.push(`${f}: ${lines} lines`);
    const visit = (n: ts.Node) => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const from = sf.getLineAndCharacterOfPosition(n.getStart()).line;
        const to = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        if (to - from + 1 > MAX_FUNCTION_LINES)
          long.push(
            `${f}:${from + 1}: ${(n as ts.FunctionDeclaration).name?.getText() ?? 'a function'}, ${to - from + 1} lines`,
          );
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  assert.deepEqual(long, []);
});
