// An event the collector refuses (400: here a field over its ingest.limits) must not hold back the others of its
// batch: the batch is halved until the refused event is alone, which is reported and skipped.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { Agent, agentArgs, Collector, events, jsonLines, waitFor } from './helpers.ts';

const dir = tempDir('vigil-ship-refused-');
const log = path.join(dir, 'audit', 'audit.log');
let collector: Collector;
after(() => collector?.stop());

test('an event the collector refuses is skipped and reported; the rest of its batch is stored', async () => {
  collector = new Collector(
    path.join(dir, 'collector'),
    await freePort(),
    'ingest: { limits: { maxFieldLength: 256 } }\n',
  );
  await collector.start();
  mkdirSync(path.dirname(log));
  const list = events('ref', 0, 6);
  list[3]!.user = { username: 'u'.repeat(300) };
  appendFileSync(log, jsonLines(list));
  const agent = new Agent(agentArgs(dir, collector, [log], ['--batch-size', '6']), await freePort());
  try {
    await agent.ready();
    await waitFor(
      'the refused event reported',
      async () => (await agent.metric('vigil_ship_lines_skipped_total{reason="refused"}')) === 1,
    );
    await waitFor('nothing left to ship', async () => (await agent.status()).lagEvents === 0);
    assert.deepEqual((await collector.auditIDs()).sort(), [
      'ref-00000',
      'ref-00001',
      'ref-00002',
      'ref-00004',
      'ref-00005',
    ]);
    assert.match(agent.log, /the collector refused this event: skipped.*"at":"audit.log:4".*"auditID":"ref-00003"/);
  } finally {
    await agent.stop();
  }
});
