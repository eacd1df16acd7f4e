// The NATS JetStream destination against a real nats-server started with JetStream on a free port: every event
// published with its publish acknowledgement, in order, its id as Nats-Msg-Id, so that a replay (reset) and a
// server restart in the middle of a stream leave each event in the stream once.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { ForwardConfig } from '../../src/config/index.ts';
import { startForwarding } from '../../src/forward/index.ts';
import type { Store } from '../../src/store/types.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { tempDir } from '../helpers/temp.ts';
import { event, sqliteStore } from './helpers.ts';

const procs = new Set<ChildProcess>();
const stores: Store[] = [];
after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of stores) await s.close();
});

async function natsServer(): Promise<{ url: string; start(): Promise<void>; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = tempDir('vigil-forward-nats-');
  let proc: ChildProcess | undefined;
  const url = `nats://127.0.0.1:${port}`;
  const server = {
    url,
    async start() {
      const p = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
      procs.add(p);
      p.once('exit', () => procs.delete(p));
      proc = p;
      await waitFor('nats-server up', async () => {
        const nc = await connect({ servers: url, reconnect: false });
        await nc.close();
        return true;
      });
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    },
  };
  await server.start();
  after(() => server.stop());
  return server;
}

/** Every message of the stream: its Nats-Msg-Id and body. */
async function streamMessages(url: string): Promise<{ id: string; body: Record<string, unknown> }[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('AUDIT');
    const out: { id: string; body: Record<string, unknown> }[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage('AUDIT', { seq });
      if (m) out.push({ id: m.header.get('Nats-Msg-Id'), body: m.json() });
    }
    return out;
  } finally {
    await nc.close();
  }
}

test('NATS JetStream: acknowledged publishes, event id as Nats-Msg-Id, replay and server restart stored once', async () => {
  const nats = await natsServer();
  const nc = await connect({ servers: nats.url });
  await (await jetstreamManager(nc)).streams.add({ name: 'AUDIT', subjects: ['audit.>'] });
  await nc.close();

  const store = await sqliteStore();
  stores.push(store);
  const ids = (await store.append(Array.from({ length: 100 }, () => event()))).ids.map(String);
  const config = { type: 'nats', name: 'bus', url: nats.url, subject: 'audit.events', format: 'ocsf', timeout: 2000 };
  const fwd = startForwarding(store, [config as ForwardConfig], { pollMs: 50, minBackoffMs: 50 });
  try {
    await waitFor('100 messages in the stream', async () => (await streamMessages(nats.url)).length >= 100, 20_000);
    let got = await streamMessages(nats.url);
    assert.deepEqual(
      got.map((m) => m.id),
      ids,
    );
    assert.equal(got[0]!.body.class_uid, 6003);

    // a replay within the duplicate window stores nothing twice
    await fwd.reset('bus', Date.now() - 3_600_000);
    await waitFor('the replay sent', () => fwd.status()[0]!.delivered >= 200, 20_000);
    assert.equal((await streamMessages(nats.url)).length, 100);

    // nats-server down in the middle: what was stored meanwhile arrives once it is back, each event once
    await nats.stop();
    ids.push(...(await store.append(Array.from({ length: 50 }, () => event()))).ids.map(String));
    await waitFor('a failed attempt', () => fwd.status()[0]!.failed >= 1, 20_000);
    await nats.start();
    await waitFor('every event in the stream', async () => (await streamMessages(nats.url)).length >= 150, 30_000);
    got = await streamMessages(nats.url);
    assert.deepEqual(
      got.map((m) => m.id),
      ids,
    );
  } finally {
    await fwd.stop();
  }
});
