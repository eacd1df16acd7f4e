// The agent against kube-apiserver's log backend: Vigil's own log sink writes audit events with a tiny maxsize, so
// the file is renamed away and recreated every few events (and old copies are pruned past maxbackup) while the agent
// follows it. The agent is killed with SIGKILL twice and started again, and the collector is stopped for a while and
// started again; at the end every event written is stored exactly once.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { defaultEncoders, LogSink } from '../../src/sinks/index.ts';
import { freePort } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { Agent, agentArgs, Collector, events, ids, waitFor } from './helpers.ts';

const dir = tempDir('vigil-ship-rotation-');
const logDir = path.join(dir, 'audit');
const log = path.join(logDir, 'audit.log');
let collector: Collector;
after(() => collector?.stop());

test('rename-and-create rotation, two SIGKILLs and a collector outage: every event stored exactly once', async () => {
  collector = new Collector(path.join(dir, 'collector'), await freePort());
  await collector.start();
  // Written 5 events (~2.4 kB) at a time: a new file every 5 events, 110 in all; 60 rotated copies kept, the older
  // ones removed. The most that waits unshipped at any time (48 files) stays under that.
  const sink = new LogSink({ path: log, maxsize: 0.004, maxbackup: 60, maxage: 0, encoders: defaultEncoders });
  let written = 0;
  const write = async (n: number) => {
    for (let i = 0; i < n; i += 5) {
      await sink.write(events('rot', written, Math.min(5, n - i)));
      written += Math.min(5, n - i);
    }
  };
  const args = agentArgs(dir, collector, [log], ['--batch-size', '7']);
  let logs = '';
  const start = async () => {
    if (agent) logs += `--- agent ---\n${agent.log}`;
    const a = new Agent(args, await freePort());
    await a.ready();
    return a;
  };
  let agent: Agent | undefined;
  const stored = async (n: number, why: string) => {
    try {
      await waitFor(`${n} events stored (${why})`, async () => (await collector.total()) >= n, 120_000);
    } catch (err) {
      const state = readFileSync(path.join(dir, 'state', 'ship-state.json'), 'utf8');
      const got = new Set(await collector.auditIDs());
      const missing = ids('rot', written).filter((id) => !got.has(id));
      throw new Error(
        `${(err as Error).message}; stored ${got.size}; missing ${missing.join(' ')}; state ${state.length}; agents: ${logs} --- agent ---\n${agent?.log.slice(-4000)}`,
      );
    }
  };

  try {
    // 1. The agent follows the log as it rotates, and is killed in the middle of it.
    agent = await start();
    await write(200);
    await stored(60, 'first agent');
    await agent.kill();
    await write(100);

    // 2. A second agent resumes from the saved state (the file it was in has been renamed meanwhile); killed again.
    agent = await start();
    await stored(250, 'second agent');
    await agent.kill();
    await write(100);

    // 3. A third agent catches up; then the collector is down while more is written, and comes back.
    const third = await start();
    agent = third;
    await stored(written, 'third agent');
    await collector.stop();
    await write(150);
    await waitFor('the agent to see the collector down', async () => {
      const s = await third.status();
      return (
        s.collector === 'down' && s.lagEvents > 0 && (await third.metric('vigil_ship_delivery_failures_total')) >= 2
      );
    });
    const down = await third.status();
    assert.ok(down.lagBytes > 0, 'the lag in bytes shows what waits in the files');
    await collector.start();
    await stored(written, 'after the outage');
    await waitFor('no lag left', async () => (await third.status()).lagEvents === 0);

    // Every event, once; none lost to rotation or pruning.
    const got = await collector.auditIDs();
    assert.equal(got.length, written);
    assert.deepEqual([...got].sort(), ids('rot', written));
    assert.equal(await third.metric('vigil_ship_lost_bytes_total'), 0);
    assert.ok((await third.metric('vigil_ship_rotations_total{kind="rotated"}')) > 0);
    // The sink did rotate many times and prune the oldest copies past maxbackup.
    const files = readdirSync(logDir).filter((f) => f.startsWith('audit-'));
    assert.equal(files.length, 60, `rotated copies kept: ${files.length}`);
    assert.equal(await third.stop(), 0, 'SIGTERM stops the agent cleanly');
  } finally {
    await sink.close();
  }
});
