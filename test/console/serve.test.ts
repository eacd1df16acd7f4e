// registerConsole: static serving of web/dist with caching, compression, client-route fallback, and no shadowing of
// the API's own 404s. ensureConsoleBuilt: rebuilds only when the sources are newer than the build.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { CONSOLE_WEB_DIR, ensureConsoleBuilt, registerConsole } from '../../src/server/console.ts';
import { tempDir } from '../helpers/temp.ts';

function distFixture(): string {
  const dir = tempDir('vigil-dist-');
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html><script>document.documentElement.dataset.x=1</script><div id="app"></div>',
  );
  fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), `console.log(${JSON.stringify('x'.repeat(4000))});`);
  fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return dir;
}

async function app(distDir: string) {
  const a = Fastify();
  a.get('/api/v1/events', async () => ({ total: 0, items: [] }));
  a.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'Not Found' }));
  registerConsole(a, { distDir });
  await a.ready();
  return a;
}

test('index.html is served at / with revalidation, a CSP that allows its inline script, and an ETag', async (t) => {
  const a = await app(distFixture());
  t.after(() => a.close());
  const res = await a.inject('/');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/html/);
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.match(res.headers['content-security-policy'] as string, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
  assert.match(res.body, /id="app"/);
  const again = await a.inject({ url: '/', headers: { 'if-none-match': res.headers.etag as string } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, '');
});

test('hashed assets are immutable for a year and gzip-encoded when the client accepts it', async (t) => {
  const a = await app(distFixture());
  t.after(() => a.close());
  const res = await a.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.match(res.headers['content-type'] as string, /^text\/javascript/);
  assert.match(gunzipSync(res.rawPayload).toString(), /^console\.log\("x{4000}"\);$/);
  const plain = await a.inject('/assets/index-abc123.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body.length, 4000 + 16);
});

test('client routes fall back to index.html; missing files and unknown API paths get the 404 handler', async (t) => {
  const a = await app(distFixture());
  t.after(() => a.close());
  const route = await a.inject('/events/some-id?user_search=adm');
  assert.equal(route.statusCode, 200);
  assert.match(route.body, /id="app"/);
  const missing = await a.inject('/assets/nope.js');
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json(), { error: 'Not Found' });
  const api = await a.inject('/api/v1/nothing-here');
  assert.equal(api.statusCode, 404);
  assert.deepEqual(api.json(), { error: 'Not Found' });
  assert.equal((await a.inject('/api/v1/events')).json().total, 0);
  // Only files of the build are ever read: a traversal attempt is just another client route.
  const traversal = await a.inject('/..%2f..%2f..%2fetc%2fpasswd');
  assert.doesNotMatch(traversal.body, /root:/);
  assert.match(traversal.body, /id="app"/);
  assert.equal((await a.inject('/..%2f..%2fetc%2fhosts.txt')).statusCode, 404);
  assert.equal((await a.inject('/%E0%A4%A')).statusCode, 400);
});

test('without a build the console answers 503 with how to build it, and the API still works', async (t) => {
  const a = await app(tempDir('vigil-nodist-'));
  t.after(() => a.close());
  const res = await a.inject('/');
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /npm run build/);
  assert.equal((await a.inject('/api/v1/events')).statusCode, 200);
});

test('ensureConsoleBuilt leaves a build newer than its sources alone', async () => {
  const web = tempDir('vigil-web-');
  fs.mkdirSync(path.join(web, 'src'));
  fs.writeFileSync(path.join(web, 'src', 'main.tsx'), '');
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(path.join(web, 'src', 'main.tsx'), old, old);
  fs.mkdirSync(path.join(web, 'dist'));
  fs.writeFileSync(path.join(web, 'dist', 'index.html'), '');
  const logs: string[] = [];
  assert.equal(await ensureConsoleBuilt({ webDir: web, log: (m) => logs.push(m) }), 'fresh');
  assert.deepEqual(logs, []);
});

test('ensureConsoleBuilt builds a copy of web/ that has no build yet (a fresh clone) and then leaves it be', async (t) => {
  // Inside the repository, so that Vite resolves preact and uPlot from its node_modules.
  const tmpRoot = new URL('../../.vigil-tmp/', import.meta.url);
  fs.mkdirSync(tmpRoot, { recursive: true });
  const web = fs.mkdtempSync(path.join(tmpRoot.pathname, 'web-'));
  t.after(() => fs.rmSync(web, { recursive: true, force: true }));
  for (const f of ['index.html', 'vite.config.ts', 'tsconfig.json'])
    fs.copyFileSync(path.join(CONSOLE_WEB_DIR, f), path.join(web, f));
  fs.cpSync(path.join(CONSOLE_WEB_DIR, 'src'), path.join(web, 'src'), { recursive: true });
  const logs: string[] = [];
  assert.equal(await ensureConsoleBuilt({ webDir: web, log: (m) => logs.push(m) }), 'built');
  assert.match(logs.join('\n'), /building the console/);
  const html = fs.readFileSync(path.join(web, 'dist', 'index.html'), 'utf8');
  assert.match(html, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
  assert.equal(await ensureConsoleBuilt({ webDir: web, log: (m) => logs.push(m) }), 'fresh');
});
