// Webhook signatures Vigil sends (and its collector verifies): OpenFaaS/GitHub `sha256=<hex>` and
// Standard Webhooks v1 (HMAC-SHA256 of `id.timestamp.body`, base64, `whsec_` base64 secrets).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=` + lowercase hex HMAC-SHA256 of the raw body (X-Openfaas-Signature-256, X-Hub-Signature-256). */
export function hmacSha256Hex(secret: string | Buffer, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of a `sha256=<hex>` header against the raw body. */
export function verifyHmacSha256Hex(secret: string | Buffer, body: string | Buffer, header: string): boolean {
  const want = Buffer.from(hmacSha256Hex(secret, body));
  const got = Buffer.from(header.trim());
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The HMAC key of a Standard Webhooks secret: `whsec_` (optional) + base64. */
export function standardWebhooksKey(secret: string): Buffer {
  const b64 = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('standardWebhooks.secret must be whsec_ followed by base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new Error('standardWebhooks.secret is empty');
  return key;
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>`; timestamp in Unix seconds. */
export function standardWebhooksSignature(key: Buffer, id: string, timestamp: number, body: string | Buffer): string {
  const h = createHmac('sha256', key);
  h.update(`${id}.${timestamp}.`);
  h.update(body);
  return `v1,${h.digest('base64')}`;
}

/**
 * Verifies Standard Webhooks headers: any `v1,` signature in the space-separated list matches, and the
 * timestamp is an integer within `toleranceSec` of now (a NaN timestamp is rejected, not passed).
 */
export function verifyStandardWebhooks(
  key: Buffer,
  headers: { id: string; timestamp: string; signature: string },
  body: string | Buffer,
  opts: { toleranceSec?: number; nowSec?: number } = {},
): boolean {
  if (!/^\d+$/.test(headers.timestamp)) return false;
  const ts = Number(headers.timestamp);
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (opts.toleranceSec ?? 300)) return false;
  const want = Buffer.from(standardWebhooksSignature(key, headers.id, ts, body));
  return headers.signature.split(' ').some((s) => {
    const got = Buffer.from(s);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}
