// logrotate's copytruncate: the live file is copied to audit.log.1 (older copies shifted to .2 …) and truncated in
// place. The copy has a new inode but the first bytes of the file the agent was reading, so the agent finishes it
// from where it was; the truncated file starts over. Once with the agent running, once while it is dead.
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, renameSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { Agent, agentArgs, Collector, events, ids, jsonLines, waitFor } from './helpers.ts';

const dir = tempDir('vigil-ship-copytruncate-');
const log = path.join(dir, 'audit', 'audit.log');
let collector: Collector;
after(() => collector?.stop());

test('copy-truncate rotation, with the agent running and while it is dead: every event stored exactly once', async () => {
  collector = new Collector(path.join(dir, 'collector'), await freePort());
  await collector.start();
  mkdirSync(path.dirname(log));
  let written = 0;
  const write = (n: number) => {
    appendFileSync(log, jsonLines(events('ct', written, n)));
    written += n;
  };
  const copyTruncate = () => {
    renameSync(`${log}.1`, `${log}.2`);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
  };
  const stored = (n: number) => waitFor(`${n} events stored`, async () => (await collector.total()) >= n, 120_000);
  const args = agentArgs(dir, collector, [log], ['--batch-size', '4']);

  let agent = new Agent(args, await freePort());
  await agent.ready();
  write(10);
  await stored(10);
  // Lines the agent may or may not have read yet when the copy is made and the original emptied.
  write(5);
  copyFileSync(log, `${log}.1`);
  truncateSync(log, 0);
  write(5);
  await stored(20);

  await agent.kill();
  write(5);
  copyTruncate();
  write(5);
  agent = new Agent(args, await freePort());
  await agent.ready();
  await stored(30);

  const got = await collector.auditIDs();
  assert.deepEqual([...got].sort(), ids('ct', 30));
  assert.equal(
    await agent.metric('vigil_ship_rotations_total{kind="copied"}'),
    1,
    'the copy was found by its first bytes',
  );
  assert.equal(await agent.metric('vigil_ship_rotations_total{kind="truncated"}'), 1);
  assert.equal(await agent.metric('vigil_ship_lost_bytes_total'), 0);
  await agent.stop();
});
