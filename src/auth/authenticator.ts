// Callers from the config: bearer tokens (kept only as SHA-256 digests in memory; the config may hold the token
// or just its `sha256:<hex>` hash) and, on HTTPS, client certificates verified against `tls.clientCA` whose
// subject CN names an `auth.clientCerts` entry — so a kube-apiserver authenticates with its kubeconfig's
// client-certificate. A caller is an admin (sees everything), a tenant (sees only its workspaces and namespaces,
// within its clusters if it has some: the server sets EventQuery.scope, whatever the caller's filters say) or an
// ingest-only sender; a caller bound to a cluster has every event it sends stored as that cluster's. With neither
// tokens nor client certificates configured every caller is an admin, which the server only allows on loopback.
// Each authenticated caller has its own token buckets for ingest and query requests (429 with Retry-After).
import { timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ClientCertConfig, RateLimitConfig, Role, TokenConfig } from '../config/index.ts';
import { Bucket, DEFAULT_RATE_LIMIT, RateLimitError, type RequestKind } from './rate-limit.ts';
import { TOKEN_HASH, tokenDigest } from './tokens.ts';

/**
 * What a tenant may see (the store's TenantScope has this shape): its workspaces and namespaces, and with `clusters`
 * only within those clusters.
 */
export interface PrincipalScope {
  workspaces: string[];
  namespaces: string[];
  clusters?: string[];
}

export interface Principal {
  name: string;
  role: Role;
  /** Present for tenants only. */
  scope?: PrincipalScope;
  /** The cluster the events this caller sends come from (`auth.tokens[].cluster`): it overrides what they claim. */
  cluster?: string;
}

export class AuthError extends Error {
  readonly statusCode: 401 | 403;
  constructor(statusCode: 401 | 403, message: string) {
    super(message);
    this.name = 'AuthError';
    this.statusCode = statusCode;
  }
}

/** The parts of a request authentication looks at (a Fastify request has them). */
export interface AuthRequest {
  headers: { authorization?: string };
  socket: unknown;
}

const ANONYMOUS_ADMIN: Principal = { name: 'anonymous', role: 'admin' };

function principal(c: {
  name: string;
  role: Role;
  workspaces?: string[];
  namespaces?: string[];
  cluster?: string;
  clusters?: string[];
}): Principal {
  const p: Principal = { name: c.name, role: c.role };
  if (c.role === 'tenant') {
    p.scope = { workspaces: c.workspaces ?? [], namespaces: c.namespaces ?? [] };
    // `clusters: []` is no cluster (fails closed, as empty workspaces and namespaces do); absent: any cluster
    if (c.clusters !== undefined) p.scope.clusters = c.clusters;
  }
  if (c.cluster) p.cluster = c.cluster;
  return p;
}

export class Authenticator {
  private readonly tokens: { digest: Buffer; principal: Principal }[];
  private readonly certs: Map<string, Principal>;
  private readonly limits: Record<RequestKind, number>;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(
    tokens: TokenConfig[],
    o: { clientCerts?: ClientCertConfig[]; rateLimit?: RateLimitConfig; now?: () => number } = {},
  ) {
    this.tokens = tokens.map((t) => {
      const m = t.tokenHash ? TOKEN_HASH.exec(t.tokenHash) : null;
      if (t.tokenHash && !m) throw new Error(`auth.tokens "${t.name}": tokenHash must be sha256:<64 hex digits>`);
      return { digest: m ? Buffer.from(m[1]!, 'hex') : tokenDigest(t.token!), principal: principal(t) };
    });
    this.certs = new Map((o.clientCerts ?? []).map((c) => [c.subject, principal({ ...c, name: `cert:${c.subject}` })]));
    const rl = { ...DEFAULT_RATE_LIMIT, ...o.rateLimit };
    this.limits = { ingest: rl.ingestPerSecond, query: rl.queryPerSecond };
    this.now = o.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.tokens.length > 0 || this.certs.size > 0;
  }

  /** The caller of an `Authorization` header; throws 401 when missing or unknown. */
  identify(header: string | undefined): Principal {
    if (!this.enabled) return ANONYMOUS_ADMIN;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) throw new AuthError(401, 'missing bearer token');
    // Compare fixed-length digests in constant time so that timing reveals nothing about any token.
    const d = tokenDigest(m[1]!);
    let found: Principal | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, d)) found = t.principal;
    if (!found) throw new AuthError(401, 'unknown token');
    return found;
  }

  /**
   * The caller of a request: its bearer token if it sends one, else its verified client certificate; then its
   * role is checked and its rate limit for `kind` charged.
   */
  authorize(req: AuthRequest, roles: readonly Role[], kind: RequestKind): Principal {
    const p = this.require(this.identifyRequest(req), roles);
    if (p !== ANONYMOUS_ADMIN) this.charge(p, kind);
    return p;
  }

  private identifyRequest(req: AuthRequest): Principal {
    if (!this.enabled || req.headers.authorization !== undefined || this.certs.size === 0)
      return this.identify(req.headers.authorization);
    const socket = req.socket as Partial<TLSSocket>;
    // `authorized` is true only for a certificate that chains to tls.clientCA.
    if (!socket.authorized || typeof socket.getPeerCertificate !== 'function')
      throw new AuthError(401, 'missing bearer token or verified client certificate');
    const cn = socket.getPeerCertificate().subject?.CN;
    const p = typeof cn === 'string' ? this.certs.get(cn) : undefined;
    if (!p) throw new AuthError(401, `client certificate CN=${String(cn)} is not in auth.clientCerts`);
    return p;
  }

  /** Throws 429 when `p` has used up its requests of `kind` for now. */
  charge(p: Principal, kind: RequestKind): void {
    const rate = this.limits[kind];
    if (!(rate > 0)) return;
    const key = `${kind}\0${p.name}`;
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = new Bucket(rate, Math.max(1, rate * 2), now);
      this.buckets.set(key, b);
    }
    const wait = b.take(now);
    if (wait > 0)
      throw new RateLimitError(
        `rate limit: "${p.name}" may make ${rate} ${kind} requests per second`,
        Math.max(1, Math.ceil(wait)),
      );
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
