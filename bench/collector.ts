// What the benchmarks that drive a real collector share: `vigil serve` in a child process on a data directory,
// the kube-apiserver webhook's batches of Falco's real events, percentiles. Not a bench itself (no `.bench.ts`).
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../src/event/model.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The kube-apiserver webhook's default batch size. */
export const BATCH = 400;

/** Starts `vigil serve` on a free loopback port with its store in `data`; resolves once it logs ready. */
export function startServer(data: string, args: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/vigil.js', 'serve', '--listen', '127.0.0.1:0', '--data', data, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = /"listen":"(http:\/\/[^"]+)".*vigil collector ready/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout!.resume();
        resolve({ child, url: m[1]! });
      }
      if (buf.length > 1e6) buf = buf.slice(-1e5);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Batches of `size` events as a kube-apiserver webhook posts them: an `EventList` of Falco's 51 real events,
 * repeated. `body(n)` is batch n, its audit IDs `b<n>-<i>` (fresh per batch). With `fresh`, each batch's events
 * were received "now" (the time `body` is called) — as a live apiserver's are, so retention keeps them; otherwise
 * they keep their 2018 timestamps.
 */
export function falcoBatches(opts: { size?: number; fresh?: boolean } = {}): (n: number) => string {
  const size = opts.size ?? BATCH;
  const lines = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const items: unknown[] = [];
  for (let i = 0; i < size; i++) {
    const e = JSON.parse(lines[i % lines.length]!);
    e.auditID = `@@ID@@-${i}`;
    if (opts.fresh) e.requestReceivedTimestamp = e.stageTimestamp = '@@TS@@';
    items.push(e);
  }
  const parts = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items }).split(
    /(@@ID@@|@@TS@@)/,
  );
  return (n) => {
    const id = `b${n}`;
    // MicroTime: the millisecond ISO form with three more digits.
    const ts = opts.fresh ? new Date().toISOString().replace('Z', '000Z') : '';
    let out = '';
    for (const p of parts) out += p === '@@ID@@' ? id : p === '@@TS@@' ? ts : p;
    return out;
  };
}

/** CPU time (user + system, ms, every thread) a process has used so far, from /proc (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU time (ms) of every PostgreSQL server process on this machine (`postgres` in /proc), for a bench's share of
 * the machine: sample it before and after a phase. Processes that ended in between are not counted.
 */
export function postgresCpuMs(): number {
  let ms = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // gone since the listing
    }
  }
  return ms;
}

/** The p-th percentile of ascending `sorted` (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/**
 * A small synthetic pod event, number `i` of `run` (its audit ID `<run>-<i>`): 200 namespaces, 500 users, 5 verbs,
 * received within the last hour — the load of the PostgreSQL benches (cluster, pgchain).
 */
export function podEvent(i: number, run: string): AuditEvent {
  const ts = new Date(Date.now() - (i % 3_600) * 1000).toISOString();
  return {
    level: 'Metadata',
    auditID: `${run}-${i}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/ns-${i % 200}/pods/p${i}`,
    verb: ['get', 'list', 'create', 'update', 'delete'][i % 5]!,
    user: { username: `user-${i % 500}`, groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    objectRef: { resource: 'pods', namespace: `ns-${i % 200}`, name: `p${i}`, apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
  } as AuditEvent;
}
