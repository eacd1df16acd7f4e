// Every event decoder under hostile input: arbitrary JSON, arbitrary text, and mutations of the real seeds. Each
// either decodes to events that every later stage can use (valid level/stage/times, serialisable, re-encodable
// in every format, within the field limits) or throws EventValidationError naming the problem.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AuditEvent,
  DEFAULT_DECODE_LIMITS,
  decodeCadf,
  decodeEventList,
  decodeEvents,
  decodeKubernetesEvent,
  decodeOpenFaaSEvent,
  EventValidationError,
  encodeCadf,
  encodeKubernetesEvent,
  encodeOpenFaaSEvent,
  encodeOsloNotification,
  formatLegacyLine,
  isLevel,
  isMicroTime,
  isStage,
  parseLegacyLine,
  USER_AGENT_TRUNCATED,
} from '../../src/event/index.ts';
import {
  assertPrototypeClean,
  expectResultOrError,
  fixture,
  HUGE,
  mutated,
  mutatedText,
  nested,
  setOwn,
} from './helpers.ts';

const falcoLines = fixture('falco/k8saudit-events.jsonl').split('\n').filter(Boolean);
const falco = falcoLines.map((l) => JSON.parse(l) as Record<string, unknown>);
const kubesphere = JSON.parse(fixture('kubesphere-batch.json')) as Record<string, unknown>;
const eventList = JSON.parse(fixture('k8s-eventlist-v1alpha1.json')) as Record<string, unknown>;
const cadfRequest = JSON.parse(fixture('cadf-request-notification.json')) as Record<string, unknown>;
const cadfResponse = JSON.parse(fixture('cadf-response-notification.json')) as Record<string, unknown>;
const openfaas = JSON.parse(fixture('openfaas-delivery.json')) as Record<string, unknown>[];
const legacyLines = fixture('k8s-legacy.log').split('\n').filter(Boolean);

const ksItems = (kubesphere.Items as unknown[]) ?? [];
const eventSeeds: unknown[] = [...falco.slice(0, 12), ...ksItems, ...((eventList.items as unknown[]) ?? [])];
const listSeeds: unknown[] = [
  kubesphere,
  eventList,
  { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: falco },
];
const cadfSeeds: unknown[] = [
  cadfRequest,
  cadfResponse,
  cadfRequest.payload,
  cadfResponse.payload,
  { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(cadfResponse) },
];

/** What every later stage relies on in a decoded event. */
function checkEvent(e: AuditEvent): void {
  assert.ok(isLevel(e.level), `level ${String(e.level)}`);
  assert.ok(isStage(e.stage), `stage ${String(e.stage)}`);
  assert.equal(typeof e.auditID, 'string');
  assert.ok(e.auditID.length > 0 && e.auditID.length <= DEFAULT_DECODE_LIMITS.maxFieldLength);
  assert.ok(isMicroTime(e.requestReceivedTimestamp), e.requestReceivedTimestamp);
  assert.ok(isMicroTime(e.stageTimestamp), e.stageTimestamp);
  assert.equal(typeof e.requestURI, 'string');
  assert.equal(typeof e.verb, 'string');
  assert.ok(e.user !== null && typeof e.user === 'object');
  if (e.user.username !== undefined) assert.equal(typeof e.user.username, 'string');
  if (e.userAgent !== undefined) {
    assert.ok(e.userAgent.length <= DEFAULT_DECODE_LIMITS.maxUserAgentLength + USER_AGENT_TRUNCATED.length);
  }
  // Every later stage serialises the event and may write it in another format.
  JSON.parse(JSON.stringify(e));
  encodeKubernetesEvent(e);
  encodeCadf(e);
  encodeOsloNotification(e, { messageId: 'm' });
  encodeOpenFaaSEvent(e);
  formatLegacyLine(e);
}

const checkAll = (es: AuditEvent[]) => {
  assert.ok(Array.isArray(es));
  for (const e of es) checkEvent(e);
};

const RUNS = 300;

