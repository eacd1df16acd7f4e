// Temporary directories that are removed when the test file's tests are done, whatever happened in them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const made: string[] = [];
// Registered when the test file imports this module, so it belongs to the file, not to whichever test runs first.
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A new directory under the system temp dir, named `<prefix>XXXXXX`, removed after the file's tests. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
