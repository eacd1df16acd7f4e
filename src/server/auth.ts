// Bearer tokens from the config. A caller is an admin (sees everything), a tenant (sees only its workspaces and
// namespaces: the server sets EventQuery.scope, whatever the caller's filters say) or an ingest-only sender.
// With no tokens configured every caller is an admin, which the server only allows on a loopback address.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, TokenConfig } from '../config/index.ts';
import type { TenantScope } from '../store/types.ts';

export interface Principal {
  name: string;
  role: Role;
  /** Present for tenants only. */
  scope?: TenantScope;
}

export class AuthError extends Error {
  readonly statusCode: 401 | 403;
  constructor(statusCode: 401 | 403, message: string) {
    super(message);
    this.name = 'AuthError';
    this.statusCode = statusCode;
  }
}

const ANONYMOUS_ADMIN: Principal = { name: 'anonymous', role: 'admin' };

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class Authenticator {
  private readonly tokens: { digest: Buffer; principal: Principal }[];
  constructor(tokens: TokenConfig[]) {
    this.tokens = tokens.map((t) => ({
      digest: digest(t.token),
      principal: {
        name: t.name,
        role: t.role,
        scope: t.role === 'tenant' ? { workspaces: t.workspaces ?? [], namespaces: t.namespaces ?? [] } : undefined,
      },
    }));
  }

  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /** The caller of an `Authorization` header; throws 401 when missing or unknown. */
  identify(header: string | undefined): Principal {
    if (!this.enabled) return ANONYMOUS_ADMIN;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) throw new AuthError(401, 'missing bearer token');
    // Compare fixed-length digests in constant time so that timing reveals nothing about any token.
    const d = digest(m[1]!);
    let found: Principal | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, d)) found = t.principal;
    if (!found) throw new AuthError(401, 'unknown token');
    return found;
  }

  /** Throws 403 unless the caller has one of `roles`. */
  require(p: Principal, roles: readonly Role[]): Principal {
    if (!roles.includes(p.role)) throw new AuthError(403, `token "${p.name}" (role ${p.role}) may not do this`);
    return p;
  }
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}
