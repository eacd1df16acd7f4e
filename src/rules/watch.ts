// Reloading rules when their files change, without a restart. A file that does not load leaves the last good
// rules in force; the errors are handed to the caller to report.

import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { buildRuleSet, RuleError, RuleLoadError, type RuleSet, readRuleSources } from './load.ts';

export interface RuleReload {
  /** The rules now in force: the new ones, or the last good ones when `errors` is not empty. */
  rules: RuleSet;
  errors: RuleError[];
}

export interface RuleWatcher {
  /** The rules now in force. */
  readonly current: RuleSet;
  close(): void;
}

/**
 * Loads `path` (a rule file or folder) now, then watches it; after a change settles (`debounceMs`), reloads and
 * calls `onChange`. Rejects when the first load fails — there is nothing good to keep yet.
 */
export async function watchRules(
  path: string,
  onChange: (reload: RuleReload) => void,
  opts: { debounceMs?: number } = {},
): Promise<RuleWatcher> {
  const debounceMs = opts.debounceMs ?? 100;
  let current = buildRuleSet(await readRuleSources(path));
  const isDir = statSync(path).isDirectory();
  // Editors replace files by rename: watch the folder, and for a single file filter by its name.
  const dir = isDir ? path : dirname(path);
  const name = isDir ? undefined : basename(path);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running = Promise.resolve();

  const reload = async () => {
    let errors: RuleError[] = [];
    try {
      current = buildRuleSet(await readRuleSources(path));
    } catch (err) {
      if (err instanceof RuleLoadError) errors = err.errors;
      else errors = [new RuleError({ file: path, message: (err as Error).message })];
    }
    if (!closed) onChange({ rules: current, errors });
  };

  const watcher: FSWatcher = watch(dir, (_event, file) => {
    if (closed) return;
    if (name !== undefined && file !== null && file !== name) return;
    if (isDir && file !== null && !/\.ya?ml$/.test(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      // One reload at a time, in order.
      running = running.then(reload);
    }, debounceMs);
  });

  return {
    get current() {
      return current;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
