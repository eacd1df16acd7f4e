// The one place that knows which keys `vigil.yaml` may hold (SCHEMA), the types a loaded configuration has, and the
// defaults.

import type { DecodeLimits } from '../event/limits.ts';
import { SINK } from './sinks.ts';
import { type Infer, MAX_TIMER_MS, SpecError, spec as s } from './spec.ts';

export const ROLES = ['admin', 'tenant', 'ingest'] as const;
const PRIORITIES = ['DEBUG', 'INFO', 'WARNING'] as const;
export const RECEIVER_TYPES = ['alertmanager', 'webhook', 'notificationmanager', 'falco'] as const;
export const STORAGE_TYPES = ['sqlite', 'postgres'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type Role = (typeof ROLES)[number];

const str = s.string();
const strings = s.list(str);

/** A URLPattern pathname, compiled here so that a bad one fails at start with its position. */
const routePattern = s.parsed((value): string => {
  if (typeof value !== 'string' || value === '') throw new SpecError([], 'must be a non-empty string');
  try {
    new URLPattern({ pathname: value });
  } catch (err) {
    throw new SpecError([], `not a URLPattern pathname: ${(err as Error).message}`);
  }
  return value;
});

const STORAGE = s.union(
  'type',
  'storage',
  {
    sqlite: s.object(
      // cacheMiB: SQLite page cache of the write connection in MiB (the query connection gets a quarter).
      { path: s.path(), cacheMiB: s.int({ min: 2, max: 65536 }) },
    ),
    postgres: s.object(
      {
        url: str,
        schema: s.string({ pattern: /^[a-z_][a-z0-9_]{0,47}$/, describe: 'lower-case letters, digits and _' }),
        poolSize: s.int({ min: 1, max: 1000 }),
      },
      { required: ['url'] },
    ),
  },
  { default: 'sqlite' },
);

const AMQP_SOURCE = s.object(
  // cluster: what `auth.tokens[].cluster` is for a caller, for the events of this source (several clusters)
  { url: str, exchange: str, topic: str, queue: str, passive: s.bool(), cluster: str },
  { required: ['url', 'exchange'] },
);

const TOKEN = s.object(
  {
    name: str,
    token: str,
    // `vigil token hash` prints it; the config then holds no secret.
    tokenHash: s.string({ pattern: /^sha256:[0-9a-f]{64}$/, describe: 'sha256:<64 hex digits>' }),
    role: s.enum(ROLES),
    workspaces: strings,
    namespaces: strings,
    // The cluster every event this caller sends is attributed to, whatever the event claims (several clusters).
    cluster: str,
    // A tenant's clusters: it sees only their events (within its workspaces and namespaces, when it has some).
    clusters: strings,
  },
  { required: ['name', 'role'], oneOf: ['token', 'tokenHash'] },
);

const CLIENT_CERT = s.object(
  { subject: str, role: s.enum(ROLES), workspaces: strings, namespaces: strings, cluster: str, clusters: strings },
  { required: ['subject', 'role'] },
);

const RATE_LIMIT = s.object({ ingestPerSecond: s.int({ min: 0 }), queryPerSecond: s.int({ min: 0 }) });

const TLS = s.object(
  {
    cert: s.path({ exists: true }),
    key: s.path({ exists: true }),
    clientCA: s.path({ exists: true }),
    clientAuth: s.enum(['request', 'require']),
  },
  { required: ['cert', 'key'] },
);

const RULES = s.object({
  enabled: s.bool(),
  dir: s.path({ exists: true }),
  webhook: s.path({ exists: true }),
  archivingPriority: s.enum(PRIORITIES),
  alertingPriority: s.enum(PRIORITIES),
  // Falco rules files among the rules: falco.yaml's `priority` (the least severe that alerts) and `rule_matching`.
  falco: s.object({
    minimumPriority: s.string({
      pattern: /^(?:emergency|alert|critical|error|warning|notice|informational|info|debug)$/i,
      describe: 'a Falco priority: emergency, alert, critical, error, warning, notice, informational, debug',
    }),
    ruleMatching: s.enum(['first', 'all']),
  }),
});

const RECEIVER = s.object(
  { name: str, type: s.enum(RECEIVER_TYPES), url: str, secret: str, timeout: s.duration({ max: MAX_TIMER_MS }) },
  { required: ['name', 'type', 'url'] },
);

const ROUTE = s.object(
  {
    method: s.listOrOne(str),
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
  { required: ['pattern', 'resource'] },
);

const CAPTURE = s.object({
  policy: s.path({ exists: true }),
  auditMap: s.path({ exists: true }),
  serviceType: str,
  serviceName: str,
  trustedProxies: strings,
  bodyLimit: s.int({ min: 0 }),
  strict: s.bool(),
  streamingIsLongRunning: s.bool(),
  // Paths masked besides the credentials always masked, as the collector's ingest.mask.
  mask: strings,
  routes: s.list(ROUTE),
  sinks: s.list(SINK),
});

export const FORWARD_FORMATS = ['kubernetes', 'cadf', 'ocsf'] as const;
export const FORWARD_HTTP_APIS = ['webhook', 'splunk-hec', 'elasticsearch-bulk'] as const;

/** What every forwarding destination has, whatever its type (src/forward). */
const FORWARD_COMMON = {
  name: s.string({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, describe: 'letters, digits, _ . - (at most 63)' }),
  // the output format (src/event/encode.ts), as `vigil query -o` prints it
  format: s.enum(FORWARD_FORMATS),
  // which events: API query parameters (`verb_filter: create,delete`), `alerts: true`; absent: every stored event
  select: s.map(str),
  batchSize: s.int({ min: 1, max: 10_000 }),
  timeout: s.duration(),
} as const;
/** CA, client certificate and key for a TLS destination (PEM files). */
const FORWARD_TLS = s.object({
  ca: s.path({ exists: true }),
  cert: s.path({ exists: true }),
  key: s.path({ exists: true }),
  serverName: str,
});

const FORWARD = s.union('type', 'forward', {
  syslog: s.object(
    {
      ...FORWARD_COMMON,
      // tcp:// (octet counting, RFC 6587), tls:// (RFC 5425) or udp:// (RFC 5426)
      url: s.string({ pattern: /^(tcp|tls|udp):\/\/[^/]+:\d+$/, describe: 'tcp://, tls:// or udp://host:port' }),
      appName: str,
      hostname: str,
      facility: s.int({ min: 0, max: 23 }),
      tls: FORWARD_TLS,
    },
    { required: ['name', 'url'] },
  ),
  nats: s.object(
    {
      ...FORWARD_COMMON,
      url: s.listOrOne(str),
      subject: str,
      token: str,
      user: str,
      password: str,
      tls: FORWARD_TLS,
    },
    { required: ['name', 'url', 'subject'] },
  ),
  http: s.object(
    {
      ...FORWARD_COMMON,
      url: s.string({ pattern: /^https?:\/\//, describe: 'an http:// or https:// URL' }),
      // `format: splunk-hec` (or another request shape) is read as `api:` with the kubernetes format, as the
      // forwarding issue's examples write it (src/config/load.ts, forwardList)
      format: s.enum([...FORWARD_FORMATS, ...FORWARD_HTTP_APIS]),
      api: s.enum(FORWARD_HTTP_APIS),
      // Standard Webhooks signing (webhook)
      secret: str,
      // Splunk HEC token, Elasticsearch API key (or a file holding it)
      token: str,
      tokenFile: s.path({ exists: true }),
      index: str,
      headers: s.map(str),
      tls: FORWARD_TLS,
    },
    { required: ['name', 'url'] },
  ),
});

const LIMITS = s.object({
  maxEvents: s.int({ min: 1 }),
  maxFieldLength: s.int({ min: 256 }),
  maxUserAgentLength: s.int({ min: 16 }),
  maxDepth: s.int({ min: 8 }),
  // How far ahead of the collector's clock an event's time may be (the accepted time range's upper bound).
  maxClockSkew: s.duration(),
});

/**
 * The configuration table: every key `vigil.yaml` may hold, its shape, and from it the loader's validation, the
 * TypeScript types below and the reference check of docs/collector.md. Unknown keys anywhere fail at start with
 * file:line:col, so typos never silently fall back to defaults. Paths are relative to the config file.
 */
export const SCHEMA = s.object({
  listen: str,
  storage: STORAGE,
  retention: s.duration(),
  // Tamper evidence (src/integrity): the Ed25519 key signing checkpoints (default: vigil-signing.key in the data
  // directory, created on first start), how often the chain head is signed (default 5m), and a JSON-lines file outside
  // the data directory every signed checkpoint is also appended to (`vigil verify --checkpoints`).
  integrity: s.object({
    signingKey: s.path({ exists: true }),
    checkpointInterval: s.duration({ max: MAX_TIMER_MS }),
    checkpointLog: s.path(),
  }),
  ingest: s.object({
    maxBodyBytes: s.int({ min: 1024 }),
    // More fields to mask before storing (dot paths, `[n]`/`[*]`), besides the secret-named ones always masked.
    mask: strings,
    // Per-request limits of the event decoders (src/event/limits.ts); each defaults to DEFAULT_DECODE_LIMITS.
    limits: LIMITS,
    openfaas: s.object({ secret: str, secretFile: s.path({ exists: true }) }, { oneOf: ['secret', 'secretFile'] }),
    amqp: s.list(AMQP_SOURCE),
  }),
  auth: s.object({
    tokens: s.list(TOKEN),
    // Client certificates verified against tls.clientCA, by subject CN.
    clientCerts: s.list(CLIENT_CERT),
    // Per caller; 0 turns a limit off.
    rateLimit: RATE_LIMIT,
  }),
  // HTTPS. clientAuth: request (verify a certificate if one is sent) or require (refuse a connection without one).
  tls: TLS,
  workspaces: s.map(strings),
  rules: RULES,
  receivers: s.list(RECEIVER),
  alerts: s.object({ groupWindow: s.duration(), expireAfter: s.duration() }),
  externalURL: str,
  query: s.object({ maxHistogramBuckets: s.int({ min: 10 }) }),
  // The collector's log: pino JSON lines on stdout, one per request.
  log: s.object({ level: s.enum(LOG_LEVELS) }),
  // Forwarding from the store (src/forward, docs/forwarding.md): each destination reads the store through its own cursor.
  forward: s.list(FORWARD),
  // The capture middleware's setup (createAuditor({config})); the collector ignores it. Functions (identify,
  // onError, longRunning) stay programmatic.
  capture: CAPTURE,
});

/** The file as validated: every section optional, durations in milliseconds, paths resolved. */
export type ConfigFile = Infer<typeof SCHEMA>;

/** The `capture:` section as validated (paths resolved against the config file). */
export type CaptureConfig = Infer<typeof CAPTURE>;
export type RulesConfig = Infer<typeof RULES> & { enabled: boolean };
export type ReceiverConfig = Infer<typeof RECEIVER>;
export type TokenConfig = Infer<typeof TOKEN>;
export type ClientCertConfig = Infer<typeof CLIENT_CERT>;
export type RateLimitConfig = Infer<typeof RATE_LIMIT>;
export type AmqpSourceConfig = Infer<typeof AMQP_SOURCE>;
/** One `forward:` destination as validated (paths resolved). */
export type ForwardConfig = NormalForward<Infer<typeof FORWARD>>;
/** A `forward:` entry as written in the file, before forwardList reads an HTTP request shape given as `format`. */
export type ForwardEntry = Infer<typeof FORWARD>;
type NormalForward<D> = D extends { type: 'http' }
  ? Omit<D, 'format'> & { format?: (typeof FORWARD_FORMATS)[number] }
  : D;

/** PEM contents, read at load time. */
export interface TlsConfig {
  cert: Buffer;
  key: Buffer;
  clientCA?: Buffer;
  clientAuth?: 'request' | 'require';
}

/** Embedded SQLite (one collector), or PostgreSQL shared by several collectors. */
export type StorageConfig =
  | { type: 'sqlite'; path: string; cacheMiB?: number }
  | { type: 'postgres'; url: string; schema?: string; poolSize?: number };

/** The configuration after validation and defaults. */
export interface VigilConfig {
  listen: string;
  storage: StorageConfig;
  /** Milliseconds. */
  retention: number;
  integrity: {
    /** The signing key file (resolved); undefined: none (an in-memory store). */
    signingKey?: string;
    /** True when the key is Vigil's default one, created on first start; a configured key must exist. */
    createKey: boolean;
    checkpointIntervalMs: number;
    /** Every signed checkpoint is also appended here (resolved path); undefined: only in the store. */
    checkpointLog?: string;
  };
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
  /** KubeSphere rules deciding what is stored and alerted. */
  rules: RulesConfig;
  receivers: ReceiverConfig[];
  alerts: { groupWindowMs: number; expireAfterMs: number };
  /** How users reach this Vigil: alerts link to their event there. */
  externalURL?: string;
  /** Query limits (unset: the store's defaults, MAX_HISTOGRAM_BUCKETS). */
  query: { maxHistogramBuckets?: number };
  log: { level: LogLevel };
  /** Forwarding destinations (src/forward). */
  forward: ForwardConfig[];
  /** The capture middleware's section, for createAuditor({config}). */
  capture?: CaptureConfig;
}

export const DEFAULTS = {
  listen: '127.0.0.1:8080',
  dataDir: './data',
  dbFile: 'vigil.db',
  retention: '7d',
  maxBodyBytes: 10 * 1024 * 1024,
  alertGroupWindow: '5m',
  alertExpireAfter: '1d',
  logLevel: 'info',
  signingKeyFile: 'vigil-signing.key',
  checkpointInterval: '5m',
} as const;

export { parseDuration } from './spec.ts';
