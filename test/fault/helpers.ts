// Real processes for the fault tests: the collector (`node bin/vigil.js serve`) and the producer, each a child
// that the test kills in `after`, and a look into the store's SQLite file.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/net.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VIGIL = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const PRODUCER = fileURLToPath(new URL('./producer.ts', import.meta.url));

export interface Child {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Every child started and not yet gone: `killAll` in a test's `after` leaves none behind, whatever failed. */
const running = new Set<ChildProcess>();

export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(async (p) => {
      p.kill('SIGKILL');
      if (p.exitCode === null && p.signalCode === null) await once(p, 'exit');
    }),
  );
}

function start(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'pipe' });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  return { proc, output: () => out, exited };
}

/** Starts `vigil serve` and waits until `/readyz` answers (bounded). */
export async function startCollector(
  url: string,
  args: string[],
  env: Record<string, string> = {},
  fetchOpts: { readyz?: () => Promise<boolean> } = {},
): Promise<Child> {
  const c = start([VIGIL, 'serve', ...args], env);
  let gone = false;
  void c.exited.then(() => {
    gone = true;
  });
  try {
    await waitFor(
      'the collector to be ready',
      async () => {
        if (gone) throw new Error(`collector exited: ${c.output()}`);
        if (fetchOpts.readyz) return fetchOpts.readyz();
        const r = await fetch(`${url}/readyz`).catch(() => undefined);
        return r?.status === 200;
      },
      60_000, // a loaded 2-core machine starts a collector in ~10 s; a quiet one in ~1 s
    );
  } catch (err) {
    await kill(c);
    throw err;
  }
  return c;
}

export function startProducer(args: string[]): Child {
  return start([PRODUCER, ...args]);
}

/** SIGKILLs a child (if still running) and waits for it to be gone. */
export async function kill(c: Child | undefined): Promise<void> {
  if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGKILL');
  await c.exited;
}

/** auditID → stored rows, read straight from the SQLite file. */
export function storedCounts(dbPath: string): Map<string, number> {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    const rows = db.prepare('SELECT audit_id AS id, count(*) AS n FROM events GROUP BY audit_id').all() as {
      id: string;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.id, Number(r.n)]));
  } finally {
    db.close();
  }
}
