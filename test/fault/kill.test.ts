// Nothing lost: the collector is SIGKILLed again and again while a real producer process ships events through a
// capture webhook sink with its spool. After the last restart every event is stored exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort, waitFor } from '../helpers/net.ts';
import { faultAuditID } from './events.ts';
import { type Child, kill, killAll, startCollector, startProducer, storedCounts } from './helpers.ts';

const N = 2500;
const KILLS = 6;

let collector: Child | undefined;
let producer: Child | undefined;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-fault-kill-'));
after(async () => {
  await killAll();
  await kill(producer);
  await kill(collector);
  rmSync(dir, { recursive: true, force: true });
});

test(`collector SIGKILLed ${KILLS} times during ingest: every event stored exactly once`, {
  // Bounds, not expectations: 7 collector starts on a loaded 2-core machine took ~70 s; a quiet one takes ~15 s.
  timeout: 300_000,
}, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const data = path.join(dir, 'data');
  const args = ['--listen', `127.0.0.1:${port}`, '--data', data];
  const stored = async () => {
    const r = await fetch(`${url}/api/v1/events?size=1`);
    return ((await r.json()) as { total: number }).total;
  };

  collector = await startCollector(url, args);
  producer = startProducer([
    `${url}/audit/webhook/event`,
    path.join(dir, 'spool'),
    String(N),
    JSON.stringify({ perTick: 50 }),
  ]);
  let producerDone = false;
  void producer.exited.then(() => {
    producerDone = true;
  });

  let kills = 0;
  let last = 0;
  while (kills < KILLS && !producerDone) {
    // Kill only once this incarnation has stored something more, so each kill lands in a live ingest.
    const seen = await waitFor(
      'more events stored',
      async () => {
        if (producerDone) return -1;
        const n = await stored();
        return n >= last + 100 ? n : 0;
      },
      60_000,
    );
    if (seen < 0) break;
    last = seen;
    await kill(collector);
    kills++;
    collector = await startCollector(url, args);
  }
  assert.equal(kills, KILLS, `the producer finished after only ${kills} kills; slow it down`);

  const code = await Promise.race([
    producer.exited,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error('producer did not finish')), 120_000).unref()),
  ]);
  assert.equal(code, 0, producer.output());
  const report = JSON.parse(producer.output().trim().split('\n').pop()!);
  assert.equal(report.produced, N);
  assert.equal(report.spoolBytes, 0);

  // Graceful stop, then read the SQLite file itself.
  collector.proc.kill('SIGTERM');
  await collector.exited;
  const counts = storedCounts(path.join(data, 'vigil.db'));
  const missing: string[] = [];
  const doubled: string[] = [];
  for (let i = 0; i < N; i++) {
    const n = counts.get(faultAuditID(i)) ?? 0;
    if (n === 0) missing.push(faultAuditID(i));
    if (n > 1) doubled.push(faultAuditID(i));
  }
  console.log(
    `kills ${kills}: produced ${N}, stored ${counts.size}, lost ${missing.length}, stored twice ${doubled.length}` +
      ` (sink: delivered ${report.delivered}, spooled ${report.spooled}, replayed ${report.replayed}, retries ${report.retries})`,
  );
  assert.deepEqual(missing, []);
  assert.deepEqual(doubled, []);
  assert.equal(counts.size, N);
  assert.ok(report.spooled > 0, 'the kills should have sent some events through the spool');
});

test('collector and producer both SIGKILLed 3 times: the producer restarts on its spool and replays it, nothing lost', {
  timeout: 240_000,
}, async () => {
  const TOTAL = 1500;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const data = path.join(dir, 'data-both');
  const spool = path.join(dir, 'spool-both');
  const args = ['--listen', `127.0.0.1:${port}`, '--data', data];
  /** The producer's last acknowledged sequence number: everything before it is delivered or spooled. */
  const acked = (c: Child) => {
    const all = [...c.output().matchAll(/"acked":(\d+)/g)];
    return all.length ? Number(all[all.length - 1]![1]) : 0;
  };
  const produce = (first: number) =>
    startProducer([
      `${url}/audit/webhook/event`,
      spool,
      String(TOTAL - first),
      JSON.stringify({ perTick: 25, first, mode: 'blocking' }),
    ]);

  collector = await startCollector(url, args);
  let next = 0;
  producer = produce(next);
  for (let kill_ = 0; kill_ < 3; kill_++) {
    const p = producer;
    const from = next;
    await waitFor('the producer to make progress', () => acked(p) >= from + 200, 60_000);
    // The collector first, so that the producer spools what it cannot deliver; then the producer, whose restart
    // must replay that spool.
    await kill(collector);
    await waitFor('the producer to spool', () => /"spooled":[1-9]/.test(p.output()), 60_000);
    await kill(p);
    // Restart from what was acknowledged: later events may have been sent too (duplicates are absorbed).
    next = acked(p);
    collector = await startCollector(url, args);
    producer = produce(next);
  }
  const code = await Promise.race([
    producer.exited,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error('producer did not finish')), 120_000).unref()),
  ]);
  assert.equal(code, 0, producer.output());
  collector.proc.kill('SIGTERM');
  await collector.exited;
  const counts = storedCounts(path.join(data, 'vigil.db'));
  const missing = Array.from({ length: TOTAL }, (_, i) => faultAuditID(i)).filter((id) => !counts.has(id));
  console.log(`both killed 3 times: produced ${TOTAL}, stored ${counts.size}, lost ${missing.length}`);
  assert.deepEqual(missing, []);
  assert.equal(counts.size, TOTAL);
  for (const [id, n] of counts) assert.equal(n, 1, id);
});