describe('event decoders take any JSON value', () => {
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  test('decodeKubernetesEvent', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        expectResultOrError(() => decodeKubernetesEvent(v), EventValidationError, checkEvent);
      }),
      { numRuns: RUNS },
    );
  });
  test('decodeEventList', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        expectResultOrError(() => decodeEventList(v as object), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
  test('decodeCadf', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        expectResultOrError(() => decodeCadf(v), EventValidationError, checkEvent);
      }),
      { numRuns: RUNS },
    );
  });
  test('decodeOpenFaaSEvent', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        expectResultOrError(() => decodeOpenFaaSEvent(v), EventValidationError, checkEvent);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('text decoders take any string', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  );
  test('decodeEvents', () => {
    fc.assert(
      fc.property(anyText, (t) => {
        expectResultOrError(() => decodeEvents(t), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
  test('decodeEventList (string body)', () => {
    fc.assert(
      fc.property(anyText, (t) => {
        expectResultOrError(() => decodeEventList(t), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
  test('parseLegacyLine', () => {
    const legacyish = fc.oneof(
      anyText,
      fc
        .tuple(fc.constantFrom('2017-09-21T12:00:00Z', 'x', '', '2017-02-30T00:00:00Z'), fc.string({ maxLength: 80 }))
        .map(([t, rest]) => `${t} AUDIT: ${rest}`),
      mutatedText(legacyLines),
    );
    fc.assert(
      fc.property(legacyish, (t) => {
        expectResultOrError(() => parseLegacyLine(t), EventValidationError, checkEvent);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('mutations of the real seeds', () => {
  test('Kubernetes and KubeSphere events (falco data, KubeSphere batch, v1alpha1 list)', () => {
    fc.assert(
      fc.property(mutated(eventSeeds), (v) => {
        expectResultOrError(() => decodeKubernetesEvent(v), EventValidationError, checkEvent);
        expectResultOrError(() => decodeEvents(JSON.stringify(v) ?? ''), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
  test('EventLists', () => {
    fc.assert(
      fc.property(mutated(listSeeds), (v) => {
        expectResultOrError(() => decodeEventList(v as object), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
  test('CADF events, oslo notifications, 2.0 wire envelopes', () => {
    fc.assert(
      fc.property(mutated(cadfSeeds), (v) => {
        expectResultOrError(() => decodeCadf(v), EventValidationError, checkEvent);
      }),
      { numRuns: RUNS },
    );
  });
  test('OpenFaaS deliveries', () => {
    fc.assert(
      fc.property(mutated([openfaas, ...openfaas]), (v) => {
        const list = Array.isArray(v) ? v : [v];
        for (const [i, x] of list.entries()) {
          expectResultOrError(
            () => decodeOpenFaaSEvent(x, { deliveryId: 'd', index: i }),
            EventValidationError,
            checkEvent,
          );
        }
        expectResultOrError(() => decodeEvents(JSON.stringify(v) ?? ''), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
  test('text mutations of JSON lines, documents and legacy logs', () => {
    const texts = [
      falcoLines.slice(0, 5).join('\n'),
      fixture('kubesphere-batch.json'),
      fixture('cadf-response-notification.json'),
      fixture('openfaas-delivery.json'),
      fixture('k8s-legacy.log'),
    ];
    fc.assert(
      fc.property(mutatedText(texts), (t) => {
        expectResultOrError(() => decodeEvents(t), EventValidationError, checkAll);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('prototype-pollution keys are data', () => {
  const polluted = () => {
    const o = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}');
    return o as Record<string, unknown>;
  };
  // Regression: copying leftovers with `o[k] = v` set the copy's prototype instead of a member.
  test('CADF leftovers keep a __proto__ member as a member', () => {
    const p = { ...(cadfResponse.payload as Record<string, unknown>) };
    setOwn(p, '__proto__', { polluted: 'yes' });
    setOwn(p, 'initiator', { ...(p.initiator as object), ...polluted() });
    const e = decodeCadf(p);
    const cadf = e.origin?.cadf as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(cadf), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(cadf, '__proto__')?.value, { polluted: 'yes' });
    const back = encodeCadf(e);
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { polluted: 'yes' });
    assert.deepEqual(
      Object.getOwnPropertyDescriptor(back.initiator as object, 'constructor')?.value,
      { prototype: { polluted: 'yes' } },
      'a kept member named like an Object.prototype member comes back',
    );
    assertPrototypeClean();
  });
  test('OpenFaaS extras and actor keep __proto__ members', () => {
    const o = { ...openfaas[0], ...polluted() };
    setOwn(o, 'actor', { ...(openfaas[0].actor as object), ...polluted() });
    const e = decodeOpenFaaSEvent(o);
    const kept = e.origin?.openfaas as Record<string, Record<string, unknown>>;
    assert.equal(Object.getPrototypeOf(kept.extra), Object.prototype);
    assert.ok(Object.hasOwn(kept.extra, '__proto__'));
    assert.ok(Object.hasOwn(kept.actor, '__proto__'));
    const back = encodeOpenFaaSEvent(e);
    assert.ok(Object.hasOwn(back, '__proto__'));
    assert.ok(Object.hasOwn(back, 'constructor'));
    assertPrototypeClean();
  });
  test('Kubernetes user.extra / annotations named __proto__ stay members through encoding', () => {
    const e = decodeKubernetesEvent({
      ...falco[0],
      user: { username: 'u', extra: JSON.parse('{"z": ["1"], "__proto__": ["x"]}') },
      annotations: JSON.parse('{"z": "1", "__proto__": "x"}'),
    });
    const out = encodeKubernetesEvent(e);
    const user = out.user as { extra: Record<string, unknown> };
    assert.equal(Object.getPrototypeOf(user.extra), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(user.extra, '__proto__')?.value, ['x']);
    assert.equal(Object.getOwnPropertyDescriptor(out.annotations, '__proto__')?.value, 'x');
    assertPrototypeClean();
  });
});

describe('size and depth', () => {
  const base = falco[0];
  test('a 10 MB EventList decodes', () => {
    const big = { ...base, requestObject: { data: 'x'.repeat(1024) } };
    const items = Array.from({ length: 9000 }, (_, i) => ({ ...big, auditID: `id-${i}` }));
    const text = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
    assert.ok(text.length > 10_000_000);
    assert.equal(decodeEvents(text).length, 9000);
    assert.equal(decodeEventList(text).length, 9000);
  });
  test('100k-deep requestObject: a clear error from every decoder, no stack overflow', () => {
    const deepText = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const text = JSON.stringify({ ...base, requestObject: 0 }).replace(
      '"requestObject":0',
      `"requestObject":${deepText}`,
    );
    assert.throws(
      () => decodeEvents(text),
      (err: unknown) =>
        err instanceof EventValidationError &&
        err.field === 'requestObject' &&
        /nested more than 1000/.test(err.message),
    );
    assert.throws(() => decodeEventList(`[${text}]`), { name: 'EventValidationError' });
    const deep = nested(100_000);
    assert.throws(() => decodeKubernetesEvent({ ...base, requestObject: deep }), /requestObject: nested more/);
    assert.throws(() => decodeOpenFaaSEvent({ ...openfaas[0], extra: deep }), /extra: nested more/);
    assert.throws(() => decodeCadf({ ...cadfResponse, payload: { ...(cadfResponse.payload as object), tags: deep } }), {
      name: 'EventValidationError',
    });
    const wire = { 'oslo.version': '2.0', 'oslo.message': JSON.stringify({ ...cadfResponse, x: nested(2000) }) };
    assert.throws(() => decodeCadf(wire), /oslo\.message\.x: nested more/);
  });
  test('depth just within the limit decodes, and the limit is configurable', () => {
    const ok = { ...base, requestObject: nested(DEFAULT_DECODE_LIMITS.maxDepth - 1) };
    assert.equal(decodeKubernetesEvent(ok).auditID, base.auditID);
    assert.throws(() => decodeKubernetesEvent({ ...base, requestObject: nested(DEFAULT_DECODE_LIMITS.maxDepth) }));
    assert.throws(() => decodeKubernetesEvent({ ...base, requestObject: nested(10) }, '', { maxDepth: 10 }));
  });
  test('a 1 MB string in a body is kept; in a scalar field it is rejected naming the field', () => {
    const mb = 'x'.repeat(1 << 20);
    assert.equal(
      (decodeKubernetesEvent({ ...base, requestObject: { s: mb } }).requestObject as { s: string }).s.length,
      1 << 20,
    );
    assert.throws(
      () => decodeKubernetesEvent({ ...base, user: { username: mb } }),
      (err: unknown) =>
        err instanceof EventValidationError &&
        err.field === 'user.username' &&
        err.message.includes(`${1 << 20} characters exceed the limit of ${64 * 1024}`),
    );
    assert.throws(() => decodeKubernetesEvent({ ...base, requestURI: mb }), /requestURI: 1048576 characters/);
    assert.throws(
      () => decodeKubernetesEvent({ ...base, objectRef: { resource: 'pods', name: mb } }),
      /objectRef\.name/,
    );
    assert.throws(() => decodeKubernetesEvent({ ...base, annotations: { a: mb } }), /annotations\.a/);
    assert.throws(() => decodeOpenFaaSEvent({ ...openfaas[0], path: mb }), /requestURI/);
    assert.throws(() => parseLegacyLine(`2017-09-21T12:00:00Z AUDIT: id="a" uri="${mb}"`), /requestURI/);
    assert.ok(decodeKubernetesEvent({ ...base, user: { username: mb } }, '', { maxFieldLength: 2 << 20 }));
  });
  test('userAgent is cut as kube-apiserver cuts it', () => {
    const ua = 'k'.repeat(HUGE);
    const e = decodeKubernetesEvent({ ...base, userAgent: ua });
    assert.equal(e.userAgent, `${'k'.repeat(1024)}...TRUNCATED`);
    // Already cut by kube-apiserver: stays the same.
    assert.equal(decodeKubernetesEvent({ ...base, userAgent: e.userAgent }).userAgent, e.userAgent);
    assert.equal(decodeKubernetesEvent({ ...base, userAgent: 'kubectl' }).userAgent, 'kubectl');
    assert.equal(
      decodeKubernetesEvent({ ...base, userAgent: ua }, '', { maxUserAgentLength: 4 }).userAgent,
      'kkkk...TRUNCATED',
    );
  });
  test('batch size: more events than maxEvents is one clear error before decoding any', () => {
    const items = Array.from({ length: 10_001 }, () => base);
    assert.throws(
      () => decodeEventList({ items }),
      (err: unknown) =>
        err instanceof EventValidationError &&
        err.field === 'items' &&
        /10001 events exceed the limit of 10000/.test(err.message),
    );
    assert.throws(() => decodeEvents(JSON.stringify(items)), /exceed the limit of 10000/);
    assert.throws(
      () => decodeEvents(falcoLines.join('\n'), { maxEvents: 50 }),
      /line 51: 51 events exceed the limit of 50/,
    );
    assert.equal(decodeEvents(falcoLines.join('\n'), { maxEvents: 51 }).length, 51);
    assert.equal(decodeEventList({ items: items.slice(1) }).length, 10_000);
  });
});
