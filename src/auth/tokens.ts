// Bearer tokens as the config holds them: the token itself, or only its `sha256:<hex>` hash (`vigil token hash`).
// In memory only digests are kept, compared in constant time.
import { createHash } from 'node:crypto';

export const TOKEN_HASH = /^sha256:([0-9a-f]{64})$/;

/** `sha256:<hex>` of a token, as `auth.tokens[].tokenHash` and `vigil token hash` write it. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex')}`;
}

/** The SHA-256 digest of a token (what a configured token or tokenHash is kept as). */
export function tokenDigest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
