// Compiles src/ into dist/ for the npm package (`npm pack` runs this as prepack). Node does not strip types under
// node_modules, so the package ships JavaScript and .d.ts files, plus the files src/ reads at run time (the
// default rules YAML, …) beside them. The repository itself keeps running the TypeScript sources.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`build-package: tsc failed (exit ${r.status ?? r.signal})\n`);
  process.exit(1);
}
// Every file of src/ that is not TypeScript is an asset some module reads by its own URL.
cpSync(src, dist, {
  recursive: true,
  filter: (from) => statSync(from).isDirectory() || !from.endsWith('.ts'),
});
