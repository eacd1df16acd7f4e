// The one place that knows which keys `vigil.yaml` may hold. Each top-level section registers its shape in
// SECTIONS; an unknown key anywhere fails at start with file:line:col, so typos never silently fall back to defaults.

/** A config value's expected shape. `describe` strings name the shape in error messages. */
export type Spec =
  | { kind: 'string'; pattern?: RegExp; describe?: string }
  | { kind: 'int'; min?: number; max?: number }
  | { kind: 'bool' }
  | { kind: 'duration' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; of: Spec; orOne?: boolean }
  | { kind: 'map'; of: Spec }
  | { kind: 'object'; fields: Record<string, Spec>; required?: readonly string[]; oneOf?: readonly string[] }
  | { kind: 'any' }
  /** A value another stage validates: `parse` throws a `SpecError` whose path (relative to the value) places it. */
  | { kind: 'parsed'; parse: (value: unknown) => unknown };

/** A problem found by a `parsed` spec, at `path` inside the value. */
export class SpecError extends Error {
  readonly path: (string | number)[];
  constructor(path: (string | number)[], message: string) {
    super(message);
    this.name = 'SpecError';
    this.path = path;
  }
}

import type { RouteMap } from '../capture/types.ts';
import type { DecodeLimits } from '../event/limits.ts';
import { parseSinkConfig, SinkConfigError } from '../sinks/config.ts';
import type { SinkConfig } from '../sinks/types.ts';

const str: Spec = { kind: 'string' };

export const ROLES = ['admin', 'tenant', 'ingest'] as const;
const PRIORITIES = ['DEBUG', 'INFO', 'WARNING'] as const;
export const RECEIVER_TYPES = ['alertmanager', 'webhook'] as const;
export const STORAGE_TYPES = ['sqlite', 'postgres'] as const;
export type Role = (typeof ROLES)[number];

/** One sink as `parseSinkConfig` checks it, its errors placed at the key at fault. */
const sink: Spec = {
  kind: 'parsed',
  parse(value) {
    try {
      return parseSinkConfig(value, []);
    } catch (err) {
      if (!(err instanceof SinkConfigError)) throw err;
      // The message starts with the formatted path, which the config loader writes itself.
      throw new SpecError(err.path, err.message.slice(err.message.indexOf(': ') + 2));
    }
  },
};

/** A URLPattern pathname, compiled here so that a bad one fails at start with its position. */
const routePattern: Spec = {
  kind: 'parsed',
  parse(value) {
    if (typeof value !== 'string' || value === '') throw new SpecError([], 'must be a non-empty string');
    try {
      new URLPattern({ pathname: value });
    } catch (err) {
      throw new SpecError([], `not a URLPattern pathname: ${(err as Error).message}`);
    }
    return value;
  },
};

