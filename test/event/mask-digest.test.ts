// Digests of masked values: where the collector keeps them (an annotation of pointers into the bodies), that equal
// values under one key digest equally, that no value is kept, and that a sender cannot bring its own.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { maskCredentials, parseMaskPath } from '../../src/event/mask.ts';
import { MASKED_ANNOTATION, MaskDigester, maskDigests } from '../../src/event/mask-digest.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { keyIdOf, maskKeyOf } from '../../src/integrity/keys.ts';
import { event } from '../server/fixtures.ts';

const digester = new MaskDigester(Buffer.alloc(32, 1));

function secretEvent(password: string, over: Partial<AuditEvent> = {}): AuditEvent {
  return event({
    auditID: 'd-1',
    verb: 'update',
    objectRef: { resource: 'secrets', namespace: 'ns', name: 's' },
    requestObject: { kind: 'Secret', metadata: { name: 's' }, data: { password, 'tls.key': 'a2V5' } },
    responseObject: {
      kind: 'Secret',
      metadata: { name: 's', annotations: { token: 'abc' } },
      data: { password, 'tls.key': 'a2V5' },
      spec: { env: [{ name: 'DB_PASSWORD', value: password }] },
    },
    ...over,
  });
}

test('the digests of the values masked in the bodies, by pointer; equal values digest equally', () => {
  const e = digester.mask(secretEvent('hunter2'));
  const d = maskDigests(e)!;
  assert.equal(d.key, digester.keyId);
  assert.deepEqual(Object.keys(d.values).sort(), [
    '/requestObject/data/password',
    '/requestObject/data/tls.key',
    '/responseObject/data/password',
    '/responseObject/data/tls.key',
    '/responseObject/metadata/annotations/token',
    '/responseObject/spec/env/0/value',
  ]);
  assert.equal(d.values['/requestObject/data/password'], d.values['/responseObject/data/password']);
  assert.equal(d.values['/responseObject/spec/env/0/value'], d.values['/responseObject/data/password']);
  assert.notEqual(d.values['/requestObject/data/password'], d.values['/requestObject/data/tls.key']);
  assert.ok(!JSON.stringify(e).includes('hunter2'), 'the value is gone');
  const again = maskDigests(digester.mask(secretEvent('hunter2')))!;
  assert.deepEqual(again, d, 'deterministic');
  const changed = maskDigests(digester.mask(secretEvent('hunter3')))!;
  assert.notEqual(changed.values['/responseObject/data/password'], d.values['/responseObject/data/password']);
  assert.equal(changed.values['/responseObject/data/tls.key'], d.values['/responseObject/data/tls.key']);
  // another key: other digests, another key id
  const other = new MaskDigester(Buffer.alloc(32, 2));
  const o = maskDigests(other.mask(secretEvent('hunter2')))!;
  assert.notEqual(o.key, d.key);
  assert.notEqual(o.values['/responseObject/data/password'], d.values['/responseObject/data/password']);
});

test('JSON patches, configured paths and pointer escaping', () => {
  const e = digester.mask(
    event({
      auditID: 'd-2',
      verb: 'patch',
      objectRef: { resource: 'secrets', namespace: 'ns', name: 's' },
      requestObject: [{ op: 'add', path: '/data/a~b', value: 'dmFs' }],
      responseObject: { kind: 'Secret', metadata: { name: 's' }, data: { 'a/b': 'dmFs' }, spec: { note: 'n' } },
    }),
    [parseMaskPath('responseObject.spec.note')],
  );
  assert.deepEqual(Object.keys(maskDigests(e)!.values).sort(), [
    '/requestObject/0/value',
    '/responseObject/data/a~1b',
    '/responseObject/spec/note',
  ]);
});

test('nothing masked: no annotation; a sender cannot bring digests; already-masked values get none', () => {
  const plain = digester.mask(event({ auditID: 'd-3', requestObject: { a: 1 } }));
  assert.equal(plain.annotations, undefined);
  const forged = digester.mask(
    event({ auditID: 'd-4', annotations: { [MASKED_ANNOTATION]: '{"key":"x","values":{}}', keep: 'me' } }),
  );
  assert.deepEqual(forged.annotations, { keep: 'me' });
  const masked = maskDigests(digester.mask(secretEvent('***')))!;
  assert.ok(!('/responseObject/data/password' in masked.values), 'a value already *** has no digest');
  assert.ok('/responseObject/data/tls.key' in masked.values);
  // without a digester, masking is as before: no annotation
  assert.equal(maskCredentials(secretEvent('x')).annotations, undefined);
  assert.equal(maskDigests(event({ auditID: 'd-5', annotations: { [MASKED_ANNOTATION]: 'not json' } })), undefined);
});

test('the digest key is derived from the signing key: stable for one key, different for another', () => {
  const key = () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
  };
  const a = key();
  assert.deepEqual(maskKeyOf(a), maskKeyOf(a));
  assert.equal(maskKeyOf(a).length, 32);
  assert.notDeepEqual(maskKeyOf(a), maskKeyOf(key()));
});
