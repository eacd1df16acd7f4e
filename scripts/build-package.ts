// Compiles src/ into dist/ for the npm package (`npm pack` runs this as prepack). Node does not strip types under
// node_modules, so the package ships JavaScript and .d.ts files, plus the files src/ reads at run time (the
// default rules YAML, …) beside them. The repository itself keeps running the TypeScript sources.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

// package.json's `imports` (`#store/fields`, which the console imports) name TypeScript sources the package does not
// ship. dist/ gets its own package.json, the package scope Node resolves its modules' `#` imports in, with the same
// map onto the compiled files (and the module type, which that scope decides too).
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  type: string;
  imports?: Record<string, unknown>;
};
const imports: Record<string, string> = {};
for (const [specifier, target] of Object.entries(manifest.imports ?? {})) {
  const source = typeof target === 'string' ? /^\.\/src\/(.+)\.ts$/.exec(target) : null;
  if (!source) {
    process.stderr.write(
      `build-package: package.json imports ${specifier}: expected "./src/….ts", not ${JSON.stringify(target)}\n`,
    );
    process.exit(1);
  }
  imports[specifier] = `./${source[1]}.js`;
}
writeFileSync(path.join(dist, 'package.json'), `${JSON.stringify({ type: manifest.type, imports }, null, 2)}\n`);