/** Top-level sections. Other stages add theirs here (rules, receivers, capture…), one entry each. */
export const SECTIONS: Record<string, Spec> = {
  listen: str,
  // sqlite needs path, postgres needs url (checked in load.ts, which knows the type chosen).
  storage: {
    kind: 'object',
    fields: {
      type: { kind: 'enum', values: STORAGE_TYPES },
      path: str,
      url: str,
      schema: { kind: 'string', pattern: /^[a-z_][a-z0-9_]{0,47}$/, describe: 'lower-case letters, digits and _' },
      poolSize: { kind: 'int', min: 1, max: 1000 },
      // SQLite page cache of the write connection in MiB (the query connection gets a quarter): the bound on memory.
      cacheMiB: { kind: 'int', min: 2, max: 65536 },
    },
  },
  retention: { kind: 'duration' },
  // Tamper evidence (src/integrity): the Ed25519 key signing checkpoints (default: vigil-signing.key beside the
  // database, created on first start) and how often the chain head is signed (default 5m).
  integrity: { kind: 'object', fields: { signingKey: str, checkpointInterval: { kind: 'duration' } } },
  ingest: {
    kind: 'object',
    fields: {
      maxBodyBytes: { kind: 'int', min: 1024 },
      // More fields to mask before storing (dot paths, `[n]`/`[*]`), besides the secret-named ones always masked.
      mask: { kind: 'list', of: str },
      // Per-request limits of the event decoders (src/event/limits.ts); each defaults to DEFAULT_DECODE_LIMITS.
      limits: {
        kind: 'object',
        fields: {
          maxEvents: { kind: 'int', min: 1 },
          maxFieldLength: { kind: 'int', min: 256 },
          maxUserAgentLength: { kind: 'int', min: 16 },
          maxDepth: { kind: 'int', min: 8 },
        },
      },
      openfaas: { kind: 'object', fields: { secret: str, secretFile: str }, oneOf: ['secret', 'secretFile'] },
      amqp: {
        kind: 'list',
        of: {
          kind: 'object',
          fields: { url: str, exchange: str, topic: str, queue: str, passive: { kind: 'bool' } },
          required: ['url', 'exchange'],
        },
      },
    },
  },
  auth: {
    kind: 'object',
    fields: {
      tokens: {
        kind: 'list',
        of: {
          kind: 'object',
          fields: {
            name: str,
            token: str,
            // `vigil token hash` prints it; the config then holds no secret.
            tokenHash: { kind: 'string', pattern: /^sha256:[0-9a-f]{64}$/, describe: 'sha256:<64 hex digits>' },
            role: { kind: 'enum', values: ROLES },
            workspaces: { kind: 'list', of: str },
            namespaces: { kind: 'list', of: str },
          },
          required: ['name', 'role'],
          oneOf: ['token', 'tokenHash'],
        },
      },
      // Client certificates verified against tls.clientCA, by subject CN.
      clientCerts: {
        kind: 'list',
        of: {
          kind: 'object',
          fields: {
            subject: str,
            role: { kind: 'enum', values: ROLES },
            workspaces: { kind: 'list', of: str },
            namespaces: { kind: 'list', of: str },
          },
          required: ['subject', 'role'],
        },
      },
      // Per caller; 0 turns a limit off.
      rateLimit: {
        kind: 'object',
        fields: { ingestPerSecond: { kind: 'int', min: 0 }, queryPerSecond: { kind: 'int', min: 0 } },
      },
    },
  },
  // HTTPS. Files are relative to the config file. clientAuth: request (verify a certificate if one is sent) or
  // require (refuse a connection without a valid one).
  tls: {
    kind: 'object',
    fields: { cert: str, key: str, clientCA: str, clientAuth: { kind: 'enum', values: ['request', 'require'] } },
    required: ['cert', 'key'],
  },
  workspaces: { kind: 'map', of: { kind: 'list', of: str } },
  rules: {
    kind: 'object',
    fields: {
      enabled: { kind: 'bool' },
      dir: str,
      webhook: str,
      archivingPriority: { kind: 'enum', values: PRIORITIES },
      alertingPriority: { kind: 'enum', values: PRIORITIES },
    },
  },
  receivers: {
    kind: 'list',
    of: {
      kind: 'object',
      fields: {
        name: str,
        type: { kind: 'enum', values: RECEIVER_TYPES },
        url: str,
        secret: str,
        timeout: { kind: 'duration' },
      },
      required: ['name', 'type', 'url'],
    },
  },
  alerts: { kind: 'object', fields: { groupWindow: { kind: 'duration' }, expireAfter: { kind: 'duration' } } },
  externalURL: str,
  query: { kind: 'object', fields: { maxHistogramBuckets: { kind: 'int', min: 10 } } },
  // The capture middleware's setup (createAuditor({config})); the collector ignores it. Files are relative to the
  // config file. Functions (identify, onError, longRunning) stay programmatic.
  capture: {
    kind: 'object',
    fields: {
      policy: str,
      auditMap: str,
      serviceType: str,
      serviceName: str,
      trustedProxies: { kind: 'list', of: str },
      bodyLimit: { kind: 'int', min: 0 },
      strict: { kind: 'bool' },
      streamingIsLongRunning: { kind: 'bool' },
      // Paths masked besides the credentials always masked, as the collector's ingest.mask.
      mask: { kind: 'list', of: str },
      routes: {
        kind: 'list',
        of: {
          kind: 'object',
          fields: {
            method: { kind: 'list', of: str, orOne: true },
            pattern: routePattern,
            resource: str,
            apiGroup: str,
            apiVersion: str,
            namespace: str,
            name: str,
            subresource: str,
            verb: str,
            action: str,
          },
          required: ['pattern', 'resource'],
        },
      },
      sinks: { kind: 'list', of: sink },
    },
  },
};

