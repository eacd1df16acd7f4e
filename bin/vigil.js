#!/usr/bin/env node
// Vigil's CLI entry. The sources are TypeScript run by Node's type stripping, which needs Node >= 24;
// npm scripts and npx put the project's pinned Node 24 first on PATH.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `vigil: needs Node.js >= 24, this is ${process.version}; run it through npm (npm start, npx vigil)\n`,
  );
  process.exit(2);
}
// A reader that stops early (`vigil query | head`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
