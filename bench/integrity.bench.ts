// Tamper evidence costs: what the hash chain adds to an append (two SHA-256 per event, measured alone against the
// whole append in the same run) and how long `verify` takes over the store, against the time it took to fill it.
// BENCH_EVENTS=1000000 node bench/integrity.bench.ts for a million events.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../src/event/model.ts';
import { bodyHash, chainHash, ZERO_HASH } from '../src/integrity/chain.ts';
import { defaultKeyPath, loadSigningKey } from '../src/integrity/keys.ts';
import { verifyTrail } from '../src/integrity/verify.ts';
import { openSqliteStore, readTrail } from '../src/store/index.ts';
import { writeSqliteCheckpoint } from '../src/store/sqlite/index.ts';

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

const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-integrity-'));
try {
  const db = path.join(dir, 'vigil.db');
  const store = await openSqliteStore({ path: db });
  const bodies: string[] = [];
  let t = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => event(i + j));
    for (const e of batch) bodies.push(JSON.stringify(e));
    await store.append(batch);
  }
  const appendMs = performance.now() - t;
  await store.close();

  // the chain's own work per event, over the same bodies
  t = performance.now();
  let prev: Buffer = ZERO_HASH;
  for (let i = 0; i < bodies.length; i++) prev = chainHash(prev, 1, i + 2, i + 1, bodyHash(bodies[i]!));
  const chainMs = performance.now() - t;

  const key = loadSigningKey(defaultKeyPath(db), true);
  writeSqliteCheckpoint(db, key);
  t = performance.now();
  const r = await readTrail({ type: 'sqlite', path: db }, 'verify', (trail) =>
    verifyTrail(trail, { publicKey: key.publicKey }),
  );
  const verifyMs = performance.now() - t;
  if (!r.ok) throw new Error(`verify failed: ${JSON.stringify(r.first)}`);

  const perSec = (ms: number) => Math.round((N / ms) * 1000).toLocaleString('en');
  console.log(`events: ${N}`);
  console.log(`append (chain included): ${appendMs.toFixed(0)} ms, ${perSec(appendMs)} events/s`);
  console.log(
    `chain hashing alone:     ${chainMs.toFixed(0)} ms = ${((chainMs / appendMs) * 100).toFixed(1)} % of the append time`,
  );
  console.log(
    `verify:                  ${verifyMs.toFixed(0)} ms, ${perSec(verifyMs)} events/s, ${(verifyMs / appendMs).toFixed(2)}× the append time`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