/** The `capture:` section as validated (paths as written; `createAuditor({config})` resolves them). */
export interface CaptureConfig {
  /** A Kubernetes audit Policy file. */
  policy?: string;
  /** A keystonemiddleware audit map file. */
  auditMap?: string;
  serviceType?: string;
  serviceName?: string;
  trustedProxies?: string[];
  bodyLimit?: number;
  strict?: boolean;
  streamingIsLongRunning?: boolean;
  mask?: string[];
  routes?: RouteMap[];
  sinks?: SinkConfig[];
}

export interface RulesConfig {
  /** False: no rule evaluation, every received event is stored. */
  enabled: boolean;
  /** KubeSphere Rule files (a file or a folder); unset: the shipped KubeSphere default rules. */
  dir?: string;
  /** A KubeSphere `Webhook` resource: priorities, rule selectors, receivers. */
  webhook?: string;
  archivingPriority?: 'DEBUG' | 'INFO' | 'WARNING';
  alertingPriority?: 'DEBUG' | 'INFO' | 'WARNING';
}

export interface ReceiverConfig {
  name: string;
  type: (typeof RECEIVER_TYPES)[number];
  url: string;
  /** webhook: Standard Webhooks secret (`whsec_` + base64). */
  secret?: string;
  /** Milliseconds per attempt. */
  timeout?: number;
}

export interface TokenConfig {
  name: string;
  /** Exactly one of token and tokenHash (`sha256:<hex>`). */
  token?: string;
  tokenHash?: string;
  role: Role;
  workspaces?: string[];
  namespaces?: string[];
}

export interface ClientCertConfig {
  /** The certificate's subject CN. */
  subject: string;
  role: Role;
  workspaces?: string[];
  namespaces?: string[];
}

export interface RateLimitConfig {
  ingestPerSecond?: number;
  queryPerSecond?: number;
}

/** PEM contents, read at load time. */
export interface TlsConfig {
  cert: Buffer;
  key: Buffer;
  clientCA?: Buffer;
  clientAuth?: 'request' | 'require';
}

export interface AmqpSourceConfig {
  url: string;
  exchange: string;
  /** oslo.messaging topic; the queue is bound with `<topic>.info`. Default `notifications`. */
  topic?: string;
  /** Vigil's own queue (never oslo's shared `notifications.info`). Default `vigil.<exchange>.<topic>`. */
  queue?: string;
  /** Check that the exchange exists instead of declaring it. */
  passive?: boolean;
}

/** Embedded SQLite (one collector), or PostgreSQL shared by several collectors. */
export type StorageConfig =
  | { type: 'sqlite'; path: string; cacheMiB?: number }
  | { type: 'postgres'; url: string; schema?: string; poolSize?: number };

/** The configuration after validation and defaults. Keys of sections other stages own stay in `sections`. */
export interface VigilConfig {
  listen: string;
  storage: StorageConfig;
  /** Milliseconds. */
  retention: number;
  ingest: {
    maxBodyBytes: number;
    /** Extra paths masked before storing (secret-named members and CADF credential tokens always are). */
    mask: string[];
    /** Decoder limits as configured (unset ones take DEFAULT_DECODE_LIMITS). */
    limits: DecodeLimits;
    openfaas?: { secret?: string; secretFile?: string };
    amqp: AmqpSourceConfig[];
  };
  auth: { tokens: TokenConfig[]; clientCerts: ClientCertConfig[]; rateLimit?: RateLimitConfig };
  tls?: TlsConfig;
  workspaces: Record<string, string[]>;
  /** KubeSphere rules deciding what is stored and alerted. Paths are resolved against the config file. */
  rules: RulesConfig;
  receivers: ReceiverConfig[];
  alerts: { groupWindowMs: number; expireAfterMs: number };
  /** How users reach this Vigil: alerts link to their event there. */
  externalURL?: string;
  /** Query limits (unset: the store's defaults, MAX_HISTOGRAM_BUCKETS). */
  query: { maxHistogramBuckets?: number };
  /** Every top-level section as written (validated), for stages that read their own. */
  sections: Record<string, unknown>;
}

export const DEFAULTS = {
  listen: '127.0.0.1:8080',
  dataDir: './data',
  dbFile: 'vigil.db',
  retention: '7d',
  maxBodyBytes: 10 * 1024 * 1024,
  alertGroupWindow: '5m',
  alertExpireAfter: '1d',
} as const;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;

/** `30s`, `15m`, `7d`, `2w` → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT_MS[m[2]!]!;
  return n > 0 ? n : undefined;
}
