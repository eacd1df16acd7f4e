// The live tail's memory under clients that stop reading (issue 15, item 6): 30 raw connections ask for the stream
// and never read while 100 000 events of ~1 KB are stored. Each setting runs in a process of its own (RSS does not
// shrink back): the baseline stores the same events with no tail open. Before the per-stream bound the collector
// grew from 136 MB to 2.9 GB; now each stream holds at most STREAM_BUFFER_BYTES and counts what it skips.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/index.ts';
import type { AuditEvent } from '../src/event/model.ts';
import { startServer } from '../src/server/serve.ts';

const EVENTS = Number(process.env.VIGIL_BENCH_LIVETAIL_EVENTS ?? 100_000);
const CLIENTS = 30;
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

const event = (i: number): AuditEvent => ({
  level: 'Metadata',
  auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/default/pods',
  verb: 'list',
  user: { username: 'admin', groups: ['system:authenticated'] },
  sourceIPs: ['10.0.0.1'],
  userAgent: `agent-${'x'.repeat(700)}-${i}`,
  objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' },
  responseStatus: { metadata: {}, code: 200 },
  requestReceivedTimestamp: new Date(T0 + i).toISOString(),
  stageTimestamp: new Date(T0 + i).toISOString(),
  source: 'kubernetes',
});

async function measure(clients: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-livetail-'));
  const config = parseConfig('rules: { enabled: false }\n', 'bench.yaml', { listen: '127.0.0.1:0', data: dir });
  const s = await startServer(config, { logger: false });
  const { hostname, port } = new URL(s.url);
  const socks: net.Socket[] = [];
  for (let i = 0; i < clients; i++)
    socks.push(
      await new Promise<net.Socket>((resolve) => {
        const c = net.connect({ host: hostname, port: Number(port) }, () => {
          c.pause();
          c.write(`GET /api/v1/events/stream HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
          resolve(c);
        });
      }),
    );
  for (let k = 0; s.app.liveTails().length < clients; k++) {
    if (k > 500) throw new Error('the live tails did not open');
    await new Promise((r) => setTimeout(r, 20));
  }
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  for (let n = 0; n < EVENTS; n += 500) await s.store.append(Array.from({ length: 500 }, (_, i) => event(n + i)));
  globalThis.gc?.();
  const after = process.memoryUsage().rss;
  const tails = s.app.liveTails();
  process.stdout.write(
    `${JSON.stringify({
      clients,
      rssBeforeMB: Math.round(before / 1e6),
      rssAfterMB: Math.round(after / 1e6),
      heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1e6),
      maxBufferedBytes: Math.max(0, ...tails.map((t) => t.buffered)),
      minSkipped: Math.min(...tails.map((t) => t.skipped), Number.POSITIVE_INFINITY),
    })}\n`,
  );
  for (const c of socks) c.destroy();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.env.VIGIL_BENCH_LIVETAIL_CLIENTS !== undefined)
  await measure(Number(process.env.VIGIL_BENCH_LIVETAIL_CLIENTS));
else {
  const run = (clients: number) => {
    const r = spawnSync(process.execPath, ['--expose-gc', import.meta.filename], {
      env: { ...process.env, VIGIL_BENCH_LIVETAIL_CLIENTS: String(clients) },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as {
      rssBeforeMB: number;
      rssAfterMB: number;
      heapUsedMB: number;
      maxBufferedBytes: number;
    };
  };
  const base = run(0);
  const stalled = run(CLIENTS);
  const growth = (m: { rssBeforeMB: number; rssAfterMB: number }) => m.rssAfterMB - m.rssBeforeMB;
  console.log(`${EVENTS} events of ~1 KB stored; RSS growth (MB) of the collector process:`);
  console.log(`  no live tail:               ${growth(base)}  (${base.rssBeforeMB} → ${base.rssAfterMB})`);
  console.log(
    `  ${CLIENTS} stalled live tails:      ${growth(stalled)}  (${stalled.rssBeforeMB} → ${stalled.rssAfterMB})`,
  );
  console.log(
    `  extra for the stalled tails: ${growth(stalled) - growth(base)} MB; largest per-stream buffer ${stalled.maxBufferedBytes} bytes`,
  );
  console.log(
    `  V8 heap in use after the run: ${base.heapUsedMB} MB without a tail, ${stalled.heapUsedMB} MB with them`,
  );
  console.log(`  ratio stalled / baseline growth: ${(growth(stalled) / Math.max(1, growth(base))).toFixed(2)}`);
}
