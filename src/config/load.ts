// Reads and validates vigil.yaml against SECTIONS, reporting every problem as `file:line:col: what is wrong`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isCollection, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import {
  DEFAULTS,
  LOG_LEVELS,
  type LogLevel,
  parseDuration,
  SECTIONS,
  type Spec,
  SpecError,
  type StorageConfig,
  type VigilConfig,
} from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface Ctx {
  file: string;
  lc: LineCounter;
  errors: string[];
}

function where(ctx: Ctx, node: Node | null | undefined): string {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = ctx.lc.linePos(offset);
  return `${ctx.file}:${line}:${col}`;
}

function fail(ctx: Ctx, node: Node | null | undefined, key: string, msg: string): void {
  ctx.errors.push(`${where(ctx, node)}: ${key}: ${msg}`);
}

function describe(spec: Spec): string {
  switch (spec.kind) {
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'duration':
      return 'a duration like 30s, 15m, 12h, 7d, 2w';
    case 'list':
      return 'a list';
    case 'map':
    case 'object':
      return 'a mapping';
    case 'int':
      return 'an integer';
    case 'bool':
      return 'true or false';
    default:
      return `a ${spec.kind}`;
  }
}

/** Validates `node` against `spec`; returns the plain value (durations as milliseconds). */
function check(ctx: Ctx, node: Node | null | undefined, spec: Spec, key: string): unknown {
  if (spec.kind === 'parsed') {
    const value = node && 'toJSON' in node ? (node as { toJSON(): unknown }).toJSON() : null;
    try {
      return spec.parse(value);
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      // The deepest node of the path that exists places the problem (a missing key: its mapping).
      let at: Node | null | undefined = node;
      for (let i = err.path.length; i > 0; i--) {
        const n = isCollection(node) ? (node.getIn(err.path.slice(0, i), true) as Node | undefined) : undefined;
        if (n && typeof n === 'object' && 'range' in n) {
          at = n;
          break;
        }
      }
      const sub = err.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
      return void fail(ctx, at, `${key}${sub}`, err.message);
    }
  }
  if (spec.kind === 'any') return node && 'toJSON' in node ? (node as { toJSON(): unknown }).toJSON() : null;
  if (spec.kind === 'object' || spec.kind === 'map') {
    if (!isMap(node)) return void fail(ctx, node, key, `must be ${describe(spec)}`);
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const keyNode = pair.key as Node;
      const sub = spec.kind === 'map' ? spec.of : spec.fields[k];
      if (!sub) {
        fail(
          ctx,
          keyNode,
          `${key}.${k}`,
          `unknown key (known: ${Object.keys(spec.kind === 'object' ? spec.fields : {}).join(', ')})`,
        );
        continue;
      }
      out[k] = check(ctx, (pair.value as Node | null) ?? keyNode, sub, `${key}.${k}`);
    }
    if (spec.kind === 'object') {
      for (const r of spec.required ?? []) if (!(r in out)) fail(ctx, node, key, `missing required key "${r}"`);
      if (spec.oneOf && spec.oneOf.filter((k) => k in out).length !== 1)
        fail(ctx, node, key, `needs exactly one of ${spec.oneOf.join(', ')}`);
    }
    return out;
  }
  if (spec.kind === 'list') {
    if (spec.orOne && isScalar(node)) return check(ctx, node, spec.of, key);
    if (!isSeq(node)) return void fail(ctx, node, key, 'must be a list');
    return node.items.map((item, i) => check(ctx, item as Node, spec.of, `${key}[${i}]`));
  }
  if (!isScalar(node)) return void fail(ctx, node, key, `must be ${describe(spec)}`);
  const v = node.value;
  switch (spec.kind) {
    case 'string':
      if (typeof v === 'string' && spec.pattern && !spec.pattern.test(v))
        return void fail(ctx, node, key, `must be ${spec.describe ?? `like ${spec.pattern}`}`);
      if (typeof v === 'string' && v !== '') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return void fail(ctx, node, key, 'must be a non-empty string');
    case 'bool':
      if (typeof v === 'boolean') return v;
      return void fail(ctx, node, key, 'must be true or false');
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return void fail(ctx, node, key, 'must be an integer');
      if (spec.min !== undefined && v < spec.min) return void fail(ctx, node, key, `must be at least ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) return void fail(ctx, node, key, `must be at most ${spec.max}`);
      return v;
    case 'enum':
      if (typeof v === 'string' && spec.values.includes(v)) return v;
      return void fail(ctx, node, key, `must be ${describe(spec)}, not ${JSON.stringify(v)}`);
    case 'duration': {
      const ms = typeof v === 'string' ? parseDuration(v) : undefined;
      if (ms === undefined) return void fail(ctx, node, key, `must be ${describe(spec)}, not ${JSON.stringify(v)}`);
      return ms;
    }
  }
}

export interface Overrides {
  /** `host:port`, `:port` or a bare port. */
  listen?: string;
  /** The log level (`--log-level`). */
  logLevel?: string;
  /** Data directory: the SQLite file goes to `<data>/vigil.db`. */
  data?: string;
  /** `postgres://…`: PostgreSQL storage instead of what the file says (its schema and poolSize still apply). */
  storageUrl?: string;
}

/** The SQLite file of a config, for what works on the embedded store only (`what` names it in the error). */
export function sqlitePath(storage: StorageConfig, what: string): string {
  if (storage.type !== 'sqlite')
    throw new ConfigError(`${what} works on the embedded SQLite store only; this config's storage is ${storage.type}`);
  return storage.path;
}

/**
 * The signing key file of a config: `integrity.signingKey`, else for SQLite `vigil-signing.key` beside the database;
 * undefined for PostgreSQL without one (its collectors, perhaps on several hosts, must share a configured key).
 */
export function signingKeyPath(config: VigilConfig): string | undefined {
  const integrity = config.sections.integrity as { signingKey?: string } | undefined;
  if (integrity?.signingKey !== undefined) return integrity.signingKey;
  if (config.storage.type !== 'sqlite') return undefined;
  return path.join(path.dirname(path.resolve(config.storage.path)), 'vigil-signing.key');
}

/** The keys each storage type takes: a oneOf over `type`, so a postgres url never silently falls back to SQLite. */
const STORAGE_KEYS: Record<string, { required: string; allowed: string[] }> = {
  sqlite: { required: 'path', allowed: ['type', 'path', 'cacheMiB'] },
  postgres: { required: 'url', allowed: ['type', 'url', 'schema', 'poolSize'] },
};

function checkStorage(ctx: Ctx, node: Node | null | undefined, storage: Record<string, unknown> | undefined): void {
  if (!storage || !isMap(node)) return;
  const type = (storage.type as string | undefined) ?? 'sqlite';
  const keys = STORAGE_KEYS[type];
  if (!keys) return; // the enum check already reported it
  for (const pair of (node as YAMLMap).items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (k in storage && !keys.allowed.includes(k))
      fail(
        ctx,
        pair.key as Node,
        `storage.${k}`,
        `not used by storage type ${type} (it takes ${keys.allowed.join(', ')})`,
      );
  }
  if (!(keys.required in storage)) fail(ctx, node, 'storage', `type ${type} needs "${keys.required}"`);
}

/** Parses config text (`file` names it in errors). Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string, overrides: Overrides = {}): VigilConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const ctx: Ctx = { file, lc, errors: [] };
  for (const e of doc.errors) {
    const { line, col } = lc.linePos(e.pos[0]);
    ctx.errors.push(`${file}:${line}:${col}: ${e.message.split('\n')[0]}`);
  }
  let sections: Record<string, unknown> = {};
  if (ctx.errors.length === 0 && doc.contents !== null) {
    sections = check(ctx, doc.contents as Node, { kind: 'object', fields: SECTIONS }, '') as Record<string, unknown>;
    if (isMap(doc.contents))
      checkStorage(
        ctx,
        doc.contents.get('storage', true) as Node | undefined,
        sections?.storage as Record<string, unknown> | undefined,
      );
    // Keys were validated with a leading dot; the messages read better without it.
    ctx.errors = ctx.errors.map((e) => e.replace(/: \./, ': '));
  }
  if (ctx.errors.length) throw new ConfigError(ctx.errors.join('\n'));
  return resolve(sections ?? {}, overrides);
}

/** Reads `file` (or uses the embedded defaults when undefined). */
export function loadConfig(file: string | undefined, overrides: Overrides = {}): VigilConfig {
  if (file === undefined) return resolve({}, overrides);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  const cfg = parseConfig(text, file, overrides);
  // Files named in the config are relative to it.
  const near = (p: string) => path.resolve(path.dirname(file), p);
  if (cfg.rules.dir) cfg.rules.dir = near(cfg.rules.dir);
  if (cfg.rules.webhook) cfg.rules.webhook = near(cfg.rules.webhook);
  const sf = cfg.ingest.openfaas?.secretFile;
  if (sf) {
    const p = path.resolve(path.dirname(file), sf);
    try {
      cfg.ingest.openfaas = { secret: readFileSync(p, 'utf8').trim() };
    } catch (err) {
      throw new ConfigError(`${file}: ingest.openfaas.secretFile: cannot read ${p}: ${(err as Error).message}`);
    }
  }
  const tls = cfg.sections.tls as { cert: string; key: string; clientCA?: string; clientAuth?: 'request' | 'require' };
  if (tls) {
    const read = (key: string, rel: string) => {
      const p = path.resolve(path.dirname(file), rel);
      try {
        return readFileSync(p);
      } catch (err) {
        throw new ConfigError(`${file}: tls.${key}: cannot read ${p}: ${(err as Error).message}`);
      }
    };
    cfg.tls = { cert: read('cert', tls.cert), key: read('key', tls.key), clientAuth: tls.clientAuth };
    if (tls.clientCA) cfg.tls.clientCA = read('clientCA', tls.clientCA);
  }
  if (cfg.auth.clientCerts.length > 0 && !cfg.tls?.clientCA)
    throw new ConfigError(`${file}: auth.clientCerts needs tls.clientCA to verify client certificates against`);
  if (cfg.tls?.clientAuth && !cfg.tls.clientCA) throw new ConfigError(`${file}: tls.clientAuth needs tls.clientCA`);
  return cfg;
}

type Sections = {
  listen?: string;
  storage?: {
    type?: 'sqlite' | 'postgres';
    path?: string;
    url?: string;
    schema?: string;
    poolSize?: number;
    cacheMiB?: number;
  };
  retention?: number;
  ingest?: Partial<VigilConfig['ingest']>;
  auth?: Partial<VigilConfig['auth']>;
  workspaces?: Record<string, string[]>;
  rules?: Partial<VigilConfig['rules']>;
  receivers?: VigilConfig['receivers'];
  alerts?: { groupWindow?: number; expireAfter?: number };
  externalURL?: string;
  query?: VigilConfig['query'];
  log?: { level?: LogLevel };
};

function storage(s: Sections['storage'], o: Overrides): StorageConfig {
  const url = o.storageUrl ?? (s?.type === 'postgres' ? s.url : undefined);
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new ConfigError(`storage url: expected postgres://user@host:port/database, got "${url}"`);
    const pgFile = s?.type === 'postgres' ? s : undefined;
    return { type: 'postgres', url, schema: pgFile?.schema, poolSize: pgFile?.poolSize };
  }
  const dbPath = o.data
    ? path.join(o.data, DEFAULTS.dbFile)
    : (s?.path ?? path.join(DEFAULTS.dataDir, DEFAULTS.dbFile));
  return s?.cacheMiB === undefined
    ? { type: 'sqlite', path: dbPath }
    : { type: 'sqlite', path: dbPath, cacheMiB: s.cacheMiB };
}

