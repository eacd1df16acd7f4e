// Serves the built console (web/dist) from `vigil serve`: hashed assets cached for a year, index.html revalidated
// on every load, client routes answered with index.html. The files are read once at startup (the build is a few
// hundred kilobytes) and kept with their gzip form, so serving them costs no disk I/O per request.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where `npm run build` puts the console. */
export const CONSOLE_WEB_DIR = path.join(ROOT, 'web');
export const CONSOLE_DIST_DIR = path.join(CONSOLE_WEB_DIR, 'dist');

export interface ConsoleOptions {
  distDir: string;
  /** Paths the console must never answer (they belong to the API): unknown ones get the app's own 404. */
  reservedPrefixes?: string[];
}

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  etag: string;
  cache: string;
  csp?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt']);

function walk(dir: string, base = dir, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, base, out);
    else if (entry.isFile()) out.push(path.relative(base, full).split(path.sep).join('/'));
  }
  return out;
}

/**
 * The page's Content-Security-Policy: only its own scripts, plus the inline ones index.html carries (by hash).
 * uPlot positions its parts with style attributes, hence 'unsafe-inline' for styles only.
 */
function contentSecurityPolicy(html: string): string {
  const hashes: string[] = [];
  for (const m of html.matchAll(/<script>([\s\S]*?)<\/script>/g)) {
    hashes.push(`'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
  }
  return [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function loadAssets(distDir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const rel of walk(distDir)) {
    const body = fs.readFileSync(path.join(distDir, rel));
    const ext = path.extname(rel).toLowerCase();
    const gz = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
    assets.set(`/${rel}`, {
      body,
      gzip: gz && gz.length < body.length ? gz : undefined,
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`,
      // Vite names everything under assets/ by content hash: a changed file is a new URL.
      cache: rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      csp: ext === '.html' ? contentSecurityPolicy(body.toString('utf8')) : undefined,
    });
  }
  return assets;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Vigil</title>
<body style="font:15px system-ui;margin:4rem auto;max-width:36rem">
<h1>The Vigil console is not built</h1>
<p>Build it with <code>npm run build</code> (or start Vigil with <code>npm start</code>, which builds it), then reload.
The API under <code>/api/v1/</code> works without it.</p>`;

export function registerConsole(app: FastifyInstance, opts: ConsoleOptions): void {
  // The API's paths, and its endpoint names without their prefix (`/histogram`, a common slip): unknown ones get the
  // app's JSON 404, never the console's page.
  const reserved = opts.reservedPrefixes ?? [
    '/api/',
    '/kapis/',
    '/ingest/',
    '/audit/',
    '/metrics',
    '/healthz',
    '/readyz',
    '/histogram',
    '/stats',
    '/stream',
  ];
  const assets = fs.existsSync(path.join(opts.distDir, 'index.html')) ? loadAssets(opts.distDir) : undefined;
  const index = assets?.get('/index.html');

  const send = (req: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply
      .header('content-type', asset.type)
      .header('cache-control', asset.cache)
      .header('etag', asset.etag)
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (asset.csp) reply.header('content-security-policy', asset.csp).header('referrer-policy', 'no-referrer');
    const inm = req.headers['if-none-match'];
    if (inm?.split(',').some((t) => t.trim() === asset.etag)) return reply.code(304).send();
    const accept = String(req.headers['accept-encoding'] ?? '');
    if (asset.gzip && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  };

  const handler = (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.url.split('?')[0];
    if (reserved.some((p) => raw === p.replace(/\/$/, '') || raw.startsWith(p))) return reply.callNotFound();
    if (!assets || !index) {
      return reply.code(503).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT);
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(raw);
    } catch {
      return reply.code(400).send({ error: 'Bad Request', message: 'malformed percent-encoding in the path' });
    }
    // Only files found in the build are served (a map lookup), so no path can reach outside it.
    const asset = assets.get(pathname === '/' ? '/index.html' : pathname);
    if (asset) return send(req, reply, asset);
    // A path whose last segment has an extension is a missing file; anything else is a console route.
    if (/\.[a-z0-9]+$/i.test(pathname)) return reply.callNotFound();
    return send(req, reply, index);
  };

  app.get('/', handler);
  app.get('/*', handler);
}

function newestMtime(paths: string[]): number {
  let newest = 0;
  for (const p of paths) {
    if (!fs.existsSync(p)) continue;
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const rel of walk(p)) newest = Math.max(newest, fs.statSync(path.join(p, rel)).mtimeMs);
    } else newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

export type ConsoleBuild = 'fresh' | 'built' | 'unavailable';

/**
 * Builds the console when web/dist is missing or older than its sources, so a fresh clone's `npm start` shows it.
 * Returns 'unavailable' (and leaves the API running without a console) when Vite is not installed, e.g. in a
 * production install without devDependencies and without a prebuilt web/dist.
 */
export async function ensureConsoleBuilt(
  opts: { webDir?: string; log?: (message: string) => void } = {},
): Promise<ConsoleBuild> {
  const webDir = opts.webDir ?? CONSOLE_WEB_DIR;
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const built = path.join(webDir, 'dist', 'index.html');
  const sources = [path.join(webDir, 'src'), path.join(webDir, 'index.html'), path.join(webDir, 'vite.config.ts')];
  // Where web/ has sources, also the field table they import (`#store/fields`) and the event model it imports.
  const shared = [path.join(ROOT, 'src', 'store', 'fields.ts'), path.join(ROOT, 'src', 'event', 'model.ts')];
  const srcTime = newestMtime(sources) && newestMtime([...sources, ...shared]);
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= srcTime) return 'fresh';
  if (srcTime === 0) return fs.existsSync(built) ? 'fresh' : 'unavailable';
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) {
    log('vigil: the console is not built and Vite is not installed; run `npm ci && npm run build`');
    return 'unavailable';
  }
  log('vigil: building the console (web/dist)…');
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', webDir, '--logLevel', 'warn'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d));
    child.stderr.on('data', (d: Buffer) => output.push(d));
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`building the console failed (vite exit ${code}):\n${Buffer.concat(output)}`);
  return 'built';
}
