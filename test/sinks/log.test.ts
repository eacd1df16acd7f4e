import assert from 'node:assert/strict';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Registry } from '../../src/metrics/registry.ts';
import { createSink } from '../../src/sinks/create.ts';
import { defaultEncoders } from '../../src/sinks/encoders.ts';
import { backupTimestamp, LogSink } from '../../src/sinks/log.ts';
import { captureLogger, event, events, tempDir } from './helpers.ts';

const lineBytes = Buffer.byteLength(`${defaultEncoders.formatKubernetesJSON(event(0))}\n`);

function allLines(dir: string, base: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.startsWith(base)) continue;
    const raw = readFileSync(join(dir, f));
    const text = f.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
    out.push(...text.split('\n').filter(Boolean));
  }
  return out;
}

test('json lines, one per event, in a 0600 file under new 0700 directories', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'audit.log');
  const sink = await createSink({ type: 'log', path }, { registry: new Registry() });
  await sink.write(events(0, 3));
  await sink.write([event(3)]);
  await sink.close();
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).auditID),
    events(0, 4).map((e) => e.auditID),
  );
  assert.equal(JSON.parse(lines[0]!).kind, 'Event');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  assert.equal(sink.metrics.snapshot().delivered, 4);
  await assert.rejects(sink.write([event(9)]), /closed/);
});

test('legacy and cadf formats use the injected encoders; - writes to stdout', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => {
    text += d;
  });
  const legacy = new LogSink({ path: '-', format: 'legacy', encoders: defaultEncoders, stdout: out });
  await legacy.write([event(1)]);
  const cadf = new LogSink({
    path: '-',
    format: 'cadf',
    encoders: { ...defaultEncoders, encodeCadf: (e) => ({ id: e.auditID, typeURI: 'cadf' }) },
    stdout: out,
  });
  await cadf.write([event(2)]);
  await legacy.close();
  await cadf.close();
  const [l1, l2] = text.split('\n');
  assert.equal(l1, defaultEncoders.formatLegacyLine(event(1)));
  assert.deepEqual(JSON.parse(l2!), { id: event(2).auditID, typeURI: 'cadf' });
  assert.throws(
    () => new LogSink({ path: 'x', format: 'xml' as 'json', encoders: defaultEncoders }),
    /log.format must be json, legacy or cadf/,
  );
});

test('rotation at maxsize keeps maxbackup lumberjack-named backups and loses no line', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.log');
  // Room for 3 lines per file; the clock gives each rotation a distinct, increasing name.
  let clock = Date.parse('2026-11-23T10:00:00.000Z');
  const sink = new LogSink({
    path,
    maxsize: (lineBytes * 3) / (1024 * 1024),
    maxbackup: 2,
    encoders: defaultEncoders,
    now: () => (clock += 1000),
  });
  const all = events(0, 20);
  for (const e of all) await sink.write([e]);
  await sink.close();
  const backups = readdirSync(dir)
    .filter((f) => f !== 'audit.log')
    .sort();
  assert.equal(backups.length, 2, `maxbackup keeps 2, found ${backups.join(' ')}`);
  for (const b of backups) assert.match(b, /^audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log$/);
  // The newest backups and the live file hold the last events, in order, with no gap.
  const lines = allLines(dir, 'audit').map((l) => JSON.parse(l).auditID);
  assert.deepEqual(
    lines,
    all.slice(all.length - lines.length).map((e) => e.auditID),
  );
  assert.ok(lines.length >= 5, `two full backups and the live file, got ${lines.length} lines`);
  for (const f of readdirSync(dir)) assert.ok(statSync(join(dir, f)).size <= lineBytes * 3 + 3, f);
});

test('rotated files are gzipped, and pruned by maxage from the time in their name', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.json');
  const now = Date.parse('2026-11-23T10:00:00.000Z');
  // An old backup (400 days) must go; a recent one must stay (and be compressed).
  const old = join(dir, `audit-${backupTimestamp(now - 400 * 86_400_000)}.json`);
  const recent = join(dir, `audit-${backupTimestamp(now - 2 * 86_400_000)}.json`);
  writeFileSync(old, 'old\n');
  writeFileSync(recent, 'recent\n');
  const sink = new LogSink({
    path,
    maxsize: (lineBytes * 2) / (1024 * 1024),
    maxbackup: 0,
    maxage: 366,
    compress: true,
    encoders: defaultEncoders,
    now: () => now,
  });
  for (const e of events(0, 5)) await sink.write([e]);
  await sink.close();
  const files = readdirSync(dir).sort();
  assert.ok(!files.includes(old.split('/').pop()!), 'older than maxage: removed');
  assert.ok(!files.some((f) => f.endsWith('.json') && f !== 'audit.json'), `all backups gzipped: ${files.join(' ')}`);
  assert.ok(files.includes(`${recent.split('/').pop()}.gz`));
  const ids = allLines(dir, 'audit-')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l).auditID);
  const live = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  assert.equal(ids.length + live.length, 5, 'every event is in a backup or the live file');
  assert.equal(gunzipSync(readFileSync(`${recent}.gz`)).toString(), 'recent\n');
});

test('maxsize 0 never rotates', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.log');
  const sink = new LogSink({ path, maxsize: 0, encoders: defaultEncoders });
  for (const e of events(0, 50)) await sink.write([e]);
  await sink.close();
  assert.deepEqual(readdirSync(dir), ['audit.log']);
  assert.equal(readFileSync(path, 'utf8').split('\n').filter(Boolean).length, 50);
});

test('a deleted or moved log file is noticed and recreated (kubernetes#111208)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.log');
  const logger = captureLogger();
  const sink = new LogSink({ path, reopenCheckMs: 0, encoders: defaultEncoders, logger });
  await sink.write([event(1)]);
  rmSync(path);
  await sink.write([event(2)]);
  assert.ok(existsSync(path));
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).auditID, event(2).auditID);
  renameSync(path, join(dir, 'moved.log'));
  await sink.write([event(3)]);
  await sink.close();
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).auditID, event(3).auditID);
  assert.equal(logger.lines.filter((l) => /deleted or moved/.test(l.msg)).length, 2);
});

test('log batch mode buffers and flushes on close', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.log');
  const sink = await createSink(
    { type: 'log', path, mode: 'batch', batch: { maxBatchSize: 10, maxWaitMs: 60_000 } },
    { registry: new Registry() },
  );
  await sink.write(events(0, 25));
  await sink.close();
  assert.equal(readFileSync(path, 'utf8').split('\n').filter(Boolean).length, 25);
});

test('blocking mode counts a failed write; blocking-strict throws it', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), '');
  const path = join(dir, 'file', 'audit.log'); // a directory that is a file: every open fails
  const logger = captureLogger();
  const blocking = await createSink({ type: 'log', path }, { registry: new Registry(), logger });
  await blocking.write([event(1)]);
  assert.equal(blocking.metrics.snapshot().dropped.delivery_failed, 1);
  assert.deepEqual(logger.lines[0]!.fields?.auditIDs, [event(1).auditID]);
  const strict = await createSink({ type: 'log', path, mode: 'blocking-strict' }, { registry: new Registry() });
  await assert.rejects(strict.write([event(1)]), /ENOTDIR|EEXIST/);
  await blocking.close();
  await strict.close();
  utimesSync(dir, new Date(), new Date());
});
