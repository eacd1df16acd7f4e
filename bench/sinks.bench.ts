// Sinks: the Kubernetes JSON line serializer against JSON.stringify of the same events, then throughput of the
// log sink, the spool and the webhook batch sink, each against the bare operation it is built on, measured in the
// same run (ratio = sink time / baseline time).
//   npm run bench sinks
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeKubernetesEvent, encodeKubernetesEvent, formatKubernetesJSON, goJson } from '../src/event/kubernetes.ts';
import type { AuditEvent } from '../src/event/model.ts';
import { Registry } from '../src/metrics/registry.ts';
import { createSink } from '../src/sinks/create.ts';
import { defaultEncoders } from '../src/sinks/encoders.ts';
import { Spool } from '../src/sinks/spool.ts';

const N = 40_000;
const BATCH = 400;
const quiet = { warn() {}, error() {} };

function event(i: number): AuditEvent {
  return {
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/pods/p${i}`,
    verb: 'get',
    user: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kube-controller-manager/v1.34.0',
    objectRef: { resource: 'pods', namespace: 'default', name: `p${i}`, apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: '2026-11-23T10:00:00.000000Z',
    stageTimestamp: '2026-11-23T10:00:00.001000Z',
    source: 'kubernetes',
  };
}
const all = Array.from({ length: N }, (_, i) => event(i));
const batches: AuditEvent[][] = [];
for (let i = 0; i < N; i += BATCH) batches.push(all.slice(i, i + BATCH));

async function time(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Best of three runs, so JIT warm-up and disk cache do not favour whichever runs second. */
async function best(fn: (round: number) => Promise<void>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) min = Math.min(min, await time(() => fn(round)));
  return min;
}

function report(name: string, base: number, sink: number): void {
  const rate = (ms: number) => `${Math.round(N / (ms / 1000)).toLocaleString('en')} ev/s`;
  console.log(
    `${name.padEnd(44)} baseline ${rate(base).padStart(14)}  sink ${rate(sink).padStart(14)}  ratio ${(sink / base).toFixed(2)}`,
  );
}

/**
 * The log line (formatKubernetesJSON) against the general path it must equal byte for byte (goJson of
 * encodeKubernetesEvent: JSON.stringify, then Go's HTML escaping) and against bare JSON.stringify of the encoded
 * object (no escaping pass), each alone and followed by what the log sink does with a line (UTF-8 into a reused
 * buffer, which flattens a string built from pieces). CPU time, best of 15 rounds taken in turn.
 */
function serializerBench(): void {
  const captured = (i: number): AuditEvent => ({
    level: 'Metadata',
    auditID: crypto.randomUUID(),
    stage: 'ResponseComplete',
    requestURI: '/hello',
    verb: 'get',
    user: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'autocannon/9.0.0',
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2026-11-23T14:45:12.123456Z',
    stageTimestamp: `2026-11-23T14:45:12.${String(123456 + i).padStart(6, '0')}Z`,
    source: 'vigil',
  });
  const falco = readFileSync(new URL('../test/fixtures/falco/k8saudit-events.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => decodeKubernetesEvent(JSON.parse(l)));
  const sets: [string, AuditEvent[]][] = [
    ['a captured request (Metadata, as capture.bench)', Array.from({ length: 256 }, (_, i) => captured(i))],
    ['kube-apiserver Metadata events (this bench)', all.slice(0, 256)],
    ['the 51 falco events (bodies, annotations)', falco],
  ];
  const buf = Buffer.allocUnsafe(1 << 22);
  const ways: [string, (e: AuditEvent) => string][] = [
    ['formatKubernetesJSON', formatKubernetesJSON],
    ['goJson(encodeKubernetesEvent(e))', (e) => goJson(encodeKubernetesEvent(e))],
    ['JSON.stringify(encodeKubernetesEvent(e))', (e) => JSON.stringify(encodeKubernetesEvent(e))],
  ];
  for (const [name, events] of sets) {
    for (const e of events) {
      if (formatKubernetesJSON(e) !== goJson(encodeKubernetesEvent(e))) throw new Error(`${e.auditID}: lines differ`);
    }
    const reps = Math.max(1, Math.round(20_000 / events.length));
    const best = ways.map(() => [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    for (let round = 0; round < 15; round++) {
      ways.forEach(([, f], w) => {
        let c = process.cpuUsage();
        for (let r = 0; r < reps; r++) for (const e of events) f(e);
        let d = process.cpuUsage(c);
        best[w]![0] = Math.min(best[w]![0]!, d.user + d.system);
        c = process.cpuUsage();
        for (let r = 0; r < reps; r++) {
          let off = 0;
          for (const e of events) {
            off += buf.write(f(e), off);
            buf[off++] = 0x0a;
          }
        }
        d = process.cpuUsage(c);
        best[w]![1] = Math.min(best[w]![1]!, d.user + d.system);
      });
    }
    const n = reps * events.length;
    console.log(`serializer, ${name}:`);
    ways.forEach(([way], w) => {
      const [alone, written] = best[w]!.map((us) => (us * 1000) / n) as [number, number];
      const [base, baseWritten] = best[1]!.map((us) => (us * 1000) / n) as [number, number];
      console.log(
        `  ${way.padEnd(42)} ${alone.toFixed(0).padStart(5)} ns/event (×${(alone / base).toFixed(2)}), ` +
          `with the write into the buffer ${written.toFixed(0).padStart(5)} ns (×${(written / baseWritten).toFixed(2)})`,
      );
    });
  }
}

if (process.argv[2] === 'serializer') {
  serializerBench();
  process.exit(0);
}
serializerBench();

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-sinks-'));
try {
  // 1. Log sink (JSON lines, blocking, 400-event writes) vs encoding + FileHandle.write of the same lines.
  {
    const base = await best(async () => {
      const fh = await open(join(dir, 'base.log'), 'a');
      for (const b of batches) {
        let s = '';
        for (const e of b) s += `${defaultEncoders.formatKubernetesJSON(e)}\n`;
        await fh.write(Buffer.from(s));
      }
      await fh.close();
    });
    const t = await best(async (round) => {
      const sink = await createSink(
        { type: 'log', path: join(dir, `sink-${round}.log`), maxsize: 4 },
        { registry: new Registry(), logger: quiet },
      );
      for (const b of batches) await sink.write(b);
      await sink.close();
    });
    report('log sink, json, rotating every 4 MB', base, t);
  }

  // 2. Spool append (fsync per append) vs the same bytes written without the spool's framing and fsync.
  for (const fsync of [false, true]) {
    const base = await best(async () => {
      const fh = await open(join(dir, `raw-${fsync}`), 'a');
      for (const b of batches) await fh.write(Buffer.from(JSON.stringify(b)));
      await fh.close();
    });
    const t = await best(async (round) => {
      const spool = await Spool.open({ dir: join(dir, `spool-${fsync}-${round}`), maxBytes: 1e9, fsync });
      for (const b of batches) await spool.append(b);
      await spool.close();
    });
    report(`spool append, 400-event records, fsync=${fsync}`, base, t);
  }

  // 3. Webhook batch sink (EventList, HMAC, retry/spool chain) vs bare http POSTs of the same bodies.
  {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const base = await best(async () => {
      const post = (b: AuditEvent[]) =>
        new Promise<void>((resolve, reject) => {
          const body = JSON.stringify(defaultEncoders.encodeEventList(b));
          const req = http.request(
            url,
            { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      for (let i = 0; i < batches.length; i += 4) await Promise.all(batches.slice(i, i + 4).map(post));
    });
    agent.destroy();
    const t = await best(async (round) => {
      const sink = await createSink(
        {
          type: 'webhook',
          url,
          secret: 's',
          batch: { maxBatchSize: BATCH, throttle: false, maxInFlight: 4 },
          spool: { dir: join(dir, `webhook-spool-${round}`), maxBytes: 1e9 },
        },
        { registry: new Registry(), logger: quiet },
      );
      for (const b of batches) await sink.write(b);
      await sink.close();
    });
    report('webhook batch sink (HMAC, spool configured)', base, t);
    server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
