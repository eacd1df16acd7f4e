// PostgreSQL for tests: the local server, one fresh schema per test so that parallel test files never collide; and
// private clusters for tests that stop and start the server itself.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './net.ts';

const execFileAsync = promisify(execFile);

export const PG_URL = process.env.VIGIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name; VIGIL_TEST_SCHEMA_TAG (letters, digits, _) goes into it, to tell whose schemas they are. */
export function randomSchema(): string {
  const tag = process.env.VIGIL_TEST_SCHEMA_TAG?.replace(/[^a-z0-9_]/gi, '') ?? '';
  return `vigil_test_${tag ? `${tag}_` : ''}${randomBytes(6).toString('hex')}`;
}

/** Runs `fn` with a direct connection (not Vigil's), for inspecting or sabotaging the database. */
export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, application_name: 'vigil test admin' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Polls a condition on the database until it holds, for at most `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A PostgreSQL cluster of the test's own, which the test may stop and start (the shared one it must not). */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth). */
  url: string;
  start(): Promise<void>;
  /** Fast shutdown: sessions are terminated (in-flight transactions roll back), then the server exits. */
  stop(): Promise<void>;
}

const privateClusters: { dir: string; run: (args: string[]) => Promise<void>; pgctl: string; data: string }[] = [];

// Stops every private cluster still running and removes its directory, whatever the tests did.
after(async () => {
  for (const p of privateClusters.splice(0)) {
    await p.run([p.pgctl, '-D', p.data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(p.dir, { recursive: true, force: true });
  }
});

/** The newest installed PostgreSQL's programs (Debian layout), or VIGIL_TEST_PG_BIN. */
function pgBin(): string {
  if (process.env.VIGIL_TEST_PG_BIN) return process.env.VIGIL_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL under ${root}: set VIGIL_TEST_PG_BIN to its bin directory`);
  return path.join(root, versions[0]!, 'bin');
}

/**
 * initdb + pg_ctl start of a new cluster in a temp directory, on a free loopback port, with pg_trgm and btree_gin
 * available as on the shared server. initdb refuses to run as root: then the cluster belongs to the `postgres` user
 * (runuser). Stopped (immediate) and removed after the test file.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBin();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-pg-'));
  const data = path.join(dir, 'data');
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  const run = async (args: string[]) => {
    const [cmd, ...rest] = root ? ['runuser', '-u', 'postgres', '--', ...args] : args;
    await execFileAsync(cmd!, rest, { cwd: dir });
  };
  const pgctl = path.join(bin, 'pg_ctl');
  privateClusters.push({ dir, run, pgctl, data });
  await run([path.join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c max_connections=40`;
  const start = () => run([pgctl, '-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop: () => run([pgctl, '-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']),
  };
}
