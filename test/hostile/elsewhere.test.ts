// The same class as issue 15's far timestamps, elsewhere: durations (retention, alert windows, ship flags, `vigil
// query --since`) beyond any real span, `--since`/`--limit` of the CLI, and retention with a cutoff centuries back,
// on SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, parseConfig, parseDuration } from '../../src/config/index.ts';
import { MAX_DURATION_MS } from '../../src/config/spec.ts';
import { EventValidationError } from '../../src/event/index.ts';
import { LineDecoder } from '../../src/ship/decode.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { startRetention } from '../../src/store/retention.ts';
import { vigil } from '../helpers/cli.ts';
import { dropSchema, PG_URL } from '../helpers/postgres.ts';
import { event, startTestServer, type TestServer } from '../server/helpers.ts';

test('durations longer than a century are refused where configured, with file:line:col', () => {
  assert.equal(parseDuration('99999999999999999999w'), undefined);
  assert.equal(parseDuration('5219w'), undefined);
  assert.equal(parseDuration('5218w'), MAX_DURATION_MS);
  for (const yaml of [
    'retention: 99999999999999999999w\n',
    'alerts:\n  groupWindow: 99999999999999999999d\n',
    'integrity:\n  checkpointInterval: 9999999999999999h\n',
    'ingest:\n  limits:\n    maxClockSkew: 99999999999999999999w\n',
  ]) {
    assert.throws(
      () => parseConfig(yaml, 'vigil.yaml', {}),
      (err: unknown) => err instanceof ConfigError && /^vigil\.yaml:\d+:\d+: .*at most 5218w/.test(err.message),
      yaml,
    );
  }
});

test('durations and numbers that become timers stop at 2^31 − 1 ms; ints at the exact integers', () => {
  for (const yaml of [
    'integrity:\n  checkpointInterval: 30d\n',
    'receivers:\n  - { name: r, type: webhook, url: "http://127.0.0.1:1/", timeout: 30d }\n',
    'capture:\n  sinks:\n    - { type: webhook, url: "http://127.0.0.1:1/", timeoutMs: 1e12 }\n',
    'capture:\n  sinks:\n    - { type: webhook, url: "http://127.0.0.1:1/", retry: { maxRetryAfterMs: 1e300 } }\n',
    'query:\n  maxHistogramBuckets: 1e300\n',
    'ingest:\n  limits:\n    maxEvents: 9007199254740993\n',
  ]) {
    assert.throws(
      () => parseConfig(yaml, 'vigil.yaml', {}),
      (err: unknown) => err instanceof ConfigError && /^vigil\.yaml:\d+:\d+: .*must be/.test(err.message),
      yaml,
    );
  }
  assert.equal(
    parseConfig('integrity:\n  checkpointInterval: 24d\n', 'vigil.yaml', {}).integrity.checkpointIntervalMs,
    24 * 86_400_000,
  );
});

test('vigil ship refuses a timer flag beyond 24 days', async () => {
  // (--status-interval is bad too, checked after it: so the test fails rather than ships, where 30d is taken)
  const args = ['--file', '/nonexistent.log', '--to', 'http://127.0.0.1:1', '--poll-interval', '30d'];
  const r = await vigil(['ship', ...args, '--status-interval', 'soon']);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^vigil ship: --poll-interval: /);
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`retention with a cutoff centuries back runs (${kind})`, () => {
    let store: Store;
    let dir: string;
    const schema = `vigil_hostile_time_r${process.pid}`;
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hostile-time-'));
      if (kind === 'postgres') await dropSchema(schema);
      store = await openStore(
        kind === 'postgres'
          ? { type: 'postgres', url: PG_URL, schema }
          : { type: 'sqlite', path: path.join(dir, 'vigil.db') },
      );
      await store.append([event({ auditID: 'kept' })]);
    });
    after(async () => {
      await store.close();
      if (kind === 'postgres') await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    });

    test('the longest retention, and a direct call far beyond it, delete nothing and fail nothing', async () => {
      const r = startRetention(store, { maxAgeMs: MAX_DURATION_MS, intervalMs: 3_600_000 });
      try {
        assert.equal(await r.runOnce(), 0);
      } finally {
        await r.stop();
      }
      assert.equal(await store.deleteBefore(Date.now() - 6e28, 10), 0);
      assert.equal((await store.query({}, { sort: 'desc', size: 1 })).total, 1);
    });
  });
}

describe('vigil query and vigil verify: spans and counts', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
    const r = await s.post('/ingest/events', JSON.stringify([event({ auditID: 'a' })]));
    assert.equal(r.status, 200);
  });
  after(() => s.stop());
  const server = () => ['--server', s.url];

  test('--since reaching before 1970 means everything; beyond a century or not a count is exit 2', async () => {
    let r = await vigil(['query', ...server(), '--since', '5218w', '-o', 'jsonl']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /"auditID":"a"/);
    for (const args of [
      ['--since', '99999999999999999999w'],
      ['--limit', '1.5'],
      ['--limit', '1e400'],
    ]) {
      r = await vigil(['query', ...server(), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    r = await vigil(['tail', ...server(), '--limit', '0.5']);
    assert.equal(r.code, 2, r.err);
  });

  test('vigil verify --since takes the one timestamp parser and the accepted range', async () => {
    for (const since of ['2024-02-30T00:00:00Z', '99999999999999999999', '9999-12-31T00:00:00Z']) {
      const r = await vigil(['verify', '--data', s.dir, '--since', since]);
      assert.equal(r.code, 2, `${since}: ${r.out} ${r.err}`);
      assert.match(r.err, /--since/);
    }
  });
});

test('the ship agent leaves a time ahead of its clock to the collector, and skips what no collector keeps', () => {
  const d = new LineDecoder();
  const line = (t: string) => JSON.stringify(event({ auditID: 'x', requestReceivedTimestamp: t, stageTimestamp: t }));
  const ahead = new Date(Date.now() + 2 * 3_600_000).toISOString();
  assert.equal(d.decode(line(ahead)).length, 1);
  for (const t of ['9999-12-31T23:59:59Z', '1969-12-31T23:59:59Z'])
    assert.throws(() => d.decode(line(t)), EventValidationError, t);
});
