// Forwarding survives faults: ingest runs continuously (a real producer with its spool) while the rsyslog destination
// is stopped for a while and the collector is SIGKILLed and restarted, twice. Afterwards rsyslog holds every stored
// event at least once, first seen in the stored order, and the duplicates of each collector restart are at most one
// batch (those of rsyslog's own stop are the events it may have dropped unread, sent again: counted apart).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { freePort, waitFor } from '../helpers/net.ts';
import { startRsyslog } from '../helpers/rsyslog.ts';
import { tempDir } from '../helpers/temp.ts';
import { type Child, kill, killAll, startCollector, startProducer } from './helpers.ts';

const BATCH = 100;
let collector: Child | undefined;
let producer: Child | undefined;
after(async () => {
  await killAll();
});

function storedIds(db: string): string[] {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    return (d.prepare('SELECT id FROM events ORDER BY id').all() as { id: number }[]).map((r) => String(r.id));
  } finally {
    d.close();
  }
}

const idsOf = (lines: string[]) => lines.map((l) => /\[vigil@32473 id="(\d+)"/.exec(l)?.[1] ?? '?');

test('rsyslog stopped a while and the collector killed twice during ingest: every event forwarded, few duplicates', {
  timeout: 300_000,
}, async () => {
  const rs = await startRsyslog();
  const dir = tempDir('vigil-fault-forward-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = path.join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    `forward:\n  - { name: siem, type: syslog, url: "tcp://127.0.0.1:${rs.port}", batchSize: ${BATCH} }\n`,
  );
  const args = ['--config', config, '--listen', `127.0.0.1:${port}`, '--data', path.join(dir, 'data')];
  const db = path.join(dir, 'data', 'vigil.db');
  const stored = async () => {
    const r = await fetch(`${url}/api/v1/events?size=1`).catch(() => undefined);
    return r?.ok ? ((await r.json()) as { total: number }).total : 0;
  };

  collector = await startCollector(url, args);
  producer = startProducer([`${url}/audit/webhook/event`, path.join(dir, 'spool'), '6000', '{"perTick":10}']);
  const restart = async () => {
    await kill(collector);
    collector = await startCollector(url, args);
  };

  await waitFor('events in rsyslog', () => rs.lines().length >= 300, 60_000);
  await rs.stop();
  const beforeStop = rs.lines().length;
  let n = await stored();
  await waitFor('ingest while rsyslog is down', async () => (await stored()) >= n + 300, 60_000);
  await restart(); // kill 1: destination down, cursor behind
  n = await stored();
  await waitFor('ingest after the restart', async () => (await stored()) >= n + 300, 60_000);
  await rs.start();
  const back = rs.lines().length;
  await waitFor('the backlog flowing', () => rs.lines().length >= back + 300, 60_000);
  await restart(); // kill 2: while catching up

  const code = await Promise.race([
    producer.exited,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error('producer did not finish')), 120_000).unref()),
  ]);
  assert.equal(code, 0, producer.output());
  await waitFor(
    'rsyslog holding every stored event',
    () => {
      const got = new Set(idsOf(rs.lines()));
      return storedIds(db).every((id) => got.has(id));
    },
    60_000,
  );

  const ids = idsOf(rs.lines());
  const all = storedIds(db);
  assert.equal(all.length, 6000);
  const seen = new Set<string>();
  const firstSeen = ids.filter((id) => !seen.has(id) && seen.add(id));
  assert.deepEqual(firstSeen, all, 'each event first seen in the stored order');
  // resent because rsyslog stopped: events it had been sent before its stop and got again after
  const early = new Set(ids.slice(0, beforeStop));
  const rsyslogResent = new Set(ids.slice(beforeStop).filter((id) => early.has(id))).size;
  const duplicates = ids.length - all.length - rsyslogResent;
  assert.ok(duplicates <= 2 * BATCH, `${duplicates} duplicates from 2 collector restarts (batch ${BATCH})`);
  process.stdout.write(
    `# forwarded ${all.length} events; duplicates: ${duplicates} after 2 collector kills, ${rsyslogResent} resent after rsyslog's stop\n`,
  );
  await kill(producer);
  await kill(collector);
});
