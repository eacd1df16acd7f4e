// The collector's part: the signing key is created on first start, a checkpoint follows the start, each retention
// step and the shutdown, and the store it leaves verifies.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { vigil } from '../helpers/cli.ts';
import { startTestServer } from '../server/helpers.ts';
import { makeEvent } from '../store/contract.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

test('serve creates the signing key, checkpoints at start, after retention and at shutdown; the store verifies', async () => {
  const server = await startTestServer('retention: 1m\nintegrity:\n  checkpointInterval: 1h\n', {
    now: () => T0 + 60_000 + 5_500,
  });
  const { dir } = server;
  try {
    const key = path.join(dir, 'vigil-signing.key');
    assert.ok(existsSync(key));
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.match(readFileSync(path.join(dir, 'vigil-signing.pub'), 'utf8'), /BEGIN PUBLIC KEY/);
    await server.store.append(Array.from({ length: 10 }, (_, i) => makeEvent({}, T0 + i * 1000)));
    assert.equal(await server.retention.runOnce(), 6);
    const db = new DatabaseSync(path.join(dir, 'vigil.db'), { readOnly: true });
    const afterRetention = (db.prepare('SELECT count(*) AS n FROM checkpoints').get() as { n: number }).n;
    db.close();
    assert.equal(afterRetention, 2);
    await server.store.append([makeEvent({}, T0 + 20_000)]);
    await server.close();
    const db2 = new DatabaseSync(path.join(dir, 'vigil.db'), { readOnly: true });
    const cps = db2.prepare('SELECT last_seq, count FROM checkpoints ORDER BY seq').all();
    db2.close();
    assert.deepEqual(
      cps.map((c) => [c.last_seq, c.count]),
      [
        [1, 0],
        [17, 4],
        [18, 5],
      ],
    );

    const r = await vigil(['verify', '--data', dir]);
    assert.equal(r.code, 0, r.err);
    // the checkpoint at start anchors the walk: retention cut the genesis entry it covered
    assert.match(r.out, /trail intact: 17 chain entries, 5 events, 2 checkpoints/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('integrity.checkpointLog: every checkpoint the collector signs is also in the log, and verify --checkpoints passes', async () => {
  const outside = mkdtempSync(path.join(os.tmpdir(), 'vigil-cplog-'));
  const log = path.join(outside, 'nested', 'checkpoints.jsonl');
  const server = await startTestServer(`integrity:\n  checkpointInterval: 1h\n  checkpointLog: ${log}\n`);
  const { dir } = server;
  try {
    await server.store.append(Array.from({ length: 3 }, (_, i) => makeEvent({}, T0 + i * 1000)));
    await server.close();
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].format, 'vigil-checkpoints/1');
    assert.deepEqual(
      lines.slice(1).map((l) => [l.type, l.seq, l.lastSeq]),
      [
        ['checkpoint', 1, 1],
        ['checkpoint', 2, 4],
      ],
    );
    const r = await vigil(['verify', '--data', dir, '--checkpoints', log]);
    assert.equal(r.code, 0, r.err);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
