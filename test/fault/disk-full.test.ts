// Nothing lost when the collector's disk fills up: ingest answers 503 with a JSON error and Retry-After, reads
// keep working, the producer keeps its events in its spool until space returns, and nothing already stored is
// damaged (PRAGMA integrity_check, counts). The disk is a 4 MiB tmpfs when this process may mount one (root);
// otherwise the collector runs in-process over a store whose appends fail as a full SQLite disk does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { createApp } from '../../src/server/app.ts';
import { openStore } from '../../src/store/index.ts';
import { type Store, StoreUnavailableError } from '../../src/store/types.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { faultAuditID, faultEvent } from './events.ts';
import { type Child, kill, killAll, startCollector, startProducer, storedCounts } from './helpers.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-fault-disk-'));
const disk = path.join(dir, 'disk');
mkdirSync(disk);
let mounted = false;
let collector: Child | undefined;
let producer: Child | undefined;
let stopInProcess: (() => Promise<void>) | undefined;

after(async () => {
  await killAll();
  await kill(producer);
  await kill(collector);
  await stopInProcess?.();
  if (mounted) execFileSync('umount', [disk]);
  rmSync(dir, { recursive: true, force: true });
});

function tryMount(): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Collector {
  url: string;
  dbPath: string;
  /** Makes the disk full. */
  fill(): void;
  /** Gives the space back. */
  free(): void;
  stop(): Promise<void>;
}

/** The real thing: `vigil serve` on a tmpfs, filled by a file that takes every free byte. */
async function onTmpfs(): Promise<Collector> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const data = path.join(disk, 'data');
  collector = await startCollector(url, ['--listen', `127.0.0.1:${port}`, '--data', data]);
  const filler = path.join(disk, 'filler');
  return {
    url,
    dbPath: path.join(data, 'vigil.db'),
    fill() {
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(16 * 1024);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler),
    async stop() {
      collector!.proc.kill('SIGTERM');
      await collector!.exited;
    },
  };
}

/** Without mount rights: the collector in-process over a store that fails appends as SQLite does on a full disk. */
async function injected(): Promise<Collector> {
  const data = path.join(dir, 'data');
  const dbPath = path.join(data, 'vigil.db');
  mkdirSync(data);
  const store = await openStore({ type: 'sqlite', path: dbPath });
  let full = false;
  const append: Store['append'] = (events, opts) =>
    full
      ? Promise.reject(new StoreUnavailableError('store unavailable: database or disk is full', 'full'))
      : store.append(events, opts);
  const faulty = new Proxy(store, {
    get(target, key) {
      if (key === 'append') return append;
      const v = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const config = parseConfig('', 'test.yaml', { listen: '127.0.0.1:0', data });
  const app = createApp({ config, store: faulty, logger: false });
  const url = await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  app.setReady(true);
  stopInProcess = async () => {
    stopInProcess = undefined;
    await app.fastify.close();
    await store.close();
  };
  return {
    url,
    dbPath,
    fill: () => {
      full = true;
    },
    free: () => {
      full = false;
    },
    stop: () => stopInProcess?.() ?? Promise.resolve(),
  };
}

test('disk full: 503 + Retry-After, reads still served, the producer spools, nothing lost or corrupted', {
  timeout: 45_000,
}, async (t) => {
  mounted = tryMount();
  t.diagnostic(mounted ? 'a 4 MiB tmpfs fills up' : 'cannot mount a tmpfs: appends fail by injection');
  const c = mounted ? await onTmpfs() : await injected();
  const post = (first: number, n: number) =>
    fetch(`${c.url}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: n }, (_, k) => faultEvent(first + k))),
    });
  const total = async () => ((await (await fetch(`${c.url}/api/v1/events?size=1`)).json()) as { total: number }).total;

  // Some events stored before the disk fills.
  const expected = new Set<string>();
  assert.equal((await post(0, 200)).status, 200);
  for (let i = 0; i < 200; i++) expected.add(faultAuditID(i));

  c.fill();
  // SQLite may still have room in pages it already holds: send one event at a time until the store refuses.
  let next = 200;
  const refused = (await waitFor<Response | undefined>(
    'the collector to refuse an ingest',
    async () => {
      const r = await post(next, 1);
      if (r.status === 200) {
        expected.add(faultAuditID(next++));
        return undefined;
      }
      return r;
    },
    15_000,
  )) as Response;
  assert.equal(refused.status, 503);
  assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
  const body = (await refused.json()) as { error: string };
  assert.match(body.error, /full|unavailable/);
  // Reads go on while writes fail.
  assert.equal(await total(), expected.size);

  // A producer ships while the disk is full: its webhook batches are refused and go to its spool.
  const PRODUCED = 300;
  const first = 10_000;
  const spoolDir = path.join(dir, 'spool');
  producer = startProducer([
    `${c.url}/audit/webhook/event`,
    spoolDir,
    String(PRODUCED),
    JSON.stringify({ perTick: 30, first }),
  ]);
  const rejected = async () => {
    const text = await (await fetch(`${c.url}/metrics`)).text();
    const m = /vigil_ingest_rejected_total\{path="\/audit\/webhook\/event",reason="503"\} (\d+)/.exec(text);
    return m ? Number(m[1]) : 0;
  };
  // Its batches are refused, retried, refused again, then spooled.
  await waitFor('the producer to spool', () => /"spooled":[1-9]/.test(producer!.output()), 15_000);
  assert.ok((await rejected()) > 0);
  assert.equal(producer.proc.exitCode, null, 'the producer must still hold its events');
  assert.equal(await total(), expected.size);

  c.free();
  const code = await Promise.race([
    producer.exited,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error('producer did not finish')), 20_000).unref()),
  ]);
  assert.equal(code, 0, producer.output());
  const report = JSON.parse(producer.output().trim().split('\n').pop()!);
  assert.ok(report.spooled > 0, 'events went through the spool');
  assert.equal(report.spoolBytes, 0);
  for (let i = 0; i < PRODUCED; i++) expected.add(faultAuditID(first + i));

  await c.stop();
  const db = new DatabaseSync(c.dbPath, { readOnly: true });
  try {
    assert.deepEqual(
      db
        .prepare('PRAGMA integrity_check')
        .all()
        .map((r) => ({ ...r })),
      [{ integrity_check: 'ok' }],
    );
  } finally {
    db.close();
  }
  const counts = storedCounts(c.dbPath);
  const lost = [...expected].filter((id) => !counts.has(id));
  console.log(
    `disk full (${mounted ? 'tmpfs' : 'injected'}): expected ${expected.size}, stored ${counts.size}, lost ${lost.length} (producer: spooled ${report.spooled}, retries ${report.retries})`,
  );
  assert.deepEqual(lost, []);
  assert.equal(counts.size, expected.size);
  for (const n of counts.values()) assert.equal(n, 1);
});
