// The repository as files: its root and the files that make it up (what a clone holds), for the tests that check
// or copy the repository as a whole.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = realpathSync(fileURLToPath(new URL('../../', import.meta.url)));

/** Never part of the source: dependencies, build output, data a run leaves behind. */
const NOT_SOURCE = new Set(['node_modules', '.git', 'dist', 'data', 'test-results', '.vigil-tmp']);

function walk(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    if (NOT_SOURCE.has(entry.name)) continue;
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) walk(rel, out);
    else if (entry.isFile() && !entry.name.endsWith('.tgz')) out.push(rel);
  }
  return out;
}

/**
 * The repository's files, relative to its root with `/` separators: in a git checkout of this repository, git's
 * list (tracked, plus new files not ignored); elsewhere (an unpacked archive) the tree without dependencies and
 * build output.
 */
export function repoFiles(): string[] {
  let top = '';
  try {
    top = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: 'pipe' });
  } catch {}
  if (!top || realpathSync(top.trim()) !== REPO_ROOT) return walk('', []);
  const list = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  // A tracked file deleted in the work tree is still listed; it is not part of what a test can read.
  return list
    .split('\0')
    .filter((f) => f && existsSync(path.join(REPO_ROOT, f)) && statSync(path.join(REPO_ROOT, f)).isFile());
}
