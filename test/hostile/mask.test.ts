// Credentials never survive masking: secrets planted under secret-named keys at any depth and casing of the bodies,
// in format leftovers, as a CADF credential token, or at configured paths, are gone from the event's JSON.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AuditEvent,
  decodeCadf,
  decodeEvents,
  MASK,
  maskCredentials,
  parseMaskPath,
  SECRET_KEYS,
} from '../../src/event/index.ts';
import { fixture, nested, sharedData } from './helpers.ts';

const events = decodeEvents(sharedData('falco-k8saudit-events.jsonl'));
const cadfResponse = JSON.parse(fixture('cadf-response-notification.json'));

/** A key named like a secret, in some casing. */
const secretKey = fc
  .tuple(fc.constantFrom(...SECRET_KEYS), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }))
  .map(([k, up]) => [...k].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

const plainKey = fc.constantFrom('name', 'spec', 'data', 'items', 'metadata', 'value', 'tokens', 'x');

/** A body with secrets planted; returns the body and the secrets. */
const bodyWithSecrets = fc
  .tuple(
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(
      fc.record({
        path: fc.array(fc.oneof(plainKey, fc.nat(3)), { maxLength: 5 }),
        key: secretKey,
        shape: fc.constantFrom('string', 'object', 'array', 'number'),
      }),
      { minLength: 1, maxLength: 5 },
    ),
  )
  .map(([base, plants]) => {
    let body: unknown = { base };
    const secrets: string[] = [];
    plants.forEach((p, n) => {
      const secret = `S3cr3t-${n}-${p.key}-value`;
      secrets.push(secret);
      const value = p.shape === 'object' ? { inner: secret } : p.shape === 'array' ? [secret] : secret;
      // Walk/create the path, then plant.
      let cur = body as Record<string | number, unknown>;
      for (const seg of p.path) {
        if (typeof seg === 'number') {
          const arr = Array.isArray(cur.list) ? (cur.list as unknown[]) : [];
          cur.list = arr;
          while (arr.length <= seg) arr.push({});
          if (arr[seg] === null || typeof arr[seg] !== 'object' || Array.isArray(arr[seg])) arr[seg] = {};
          cur = arr[seg] as Record<string, unknown>;
        } else {
          const next = cur[seg];
          if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[seg] = {};
          cur = cur[seg] as Record<string, unknown>;
        }
      }
      cur[p.key] = value;
    });
    if (Array.isArray(body)) body = { body };
    return { body, secrets };
  });

describe('maskCredentials', () => {
  test('property: no planted secret survives anywhere in the JSON of the masked event', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...events),
        bodyWithSecrets,
        bodyWithSecrets,
        bodyWithSecrets,
        fc.string({ minLength: 8, maxLength: 200 }).map((t) => `tok-${t}`),
        (base, req, resp, leftover, token) => {
          const e: AuditEvent = structuredClone(base);
          e.requestObject = req.body;
          e.responseObject = resp.body;
          e.origin = {
            cadf: { initiator: { credential: { token, identity_status: 'Confirmed' } }, extra: leftover.body },
          };
          const secrets = [...req.secrets, ...resp.secrets, ...leftover.secrets];
          const masked = JSON.stringify(maskCredentials(e));
          for (const s of secrets) assert.ok(!masked.includes(s), `${s} survived: ${masked}`);
          assert.ok(!masked.includes(token), 'the credential token survived');
          assert.ok(masked.includes('"identity_status":"Confirmed"'));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('keeps the key, replaces the value; other members untouched', () => {
    const e = structuredClone(events[0]);
    e.requestObject = {
      kind: 'Secret',
      data: { password: 'cGFzcw==', 'ca.crt': 'Y2E=' },
      headers: { Authorization: 'Bearer abc', Cookie: 'sid=1', Accept: 'json' },
      list: [{ API_KEY: 'k' }, { access_token: { nested: 'x' } }],
      token: '',
    };
    maskCredentials(e);
    assert.deepEqual(e.requestObject, {
      kind: 'Secret',
      data: { password: MASK, 'ca.crt': 'Y2E=' },
      headers: { Authorization: MASK, Cookie: MASK, Accept: 'json' },
      list: [{ API_KEY: MASK }, { access_token: MASK }],
      token: '',
    });
  });

  test("CADF credential: an already masked token stays (*** or pycadf's), a clear one becomes ***", () => {
    const e = decodeCadf(cadfResponse);
    const cred = (e.origin!.cadf!.initiator as { credential: { token: string } }).credential;
    assert.equal(cred.token, MASK, 'the fixture comes masked by the log driver');
    maskCredentials(e);
    assert.equal(cred.token, MASK);
    const pycadf = 'gAAAAAB8151ec931604fecc xxxxxxxx 402b12ecb4b64a8c563088c';
    cred.token = pycadf;
    maskCredentials(e);
    assert.equal(cred.token, pycadf);
    cred.token = 'gAAAAABclear-token-value';
    maskCredentials(e);
    assert.equal(cred.token, MASK);
  });

  test('configured paths, [n] and [*]', () => {
    const e = structuredClone(events[0]);
    e.requestObject = {
      spec: {
        env: [
          { name: 'DB', value: 'hunter2' },
          { name: 'X', value: 'y' },
        ],
        note: 'n',
      },
    };
    maskCredentials(e, ['requestObject.spec.env[*].value', 'requestObject.spec.note', 'requestObject.missing.x']);
    assert.deepEqual(e.requestObject, {
      spec: {
        env: [
          { name: 'DB', value: MASK },
          { name: 'X', value: MASK },
        ],
        note: MASK,
      },
    });
    e.requestObject = { a: [['s0', 's1']] };
    maskCredentials(e, [parseMaskPath('requestObject.a[0][1]')]);
    assert.deepEqual(e.requestObject, { a: [['s0', MASK]] });
    assert.throws(() => parseMaskPath('a..b'), /invalid mask path/);
  });

  test('deep bodies and prototype keys: no stack overflow, no prototype change', () => {
    const e = structuredClone(events[0]);
    const deep = nested(100_000, { password: 'deep-secret' });
    e.requestObject = JSON.parse('{"__proto__": {"token": "proto-secret"}}');
    e.responseObject = deep;
    maskCredentials(e);
    let cur: unknown = e.responseObject;
    while (cur && typeof cur === 'object' && !('password' in cur)) cur = Object.values(cur)[0];
    assert.deepEqual(cur, { password: MASK });
    assert.deepEqual(Object.getOwnPropertyDescriptor(e.requestObject, '__proto__')?.value, { token: MASK });
    assert.equal(({} as Record<string, unknown>).token, undefined);
  });
});
