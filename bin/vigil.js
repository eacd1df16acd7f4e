#!/usr/bin/env node
// Vigil's CLI entry. In the repository it runs the TypeScript sources (src/), which needs Node's type stripping;
// an installed package has no src/ and runs the JavaScript compiled into dist/ when it was packed.
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
const repository = existsSync(new URL('../src/cli/main.ts', import.meta.url));
if (major < 24) {
  const how = repository
    ? 'In the repository, run it through npm (`npm ci`, then `npm start` or `npx vigil …`): npm puts the Node 24 pinned in devDependencies first on PATH.'
    : 'Install Node.js 24 or newer (https://nodejs.org/en/download, or `nvm install 24`), then run `npx vigil …` again.';
  process.stderr.write(`vigil: needs Node.js >= 24, this is ${process.version} (${process.execPath}).\n${how}\n`);
  process.exit(2);
}
// A reader that stops early (`vigil query | head`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const entry = repository ? '../src/cli/main.ts' : '../dist/cli/main.js';
if (!repository && !existsSync(new URL(entry, import.meta.url))) {
  // e.g. installed straight from git: npm runs `prepare` there, not `prepack`, so nothing was compiled.
  process.stderr.write(
    'vigil: this copy has no compiled dist/ (npm compiles it when packing); install a package made by `npm pack`\n',
  );
  process.exit(2);
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