function logLevel(level: string | undefined): LogLevel | undefined {
  if (level === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError(`log level: expected one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  return level as LogLevel;
}

function resolve(raw: Record<string, unknown>, o: Overrides): VigilConfig {
  const s = raw as Sections;
  return {
    listen: o.listen ?? s.listen ?? DEFAULTS.listen,
    storage: storage(s.storage, o),
    retention: s.retention ?? parseDuration(DEFAULTS.retention)!,
    ingest: {
      maxBodyBytes: s.ingest?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      mask: s.ingest?.mask ?? [],
      limits: s.ingest?.limits ?? {},
      openfaas: s.ingest?.openfaas,
      amqp: s.ingest?.amqp ?? [],
    },
    auth: { tokens: s.auth?.tokens ?? [], clientCerts: s.auth?.clientCerts ?? [], rateLimit: s.auth?.rateLimit },
    workspaces: s.workspaces ?? {},
    rules: { enabled: true, ...s.rules },
    receivers: s.receivers ?? [],
    alerts: {
      groupWindowMs: s.alerts?.groupWindow ?? parseDuration(DEFAULTS.alertGroupWindow)!,
      expireAfterMs: s.alerts?.expireAfter ?? parseDuration(DEFAULTS.alertExpireAfter)!,
    },
    externalURL: s.externalURL,
    query: s.query ?? {},
    log: { level: logLevel(o.logLevel) ?? s.log?.level ?? DEFAULTS.logLevel },
    sections: raw,
  };
}
