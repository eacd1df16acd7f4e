import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from '../../src/metrics/registry.ts';
import { SinkMetrics } from '../../src/sinks/metrics.ts';
import { Spool } from '../../src/sinks/spool.ts';
import { captureLogger, events, tempDir } from './helpers.ts';

async function readAll(s: Spool, batch = 1000): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const r = await s.read(batch);
    if (!r) return ids;
    for (const e of r.events) ids.push(e.auditID);
    await s.ack(r.cursor);
  }
}

test('appended events come back in order until acknowledged, across segments', async (t) => {
  const dir = tempDir(t);
  const s = await Spool.open({ dir, maxBytes: 10_000_000, segmentBytes: 2000 });
  for (let i = 0; i < 10; i++) await s.append(events(i * 5, 5));
  assert.ok(readdirSync(dir).filter((f) => f.endsWith('.spool')).length > 1, 'several segments');
  const first = await s.read(7);
  assert.ok(first);
  const again = await s.read(7);
  assert.deepEqual(again!.events, first.events, 'reading without ack does not consume');
  const ids = await readAll(s, 7);
  assert.deepEqual(
    ids,
    events(0, 50).map((e) => e.auditID),
  );
  assert.equal(s.pendingBytes(), 0);
  await s.close();
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.spool')),
    [],
    'delivered segments are deleted',
  );
});

test('hasPending() stays true from append to ack, also while a read seals the active segment', async (t) => {
  // The spooled sink sends live writes straight on only when nothing is pending: a moment of "empty" while the
  // replay's read closes the active segment let a live batch overtake spooled ones (found by the fault tests).
  const s = await Spool.open({ dir: tempDir(t), maxBytes: 10_000_000 });
  t.after(() => s.close());
  await s.append(events(0, 3));
  let done = false;
  const reading = s.read(10).finally(() => {
    done = true;
  });
  let samples = 0;
  while (!done) {
    assert.equal(s.hasPending(), true, `empty while the read was under way (sample ${samples})`);
    samples++;
    await new Promise((r) => setImmediate(r));
  }
  const r = await reading;
  assert.equal(r?.events.length, 3);
  assert.equal(s.hasPending(), true, 'read but not acknowledged');
  await s.ack(r!.cursor);
  assert.equal(s.hasPending(), false);
});

test('a new process resumes after the last acknowledged record', async (t) => {
  const dir = tempDir(t);
  const a = await Spool.open({ dir, maxBytes: 1_000_000 });
  await a.append(events(0, 3));
  await a.append(events(3, 3));
  await a.append(events(6, 3));
  const r = await a.read(3);
  assert.equal(r!.events.length, 3);
  await a.ack(r!.cursor);
  await a.close(); // simulates the end of the process: nothing is flushed beyond what append already wrote
  const b = await Spool.open({ dir, maxBytes: 1_000_000 });
  assert.deepEqual(
    await readAll(b),
    events(3, 6).map((e) => e.auditID),
  );
  await b.close();
});

test('the byte cap drops what does not fit, counted and logged', async (t) => {
  const dir = tempDir(t);
  const metrics = new SinkMetrics('s', new Registry());
  const logger = captureLogger();
  const one = Buffer.byteLength(JSON.stringify(events(0, 1)[0])) + 1;
  const s = await Spool.open({ dir, maxBytes: one * 4 + 10 }, { metrics, logger });
  const kept = await s.append(events(0, 6));
  assert.equal(kept, 4);
  assert.equal(await s.append(events(6, 1)), 0);
  assert.equal(metrics.snapshot().dropped.spool_full, 3);
  assert.equal(metrics.snapshot().spooled, 4);
  assert.deepEqual(
    logger.lines.flatMap((l) => l.fields?.auditIDs as string[]),
    events(4, 3).map((e) => e.auditID),
  );
  assert.deepEqual(
    await readAll(s),
    events(0, 4).map((e) => e.auditID),
  );
  // Acknowledged bytes free room again.
  assert.equal(await s.append(events(7, 2)), 2);
  await s.close();
});

test('a torn tail (crash mid-append) ends its segment; the records before it survive', async (t) => {
  const dir = tempDir(t);
  const a = await Spool.open({ dir, maxBytes: 1_000_000 });
  await a.append(events(0, 2));
  await a.close();
  const seg = readdirSync(dir).find((f) => f.endsWith('.spool'))!;
  const size = statSync(join(dir, seg)).size;
  appendFileSync(join(dir, seg), Buffer.from([0, 0, 1, 0, 1, 2, 3])); // a header promising 256 bytes, cut short
  const metrics = new SinkMetrics('s', new Registry());
  const logger = captureLogger();
  const b = await Spool.open({ dir, maxBytes: 1_000_000 }, { metrics, logger });
  await b.append(events(2, 1));
  assert.deepEqual(
    await readAll(b),
    events(0, 3).map((e) => e.auditID),
  );
  assert.equal(logger.lines.length, 1);
  assert.equal(logger.lines[0]!.fields?.offset, size);
  assert.equal(metrics.snapshot().errors, 1);
  await b.close();
});

test('a corrupt checksum is detected', async (t) => {
  const dir = tempDir(t);
  const a = await Spool.open({ dir, maxBytes: 1_000_000 });
  await a.append(events(0, 1));
  await a.close();
  const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.spool'))!);
  const buf = readFileSync(seg);
  buf[buf.length - 3] ^= 0xff;
  writeFileSync(seg, buf);
  const logger = captureLogger();
  const b = await Spool.open({ dir, maxBytes: 1_000_000 }, { logger });
  assert.equal(await b.read(10), null);
  assert.equal(logger.lines[0]!.fields?.why, 'checksum mismatch');
  await b.close();
});

test('bad options are refused', async () => {
  await assert.rejects(Spool.open({ dir: '', maxBytes: 1 }), /spool.dir is required/);
  await assert.rejects(Spool.open({ dir: '/tmp/x', maxBytes: 0 }), /maxBytes must be > 0/);
});

test('one writer per directory: a second open is refused while the first lives; a dead owner’s lock is taken over', async (t) => {
  const dir = tempDir(t);
  const a = await Spool.open({ dir, maxBytes: 1000 });
  await assert.rejects(Spool.open({ dir, maxBytes: 1000 }), /already open in this process/);
  await a.close();
  writeFileSync(join(dir, 'LOCK'), String(process.ppid));
  await assert.rejects(Spool.open({ dir, maxBytes: 1000 }), /in use by process/);
  writeFileSync(join(dir, 'LOCK'), '999999999');
  const b = await Spool.open({ dir, maxBytes: 1000 });
  assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), String(process.pid));
  await b.close();
  assert.ok(!readdirSync(dir).includes('LOCK'));
});
