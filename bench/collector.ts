// What the benchmarks that drive a real collector share: `vigil serve` in a child process on a data directory,
// the kube-apiserver webhook's batches of Falco's real events, percentiles. Not a bench itself (no `.bench.ts`).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { decodeEventList } from '../src/event/index.ts';
import type { AuditEvent } from '../src/event/model.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { prepareJob } from '../src/store/sqlite/jobs.ts';
import { configure } from '../src/store/sqlite/schema.ts';
import { SqliteWriter } from '../src/store/sqlite/writer.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The kube-apiserver webhook's default batch size. */
export const BATCH = 400;

/**
 * Starts `vigil serve` on a free loopback port with its store in `data`; resolves once it logs ready. `root`: the
 * checkout whose collector runs (another one for a before/after in one run).
 */
export function startServer(
  data: string,
  args: string[] = [],
  root = ROOT,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/vigil.js', 'serve', '--listen', '127.0.0.1:0', '--data', data, ...args], {
    cwd: root,
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

/** CPU ms per thread kind of a process, from /proc: main, the store's writer thread, V8's helpers, the rest. */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended since the listing
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const kind =
      comm === 'MainThread'
        ? 'main thread'
        : comm === 'WorkerThread'
          ? 'store writer thread'
          : comm.startsWith('V8')
            ? 'V8 helper threads (GC)'
            : 'other threads';
    out[kind] = (out[kind] ?? 0) + (Number(f[11]) + Number(f[12])) * 10;
  }
  return out;
}

/** Decoded batches `from`…`from + n - 1` of `body`, as the collector hands them to a store. */
export function decodedBatches(body: (n: number) => string, n: number, from: number): AuditEvent[][] {
  return Array.from({ length: n }, (_, k) => decodeEventList(JSON.parse(body(from + k)) as object));
}

/** The secondary (value, received…) indexes of SQLite's `events`: what the query targets need beyond a bare insert. */
export const SECONDARY_SQLITE = [
  'events_received',
  'events_workspace',
  'events_namespace',
  'events_username',
  'events_resource',
  'events_name',
  'events_verb',
  'events_code',
  'events_request_uri',
  'events_user_agent',
];

/**
 * The SQLite writer alone on this thread: CPU µs per event of appending 198 batches of `body` (from batch `from`),
 * 2 per transaction (the server's group commit gathers 1.7–1.8 under the ingest bench's load), its jobs prepared
 * beforehand. With `secondary` false, the store's secondary indexes are dropped first: what is left (row, body,
 * idempotency key, hash chain, list values, dictionary) is the bare insert.
 */
export async function sqliteWriterAlone(
  body: (n: number) => string,
  secondary: boolean,
  from: number,
): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-writer-'));
  try {
    const file = path.join(dir, 'vigil.db');
    await (await openSqliteStore({ path: file })).close();
    const db = new DatabaseSync(file);
    configure(db);
    if (!secondary) for (const ix of SECONDARY_SQLITE) db.exec(`DROP INDEX ${ix}`);
    const writer = new SqliteWriter(db);
    const jobs = decodedBatches(body, 200, from).map(prepareJob);
    writer.append(jobs.slice(0, 2)); // warm-up
    const c0 = process.cpuUsage();
    for (let i = 2; i < jobs.length; i += 2) writer.append(jobs.slice(i, i + 2));
    const c = process.cpuUsage(c0);
    db.close();
    return (c.user + c.system) / ((jobs.length - 2) * BATCH);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
