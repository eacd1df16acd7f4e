import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { Registry } from '../../src/metrics/registry.ts';
import { BufferedSink, TokenBucket } from '../../src/sinks/buffered.ts';
import { SinkMetrics } from '../../src/sinks/metrics.ts';
import type { Sink } from '../../src/sinks/types.ts';
import { captureLogger, events, waitFor } from './helpers.ts';

/** A delegate whose writes stay pending until released, recording concurrency. */
function gated(): Sink & { batches: AuditEvent[][]; open: number; maxOpen: number; release(): void } {
  const waiting: (() => void)[] = [];
  const s = {
    batches: [] as AuditEvent[][],
    open: 0,
    maxOpen: 0,
    release() {
      for (const r of waiting.splice(0)) r();
    },
    async write(b: AuditEvent[]) {
      s.batches.push(b);
      s.open++;
      s.maxOpen = Math.max(s.maxOpen, s.open);
      await new Promise<void>((r) => waiting.push(r));
      s.open--;
    },
    flush: async () => {},
    close: async () => {},
  };
  return s;
}

test('without an overflow target, what does not fit the buffer is dropped, counted and logged', async () => {
  const d = gated();
  const metrics = new SinkMetrics('b', new Registry());
  const logger = captureLogger();
  const b = new BufferedSink(
    d,
    { bufferSize: 5, maxBatchSize: 100, maxWaitMs: 60_000, throttle: false },
    { metrics, logger },
  );
  await b.write(events(0, 8));
  assert.equal(metrics.snapshot().dropped.buffer_full, 3);
  assert.deepEqual(
    logger.lines[0]!.fields?.auditIDs,
    events(5, 3).map((e) => e.auditID),
  );
  const flushed = b.flush();
  await waitFor(() => d.batches.length === 1, 'the buffered batch');
  d.release();
  await flushed;
  assert.deepEqual(
    d.batches[0]!.map((e) => e.auditID),
    events(0, 5).map((e) => e.auditID),
  );
});

test('with an overflow target, the excess goes there instead', async () => {
  const d = gated();
  const spilled: AuditEvent[] = [];
  const b = new BufferedSink(
    d,
    { bufferSize: 2, maxBatchSize: 100, maxWaitMs: 60_000, throttle: false },
    { overflow: async (es) => void spilled.push(...es) },
  );
  await b.write(events(0, 5));
  assert.equal(spilled.length, 3);
  const closing = b.close();
  await waitFor(() => d.batches.length === 1, 'the drain on close');
  d.release();
  await closing;
  await assert.rejects(b.write(events(9, 1)), /closed/);
});

test('batches in flight are bounded by maxInFlight; the buffer holds the rest', async () => {
  const d = gated();
  const b = new BufferedSink(d, {
    bufferSize: 1000,
    maxBatchSize: 2,
    maxWaitMs: 60_000,
    throttle: false,
    maxInFlight: 3,
  });
  await b.write(events(0, 20));
  await waitFor(() => d.batches.length === 3, 'three batches in flight');
  assert.equal(d.open, 3);
  const flushed = b.flush();
  while (d.batches.length < 10) {
    d.release();
    await waitFor(() => d.open > 0 || d.batches.length === 10, 'the next batches');
  }
  d.release();
  await flushed;
  assert.equal(d.maxOpen, 3);
  assert.deepEqual(
    d.batches.flat().map((e) => e.auditID),
    events(0, 20).map((e) => e.auditID),
  );
});

test('the token bucket lets a burst through, then qps', () => {
  let now = 0;
  const tb = new TokenBucket(10, 3, () => now);
  assert.deepEqual([tb.take(), tb.take(), tb.take()], [0, 0, 0]);
  assert.equal(Math.round(tb.take()), 100, 'the fourth waits one token: 1/10 s');
  now += 1000;
  assert.equal(tb.take(), 0, 'refilled (up to burst) after a second');
});

test('invalid batch options are refused', () => {
  const d = gated();
  assert.throws(() => new BufferedSink(d, { maxBatchSize: 0 }), /batch.maxBatchSize must be an integer ≥ 1/);
  assert.throws(() => new BufferedSink(d, { throttle: { qps: 0, burst: 1 } }), /qps > 0/);
});
