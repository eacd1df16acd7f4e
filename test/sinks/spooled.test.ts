import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '../../src/event/model.ts';
import { Registry } from '../../src/metrics/registry.ts';
import { SinkMetrics } from '../../src/sinks/metrics.ts';
import { Spool } from '../../src/sinks/spool.ts';
import { SpooledSink } from '../../src/sinks/spooled.ts';
import { DeliveryError, type Sink } from '../../src/sinks/types.ts';
import { captureLogger, event, events, tempDir, waitFor } from './helpers.ts';

test('an event that can never be sent (not a delivery failure) is dropped and counted, not replayed for ever', async (t) => {
  const dir = tempDir(t);
  const seed = await Spool.open({ dir, maxBytes: 1_000_000 });
  await seed.append(events(0, 3));
  await seed.append([event(3, { verb: 'poison' })]);
  await seed.append(events(4, 3));
  await seed.close();
  const got: string[] = [];
  let outage = 2; // the first two attempts fail as deliveries: those must be retried, not dropped
  const delegate: Sink = {
    async write(batch: AuditEvent[]) {
      if (outage-- > 0) throw new DeliveryError('down', { retryable: true });
      if (batch.some((e) => e.verb === 'poison')) throw new TypeError('cannot encode');
      got.push(...batch.map((e) => e.auditID));
    },
    flush: async () => {},
    close: async () => {},
  };
  const metrics = new SinkMetrics('s', new Registry());
  const logger = captureLogger();
  const spool = await Spool.open({ dir, maxBytes: 1_000_000 }, { metrics });
  const sink = new SpooledSink(delegate, spool, { metrics, logger, replayBackoffMs: 1, replayBatchSize: 100 });
  await waitFor(() => !spool.hasPending() && metrics.snapshot().replayed === 6, 'the spool to drain');
  assert.deepEqual(got.sort(), [...events(0, 3), ...events(4, 3)].map((e) => e.auditID).sort());
  assert.equal(metrics.snapshot().dropped.delivery_failed, 1);
  assert.deepEqual(logger.lines.find((l) => l.level === 'error')?.fields?.auditIDs, [event(3).auditID]);
  await sink.close();
});
