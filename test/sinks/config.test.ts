import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseSinkConfig, SinkConfigError } from '../../src/sinks/config.ts';

test('a full webhook configuration parses to the typed config, without undefined keys', () => {
  const c = parseSinkConfig({
    type: 'webhook',
    url: 'https://collector/audit',
    mode: 'batch',
    batch: { maxBatchSize: 100, throttle: false },
    retry: { initialBackoffMs: 500, jitter: 0.1 },
    body: 'openfaas',
    secret: 's',
    standardWebhooks: { secret: 'whsec_AAAA' },
    spool: { dir: '/var/spool/vigil', maxBytes: 1_000_000 },
    truncate: { maxEventBytes: 1000, maxBatchBytes: 10_000 },
  });
  assert.deepEqual(c, {
    type: 'webhook',
    url: 'https://collector/audit',
    mode: 'batch',
    batch: { maxBatchSize: 100, throttle: false },
    retry: { initialBackoffMs: 500, jitter: 0.1 },
    body: 'openfaas',
    secret: 's',
    standardWebhooks: { secret: 'whsec_AAAA' },
    spool: { dir: '/var/spool/vigil', maxBytes: 1_000_000 },
    truncate: { maxEventBytes: 1000, maxBatchBytes: 10_000 },
  });
  assert.deepEqual(parseSinkConfig({ type: 'log', path: '-', format: 'legacy', maxsize: 0 }), {
    type: 'log',
    path: '-',
    format: 'legacy',
    maxsize: 0,
  });
  assert.deepEqual(parseSinkConfig({ type: 'amqp', url: 'amqp://h', topics: ['notifications', 'audit'] }), {
    type: 'amqp',
    url: 'amqp://h',
    topics: ['notifications', 'audit'],
  });
});

test('errors name the key at fault', () => {
  const bad: [unknown, RegExp][] = [
    [{ type: 'webhook' }, /SinkConfigError: sink: needs exactly one of url, kubeconfig$/],
    [
      { type: 'webhook', url: 'http://x', batch: { maxBatchSize: 0 } },
      /SinkConfigError: sink\.batch\.maxBatchSize: must be at least 1$/,
    ],
    [{ type: 'webhook', url: 'http://x', bdoy: 'x' }, /SinkConfigError: sink\.bdoy: unknown key/],
    [
      { type: 'log', path: 'a', format: 'xml' },
      /SinkConfigError: sink\.format: must be one of json, legacy, cadf, not "xml"$/,
    ],
    [{ type: 'log' }, /SinkConfigError: sink: type log needs "path"$/],
    [
      { type: 'amqp', url: 'amqp://h', topics: ['ok', ''] },
      /SinkConfigError: sink\.topics\[1\]: must be a non-empty string$/,
    ],
    [
      { type: 'amqp', url: 'amqp://h', spool: { dir: '/d' } },
      /SinkConfigError: sink\.spool: missing required key "maxBytes"$/,
    ],
    [
      { type: 'log', path: 'a', truncate: { maxEventBytes: 10, maxBatchBytes: 5 } },
      /maxBatchBytes: must be ≥ maxEventBytes/,
    ],
    [{ type: 'kafka' }, /SinkConfigError: sink\.type: must be one of noop, log, webhook, amqp, not "kafka"$/],
    [
      { type: 'webhook', url: 'http://x', retry: { jitter: 2 } },
      /SinkConfigError: sink\.retry\.jitter: must be at most 1$/,
    ],
    ['log', /SinkConfigError: sink: must be a mapping$/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseSinkConfig(v), re, JSON.stringify(v));
});

test('the error path locates the YAML node', () => {
  const text = 'sinks:\n  - type: webhook\n    url: http://x\n    batch:\n      maxWaitMs: -1\n';
  const doc = parseDocument(text);
  const sinks = doc.toJS().sinks as unknown[];
  try {
    parseSinkConfig(sinks[0], ['sinks', 0]);
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof SinkConfigError);
    assert.equal(err.message, 'sinks[0].batch.maxWaitMs: must be at least 0');
    const node = doc.getIn(err.path, true) as { range: [number, number, number] };
    assert.equal(text.slice(node.range[0], node.range[1]), '-1');
  }
});
