// Forwarding throughput: events/s forwarded to a real rsyslog over TCP (RFC 5424, octet counting, `kubernetes`
// format) from a store of many events, beside the store's own read rate in the same run (the append log read in
// the forwarder's batches, events parsed: the floor forwarding cannot beat) and the CPU per event of each.
// BENCH_EVENTS=1000000 node bench/forward.bench.ts for a million events (default 200 000).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent } from '../src/event/model.ts';
import { Forwarder, SyslogDestination } from '../src/forward/index.ts';
import { openSqliteStore } from '../src/store/index.ts';

const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = 500;
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

function event(i: number): AuditEvent {
  const at = new Date(T0 + i).toISOString();
  return {
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/ns-${i % 50}/pods/pod-${i % 5000}`,
    verb: ['get', 'list', 'create', 'delete'][i % 4]!,
    user: { username: `user-${i % 200}`, groups: ['system:authenticated'] },
    sourceIPs: [`10.0.${(i >> 8) & 255}.${i & 255}`],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'pods', namespace: `ns-${i % 50}`, name: `pod-${i % 5000}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
    source: 'kubernetes',
  };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-forward-'));
let rsyslogd: ReturnType<typeof spawn> | undefined;
try {
  const port = await freePort();
  const out = path.join(dir, 'received.log');
  // one byte and a newline per message received: counts without writing a gigabyte
  writeFileSync(
    path.join(dir, 'rsyslog.conf'),
    `global(workDirectory="${dir}" maxMessageSize="512k")
module(load="imtcp")
template(name="tick" type="string" string="x\\n")
input(type="imtcp" port="${port}" address="127.0.0.1")
action(type="omfile" file="${out}" template="tick")
`,
  );
  rsyslogd = spawn(
    '/usr/sbin/rsyslogd',
    ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')],
    { stdio: 'ignore' },
  );
  const store = await openSqliteStore({ path: path.join(dir, 'vigil.db') });
  let t = performance.now();
  for (let i = 0; i < N; i += BATCH)
    await store.append(Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => event(i + j)));
  console.log(`store filled: ${N} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // the store's own read rate: the append log in the forwarder's batches
  let cpu = process.cpuUsage();
  t = performance.now();
  let read = 0;
  for (let after: number | undefined; ; ) {
    const r = await store.readLog(after, BATCH);
    read += r.entries.length;
    if (r.upTo >= r.head) break;
    after = r.upTo;
  }
  const readMs = performance.now() - t;
  const readCpu = process.cpuUsage(cpu);

  // rsyslog up (it was started before the store was filled, so its start costs nothing here)
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 500) throw new Error('rsyslog did not start');
    await sleep(20);
  }
  const before = (() => {
    try {
      return statSync(out).size / 2;
    } catch {
      return 0;
    }
  })();
  const f = new Forwarder(store, {
    name: 'bench',
    type: 'syslog',
    target: `tcp://127.0.0.1:${port}`,
    format: 'kubernetes',
    destination: new SyslogDestination({ url: `tcp://127.0.0.1:${port}` }),
    batchSize: BATCH,
  });
  cpu = process.cpuUsage();
  t = performance.now();
  for (;;) if ((await f.step()) === 'idle') break;
  const sentMs = performance.now() - t;
  const sendCpu = process.cpuUsage(cpu);
  // and until rsyslog has written them all
  for (let i = 0; ; i++) {
    let have = 0;
    try {
      have = statSync(out).size / 2 - before;
    } catch {}
    if (have >= N) break;
    if (i > 30_000) throw new Error(`rsyslog holds ${have} of ${N}`);
    await sleep(10);
  }
  const receivedMs = performance.now() - t;
  await f.stop();
  await store.close();

  const perSec = (n: number, ms: number) => Math.round(n / (ms / 1000));
  const cpuUs = (c: NodeJS.CpuUsage, n: number) => ((c.user + c.system) / n).toFixed(1);
  console.log(`events in the store: ${N} (read back: ${read})`);
  console.log(
    `store read (readLog, batches of ${BATCH}): ${perSec(read, readMs)} events/s, ${cpuUs(readCpu, read)} µs CPU/event`,
  );
  console.log(
    `forwarded to rsyslog over TCP: ${perSec(N, sentMs)} events/s sent, ${perSec(N, receivedMs)} events/s received by rsyslog, ${cpuUs(sendCpu, N)} µs CPU/event (collector side)`,
  );
  console.log(`ratio forward / store read: ${(perSec(N, receivedMs) / perSec(read, readMs)).toFixed(3)}`);
} finally {
  rsyslogd?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
