// The webhook endpoint unreachable for a while, then back: no event lost or stored twice, and the order the
// events are committed in is what docs/delivery.md promises — write order with one batch in flight.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { parseConfig } from '../../src/config/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { faultAuditID } from './events.ts';
import { type Child, kill, killAll, startProducer } from './helpers.ts';

const dirs: string[] = [];
const producers: Child[] = [];
const servers: RunningServer[] = [];
after(async () => {
  await killAll();
  for (const p of producers) await kill(p);
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Commit order: audit IDs by the store's id. */
function commitOrder(dbPath: string): string[] {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    return (db.prepare('SELECT audit_id AS a FROM events ORDER BY id').all() as { a: string }[]).map((r) => r.a);
  } finally {
    db.close();
  }
}

async function outage(maxInFlight: number): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-fault-outage-'));
  dirs.push(dir);
  const port = await freePort();
  const N = 1500;
  // The endpoint is down (nothing listens on the port) when the producer starts.
  const producer = startProducer([
    `http://127.0.0.1:${port}/audit/webhook/event`,
    path.join(dir, 'spool'),
    String(N),
    JSON.stringify({ perTick: 50, maxInFlight }),
  ]);
  producers.push(producer);
  await waitFor('the producer to spool', () => /"spooled":[1-9]\d{2,}/.test(producer.output()), 15_000);

  // Back, on the same address.
  const config = parseConfig('', 'test.yaml', { listen: `127.0.0.1:${port}`, data: path.join(dir, 'data') });
  const server = await startServer(config, { logger: false });
  servers.push(server);
  const code = await Promise.race([
    producer.exited,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error('producer did not finish')), 20_000).unref()),
  ]);
  assert.equal(code, 0, producer.output());
  const report = JSON.parse(producer.output().trim().split('\n').pop()!);
  assert.equal(report.spoolBytes, 0);
  assert.ok(report.spooled > 0);
  await server.close();
  assert.equal(config.storage.type, 'sqlite');
  const order = commitOrder(config.storage.path);
  const unique = new Set(order);
  const lost = Array.from({ length: N }, (_, i) => faultAuditID(i)).filter((id) => !unique.has(id));
  console.log(
    `outage (maxInFlight ${maxInFlight}): produced ${N}, stored ${order.length}, lost ${lost.length}, spooled ${report.spooled}`,
  );
  assert.deepEqual(lost, []);
  assert.equal(order.length, N, 'every event stored exactly once');
  return order;
}

test('endpoint down, then back: nothing lost, committed in write order with one batch in flight', {
  timeout: 30_000,
}, async () => {
  const order = await outage(1);
  assert.deepEqual(
    order,
    Array.from({ length: order.length }, (_, i) => faultAuditID(i)),
  );
});

test('endpoint down, then back, 4 batches in flight: nothing lost or doubled', { timeout: 30_000 }, async () => {
  await outage(4);
});
