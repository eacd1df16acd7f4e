// The collector's own parsers without HTTP: vigil.yaml, the rules Webhook resource, the query parameters and the
// live-tail matcher built from them. Each gives a result or its documented error, never a TypeError/RangeError.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify as stringifyYaml } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/index.ts';
import { decodeEvents } from '../../src/event/index.ts';
import { compileMatcher } from '../../src/query/matches.ts';
import { FILTER_PARAMS, ParamError, parseTime, toEventQuery, toInterval, toPage } from '../../src/query/params.ts';
import { parseWebhook, RuleLoadError } from '../../src/rules/index.ts';
import { expectResultOrError, fixture, mutated, mutatedText } from './helpers.ts';

const events = decodeEvents(fixture('falco/k8saudit-events.jsonl'));

const validConfig = {
  listen: '127.0.0.1:0',
  retention: '7d',
  ingest: {
    maxBodyBytes: 4096,
    limits: { maxEvents: 10, maxDepth: 50 },
    openfaas: { secret: 's' },
    amqp: [{ url: 'amqp://127.0.0.1', exchange: 'octavia', topic: 'notifications' }],
  },
  auth: { tokens: [{ name: 'a', token: 't', role: 'tenant', workspaces: ['w'], namespaces: ['n'] }] },
  workspaces: { w: ['n1', 'n2'] },
};

const validWebhook = {
  apiVersion: 'auditing.kubesphere.io/v1alpha1',
  kind: 'Webhook',
  metadata: { name: 'kube-auditing-webhook' },
  spec: {
    auditLevel: 'RequestResponse',
    archivingPriority: 'DEBUG',
    alertingPriority: 'WARNING',
    k8sAuditingEnabled: true,
    receivers: [{ name: 'alertmanager', type: 'alertmanager', config: { service: { namespace: 'x', name: 'y' } } }],
  },
};

function yamlOf(v: unknown): string {
  try {
    return stringifyYaml(v);
  } catch {
    return 'x: [';
  }
}

describe('configuration files', () => {
  test('vigil.yaml: any YAML or mutation of a valid one → a config or ConfigError', () => {
    const text = fc.oneof(
      mutated([validConfig]).map(yamlOf),
      mutatedText([yamlOf(validConfig)]),
      fc.jsonValue({ maxDepth: 3 }).map(yamlOf),
    );
    fc.assert(
      fc.property(text, (t) => {
        expectResultOrError(() => parseConfig(t, 'vigil.yaml', { data: '/tmp/x' }), ConfigError);
      }),
      { numRuns: 120 },
    );
  });
  test('rules Webhook resource: a config or RuleLoadError', () => {
    const text = fc.oneof(mutated([validWebhook]).map(yamlOf), mutatedText([yamlOf(validWebhook)]));
    fc.assert(
      fc.property(text, (t) => {
        expectResultOrError(() => parseWebhook(t, 'webhook.yaml'), RuleLoadError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('query parameters', () => {
  const value = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('0', '-1', '9'.repeat(400), '1e309', 'NaN', '2020-01-01T00:00:00Z', '275760-09-13T00:00:01Z', '1s'),
    fc.integer().map(String),
    fc.double().map(String),
  );
  const names = [...Object.keys(FILTER_PARAMS), 'q', 'start_time', 'end_time', 'interval', 'sort', 'after'];
  const params = fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 6 });

  test('toEventQuery / toInterval / parseTime: a value or ParamError; the matcher never throws', () => {
    fc.assert(
      fc.property(params, (p) => {
        expectResultOrError(
          () => toEventQuery(p),
          ParamError,
          (q) => {
            const match = compileMatcher(q);
            for (const e of events.slice(0, 10)) assert.equal(typeof match({ ...e, id: 'x' } as never), 'boolean');
            if (q.start !== undefined) assert.ok(Number.isFinite(q.start), `start ${q.start}`);
            if (q.end !== undefined) assert.ok(Number.isFinite(q.end), `end ${q.end}`);
          },
        );
        expectResultOrError(
          () => toInterval(p),
          ParamError,
          (ms) => assert.ok(Number.isSafeInteger(ms), `${ms}`),
        );
        expectResultOrError(() => parseTime('start_time', String(p.start_time ?? '')), ParamError);
      }),
      { numRuns: 500 },
    );
  });
  test('toPage with the numbers the schema lets through', () => {
    fc.assert(
      fc.property(
        fc.record(
          { from: fc.nat(), size: fc.integer({ min: 1, max: 1000 }), after: fc.string(), sort: fc.string() },
          { requiredKeys: [] },
        ),
        (p) => {
          expectResultOrError(() => toPage(p), ParamError);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// Regression: a 400-digit start/end time parsed to Infinity and a huge interval to an unsafe number.
test('times beyond the Date range and intervals longer than any range are ParamErrors', () => {
  assert.throws(
    () => parseTime('end_time', '9'.repeat(400)),
    (e: unknown) => e instanceof ParamError && e.field === 'end_time',
  );
  assert.throws(() => parseTime('start_time', '8640000000001'), ParamError);
  // the accepted time range ends at now + the clock-skew allowance (issue 15): year 275760 is far beyond it
  assert.throws(() => parseTime('start_time', '8640000000000'), ParamError);
  assert.equal(parseTime('start_time', '1700000000.5'), 1_700_000_000_500);
  assert.throws(
    () => toInterval({ interval: '99999999999999999999w' }),
    (e: unknown) => e instanceof ParamError && e.field === 'interval',
  );
  assert.equal(toInterval({ interval: '1w' }), 604_800_000);
});
