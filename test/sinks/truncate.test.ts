import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { Registry } from '../../src/metrics/registry.ts';
import { SinkMetrics } from '../../src/sinks/metrics.ts';
import { TRUNCATED_ANNOTATION, truncate } from '../../src/sinks/truncate.ts';
import type { Sink } from '../../src/sinks/types.ts';
import { captureLogger, event } from './helpers.ts';

function recorder(): Sink & { batches: AuditEvent[][] } {
  const batches: AuditEvent[][] = [];
  return { batches, write: async (b) => void batches.push(b), flush: async () => {}, close: async () => {} };
}

const size = (e: AuditEvent) => Buffer.byteLength(JSON.stringify(e));

test('an oversized Request-level event loses its objects and is annotated truncated', async () => {
  const r = recorder();
  const metrics = new SinkMetrics('t', new Registry());
  const big = event(1, {
    level: 'RequestResponse',
    requestObject: { data: 'x'.repeat(5000) },
    responseObject: { ok: 1 },
    annotations: { a: 'b' },
  });
  const small = event(2);
  const sink = truncate(r, { maxEventBytes: 2000, maxBatchBytes: 100_000, metrics, logger: captureLogger() });
  await sink.write([big, small]);
  assert.equal(r.batches.length, 1);
  const [cut, kept] = r.batches[0]!;
  assert.equal(cut!.requestObject, undefined);
  assert.equal(cut!.responseObject, undefined);
  assert.deepEqual(cut!.annotations, { a: 'b', [TRUNCATED_ANNOTATION]: 'true' });
  assert.equal(cut!.auditID, big.auditID);
  assert.equal(big.requestObject !== undefined, true, 'the caller’s event is not modified');
  assert.equal(kept, small, 'events within the limit pass through untouched');
  assert.equal(metrics.snapshot().truncated, 1);
});

test('an event still too large, or too large at Metadata level, is dropped and counted', async () => {
  const r = recorder();
  const metrics = new SinkMetrics('t', new Registry());
  const logger = captureLogger();
  const sink = truncate(r, { maxEventBytes: 1000, maxBatchBytes: 1000, metrics, logger });
  const hugeURI = event(1, { level: 'Request', requestURI: `/${'u'.repeat(2000)}`, requestObject: {} });
  const metaBig = event(2, { annotations: { big: 'v'.repeat(2000) } });
  await sink.write([hugeURI, event(3), metaBig]);
  assert.deepEqual(
    r.batches.flat().map((e) => e.auditID),
    [event(3).auditID],
  );
  assert.equal(metrics.snapshot().dropped.too_large, 2);
  assert.deepEqual(
    logger.lines.map((l) => l.fields?.auditID),
    [hugeURI.auditID, metaBig.auditID],
  );
});

test('batches are split by byte size, keeping order, at least one event per batch', async () => {
  const r = recorder();
  const es = Array.from({ length: 10 }, (_, i) => event(i));
  const one = size(es[0]!);
  const sink = truncate(r, { maxEventBytes: one, maxBatchBytes: one * 3 + 1 });
  await sink.write(es);
  assert.deepEqual(
    r.batches.map((b) => b.length),
    [3, 3, 3, 1],
  );
  assert.deepEqual(r.batches.flat(), es);
  for (const b of r.batches) assert.ok(b.reduce((n, e) => n + size(e), 0) <= one * 3 + 1);
});

test('invalid limits are refused', () => {
  assert.throws(() => truncate(recorder(), { maxEventBytes: 0 }), /maxEventBytes must be > 0/);
  assert.throws(() => truncate(recorder(), { maxEventBytes: 10, maxBatchBytes: 5 }), /must be ≥ maxEventBytes/);
});
