import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  hmacSha256Hex,
  standardWebhooksKey,
  standardWebhooksSignature,
  verifyHmacSha256Hex,
  verifyStandardWebhooks,
} from '../../src/sinks/sign.ts';

test("HMAC-SHA256 hex matches GitHub's published X-Hub-Signature-256 test vector", () => {
  const secret = "It's a Secret to Everybody";
  const want = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  assert.equal(hmacSha256Hex(secret, 'Hello, World!'), want);
  assert.equal(verifyHmacSha256Hex(secret, Buffer.from('Hello, World!'), want), true);
  assert.equal(verifyHmacSha256Hex(secret, 'Hello, World?', want), false);
  assert.equal(verifyHmacSha256Hex(secret, 'Hello, World!', 'sha256=00'), false);
});

test("Standard Webhooks v1 signature matches the specification's test vector", () => {
  const key = standardWebhooksKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  const sig = standardWebhooksSignature(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
  assert.equal(sig, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  const headers = { id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330', signature: `v1,bogus ${sig}` };
  assert.equal(verifyStandardWebhooks(key, headers, '{"test": 2432232314}', { nowSec: 1614265330 + 10 }), true);
  // Outside the 5-minute window, or a timestamp that is not a number: rejected.
  assert.equal(verifyStandardWebhooks(key, headers, '{"test": 2432232314}', { nowSec: 1614265330 + 301 }), false);
  assert.equal(
    verifyStandardWebhooks(key, { ...headers, timestamp: 'NaN' }, '{"test": 2432232314}', { nowSec: 1614265330 }),
    false,
  );
  assert.throws(() => standardWebhooksKey('whsec_!!'), /base64/);
});
