// The house's shape, measured from the code: which folder of src/ imports which, on which floor each stands, the
// circles among files, files over 700 lines and functions over 120 (a function's own lines: those of the functions
// written inside it count as theirs). `node test/house/structure.ts` prints the report;
// structure.test.ts holds the house to it.
//
// The floors, from the top: a folder may import only folders on lower floors (or itself). The event's path runs
// capture → policy → sink → (network) → ingest → rules → store/alerts → forward → query → server/console → cli; the
// collector's side is read from the top (the CLI assembles the server, the server assembles ingest, forwarding and
// query, which use the rules, alerts and store), the producer's side from capture down to its sinks, and event, metrics, config and auth are the
// ground every stage stands on.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const FLOORS: readonly string[] = [
  'cli',
  'index.ts',
  'server',
  'query',
  'forward',
  'ingest',
  'rules',
  'alerts',
  'store',
  'integrity',
  'capture',
  'ship',
  'policy',
  'sinks',
  'auth',
  'config',
  'metrics',
  'event',
  'files',
];

export const MAX_FILE_LINES = 700;
export const MAX_FUNCTION_LINES = 120;

const ROOT = path.join(import.meta.dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

export interface Import {
  from: string;
  to: string;
}

export interface Report {
  files: string[];
  /** Folder-level imports running back up: from a lower floor to a higher one. */
  backUp: Import[];
  /** Sets of files that import each other in a loop. */
  circles: string[][];
  longFiles: { file: string; lines: number }[];
  longFunctions: { file: string; name: string; line: number; lines: number }[];
  /** What each file imports: files of the tree as paths from the root (`src/event/model.ts`), packages by name. */
  imports: Map<string, string[]>;
  /** Folders of src/ that FLOORS does not place. */
  unplaced: string[];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** `src/ingest/http.ts` → `ingest`; `src/index.ts` → `index.ts`. */
export function roomOf(file: string): string {
  return path.relative(SRC, path.join(ROOT, file)).split(path.sep)[0]!;
}

function rel(full: string): string {
  return path.relative(ROOT, full).split(path.sep).join('/');
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.FunctionLikeDeclaration;
  if (named.name) return named.name.getText(sf);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(sf);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  return '(anonymous)';
}

function analyse(file: string, text: string, report: Report, edges: Map<string, Set<string>>): void {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_FILE_LINES) report.longFiles.push({ file, lines });
  const targets = new Set<string>();
  const imports = new Set<string>();
  const addImport = (spec: string) => {
    if (!spec.startsWith('.')) {
      imports.add(spec);
      return;
    }
    const target = rel(path.resolve(path.dirname(path.join(ROOT, file)), spec));
    targets.add(target);
    imports.add(target);
  };
  // A function's own lines: those of the functions written inside it (the methods of an object it returns, its
  // callbacks) are measured as functions of their own, as a class's methods are.
  const nestedLines = (fn: ts.Node): number => {
    let n = 0;
    const inner = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
        const lines = lineOf(node.getEnd()) - lineOf(node.getStart(sf)) + 1;
        if (lines > 1) n += lines;
        return;
      }
      ts.forEachChild(node, inner);
    };
    ts.forEachChild(fn, inner);
    return n;
  };
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier)
      addImport((node.moduleSpecifier as ts.StringLiteral).text);
    else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    )
      addImport(node.arguments[0].text);
    if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
      const start = lineOf(node.getStart(sf));
      const n = lineOf(node.getEnd()) - start + 1 - nestedLines(node);
      if (n > MAX_FUNCTION_LINES)
        report.longFunctions.push({ file, name: functionName(node, sf), line: start, lines: n });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  edges.set(file, targets);
  report.imports.set(file, [...imports]);
}

/** Strongly connected components of more than one file (Tarjan). */
function circles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
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
      if (scc.length > 1 || edges.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) strong(v);
  return out;
}

export function measure(): Report {
  const report: Report = {
    files: [],
    backUp: [],
    circles: [],
    longFiles: [],
    longFunctions: [],
    imports: new Map(),
    unplaced: [],
  };
  const edges = new Map<string, Set<string>>();
  for (const full of sourceFiles(SRC).sort()) {
    const file = rel(full);
    report.files.push(file);
    analyse(file, readFileSync(full, 'utf8'), report, edges);
  }
  const floor = (room: string) => FLOORS.length - FLOORS.indexOf(room);
  for (const [from, targets] of edges) {
    for (const to of targets) {
      const a = roomOf(from);
      const b = roomOf(to);
      if (a === b) continue;
      if (!FLOORS.includes(a) || !FLOORS.includes(b)) continue;
      if (floor(b) > floor(a)) report.backUp.push({ from, to });
    }
  }
  report.unplaced = [...new Set(report.files.map(roomOf))].filter((r) => !FLOORS.includes(r));
  report.circles = circles(edges);
  return report;
}

if (import.meta.main) {
  const r = measure();
  console.log(`${r.files.length} source files under src/; floors from the top: ${FLOORS.join(' > ')}`);
  console.log(`imports running back up (${r.backUp.length}):`);
  for (const i of r.backUp) console.log(`  ${i.from} -> ${i.to}`);
  console.log(`circles (${r.circles.length}):`);
  for (const c of r.circles) console.log(`  ${c.join(' -> ')}`);
  console.log(`files over ${MAX_FILE_LINES} lines (${r.longFiles.length}):`);
  for (const f of r.longFiles) console.log(`  ${f.file}: ${f.lines}`);
  console.log(`functions over ${MAX_FUNCTION_LINES} lines (${r.longFunctions.length}):`);
  for (const f of r.longFunctions) console.log(`  ${f.file}:${f.line} ${f.name}: ${f.lines}`);
  if (r.unplaced.length) console.log(`folders on no floor: ${r.unplaced.join(', ')}`);
}
