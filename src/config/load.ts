// Reads vigil.yaml and validates it against SCHEMA (schema.ts), reporting every problem as `file:line:col: key: what
// is wrong`; resolves every path of the file against the file's folder, and fills in the defaults.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import {
  type ConfigFile,
  DEFAULTS,
  FORWARD_FORMATS,
  type FORWARD_HTTP_APIS,
  type ForwardConfig,
  type ForwardEntry,
  LOG_LEVELS,
  type LogLevel,
  parseDuration,
  SCHEMA,
  type StorageConfig,
  type VigilConfig,
} from './schema.ts';
import { checkValue, mapPaths, type Problem } from './spec.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Overrides {
  /** `host:port`, `:port` or a bare port. */
  listen?: string;
  /** The log level (`--log-level`). */
  logLevel?: string;
  /** Data directory: the SQLite file goes to `<data>/vigil.db` (and the default signing key beside it). */
  data?: string;
  /** `postgres://…`: PostgreSQL storage instead of what the file says (its schema and poolSize still apply). */
  storageUrl?: string;
}

/** `a.b[3].c` */
function keyName(p: (string | number)[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/** Where a problem is in the file: its value's node, its key's, or the deepest part of its path that exists. */
function position(doc: Document, lc: LineCounter, file: string, p: Problem): string {
  let node: Node | undefined;
  if (p.atKey) {
    const parent = doc.getIn(p.path.slice(0, -1), true);
    const last = p.path[p.path.length - 1];
    if (isMap(parent)) node = parent.items.find((i) => isScalar(i.key) && i.key.value === last)?.key as Node;
  }
  for (let i = p.path.length; !node && i >= 0; i--) {
    const n = i === 0 ? doc.contents : doc.getIn(p.path.slice(0, i), true);
    if (n && typeof n === 'object' && 'range' in n) node = n as Node;
  }
  const { line, col } = lc.linePos(node?.range?.[0] ?? 0);
  return `${file}:${line}:${col}`;
}

function problems(doc: Document, lc: LineCounter, file: string, list: Problem[]): ConfigError {
  return new ConfigError(
    list
      .map((p) => `${position(doc, lc, file, p)}: ${p.path.length ? `${keyName(p.path)}: ` : ''}${p.message}`)
      .join('\n'),
  );
}

/**
 * Parses and checks config text; `file` names it in errors, and relative paths resolve against its folder. With
 * `fs`, paths that must exist are checked ("not found", with the key and its position).
 */
function parse(text: string, file: string, fs: boolean): ConfigFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors
        .map((e) => {
          const { line, col } = lc.linePos(e.pos[0]);
          return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
        })
        .join('\n'),
    );
  }
  const raw = doc.contents === null ? {} : doc.toJS();
  const checked = checkValue(raw, SCHEMA);
  if (checked.problems.length) throw problems(doc, lc, file, checked.problems);
  const dir = path.dirname(path.resolve(file));
  const missing: Problem[] = [];
  const resolved = mapPaths(checked.value, SCHEMA, (p, spec, at) => {
    // `-` is a log sink's stdout, `:memory:` SQLite's in-memory database.
    if (p === '-' || p === ':memory:') return p;
    const abs = path.resolve(dir, p);
    if (fs && spec.exists && !existsSync(abs)) missing.push({ path: at, message: `not found: ${abs}` });
    return abs;
  });
  if (missing.length) throw problems(doc, lc, file, missing);
  return resolved as ConfigFile;
}

/** Parses config text (`file` names it in errors and anchors its relative paths). Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string, overrides: Overrides = {}): VigilConfig {
  return resolve(parse(text, file, false), overrides, false);
}

/** Reads `file` (or uses the embedded defaults when undefined), and the files it names (TLS, OpenFaaS secret). */
export function loadConfig(file: string | undefined, overrides: Overrides = {}): VigilConfig {
  if (file === undefined) return resolve({}, overrides, true);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  const cfg = resolve(parse(text, file, true), overrides, file);
  const read = (key: string, p: string) => {
    try {
      return readFileSync(p);
    } catch (err) {
      throw new ConfigError(`${file}: ${key}: cannot read ${p}: ${(err as Error).message}`);
    }
  };
  const sf = cfg.ingest.openfaas?.secretFile;
  if (sf) cfg.ingest.openfaas = { secret: read('ingest.openfaas.secretFile', sf).toString('utf8').trim() };
  const tls = parse(text, file, false).tls;
  if (tls) {
    cfg.tls = { cert: read('tls.cert', tls.cert), key: read('tls.key', tls.key), clientAuth: tls.clientAuth };
    if (tls.clientCA) cfg.tls.clientCA = read('tls.clientCA', tls.clientCA);
  }
  if (cfg.auth.clientCerts.length > 0 && !cfg.tls?.clientCA)
    throw new ConfigError(`${file}: auth.clientCerts needs tls.clientCA to verify client certificates against`);
  if (cfg.tls?.clientAuth && !cfg.tls.clientCA) throw new ConfigError(`${file}: tls.clientAuth needs tls.clientCA`);
  return cfg;
}

/** The SQLite file of a config, for what works on the embedded store only (`what` names it in the error). */
export function sqlitePath(storage: StorageConfig, what: string): string {
  if (storage.type !== 'sqlite')
    throw new ConfigError(`${what} works on the embedded SQLite store only; this config's storage is ${storage.type}`);
  return storage.path;
}

/** The signing key file of a config (see VigilConfig.integrity); undefined when checkpoints are not signed. */
export function signingKeyPath(config: VigilConfig): string | undefined {
  return config.integrity.signingKey;
}

function storage(s: ConfigFile['storage'], o: Overrides): StorageConfig {
  const url = o.storageUrl ?? (s?.type === 'postgres' ? s.url : undefined);
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new ConfigError(`storage url: expected postgres://user@host:port/database, got "${url}"`);
    const pgFile = s?.type === 'postgres' ? s : undefined;
    return { type: 'postgres', url, schema: pgFile?.schema, poolSize: pgFile?.poolSize };
  }
  const sqlite = s?.type === 'sqlite' ? s : undefined;
  const dbPath = o.data
    ? path.join(o.data, DEFAULTS.dbFile)
    : (sqlite?.path ?? path.join(DEFAULTS.dataDir, DEFAULTS.dbFile));
  return sqlite?.cacheMiB === undefined
    ? { type: 'sqlite', path: dbPath }
    : { type: 'sqlite', path: dbPath, cacheMiB: sqlite.cacheMiB };
}

/** Destination names are unique: each is a cursor of its own in the store. */
function forwardList(list: ForwardEntry[]): ForwardConfig[] {
  const seen = new Set<string>();
  return list.map((d): ForwardConfig => {
    if (seen.has(d.name)) throw new ConfigError(`forward: two destinations are named "${d.name}"`);
    seen.add(d.name);
    if (d.type !== 'http') return d;
    const { format, ...rest } = d;
    if (format === undefined || (FORWARD_FORMATS as readonly string[]).includes(format))
      return { ...rest, format: format as ForwardConfig['format'] };
    // a request shape given as the format (`format: splunk-hec`): the events go as kubernetes, in that shape
    if (d.api !== undefined && d.api !== format)
      throw new ConfigError(`forward: ${d.name}: format "${format}" is a request shape, and api says "${d.api}"`);
    return { ...rest, api: format as (typeof FORWARD_HTTP_APIS)[number] };
  });
}

function logLevel(level: string | undefined): LogLevel | undefined {
  if (level === undefined) return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError(`log level: expected one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  return level as LogLevel;
}

/**
 * The signing key: the configured one; else Vigil's default, created on first start — beside the SQLite database,
 * or for PostgreSQL (when the command line loaded the config) in `--data`, else beside the config file, else in
 * ./data. A config built in code for PostgreSQL without a key signs nothing (its collectors must share one).
 */
function integrity(f: ConfigFile, store: StorageConfig, o: Overrides, cli: string | boolean): VigilConfig['integrity'] {
  const checkpointIntervalMs = f.integrity?.checkpointInterval ?? parseDuration(DEFAULTS.checkpointInterval)!;
  const checkpointLog = f.integrity?.checkpointLog;
  if (f.integrity?.signingKey)
    return { signingKey: f.integrity.signingKey, createKey: false, checkpointIntervalMs, checkpointLog };
  const dataDir =
    store.type === 'sqlite'
      ? store.path === ':memory:'
        ? undefined
        : path.dirname(path.resolve(store.path))
      : cli === false
        ? undefined
        : path.resolve(o.data ?? (typeof cli === 'string' ? path.dirname(cli) : DEFAULTS.dataDir));
  return {
    signingKey: dataDir === undefined ? undefined : path.join(dataDir, DEFAULTS.signingKeyFile),
    createKey: true,
    checkpointIntervalMs,
    checkpointLog,
  };
}

/**
 * The callers, checked for the one mix-up that would widen what someone sees: `cluster` (binds what an ingest caller
 * sends) on a tenant, which reads as a scope but is none, or `clusters` (a tenant's scope) on another role.
 */
function callers(f: ConfigFile): VigilConfig['auth'] {
  const tokens = f.auth?.tokens ?? [];
  const clientCerts = f.auth?.clientCerts ?? [];
  const check = (where: string, c: { role: string; cluster?: string; clusters?: string[] }) => {
    if (c.role === 'tenant' && c.cluster !== undefined)
      throw new ConfigError(
        `${where}: a tenant's clusters are \`clusters: [${c.cluster}]\` (\`cluster\` names the cluster of what an ingest caller sends)`,
      );
    if (c.role !== 'tenant' && c.clusters !== undefined)
      throw new ConfigError(`${where}: \`clusters\` limits what a tenant sees; a ${c.role} caller sees every cluster`);
  };
  for (const [i, t] of tokens.entries()) check(`auth.tokens[${i}] ("${t.name}")`, t);
  for (const [i, c] of clientCerts.entries()) check(`auth.clientCerts[${i}] ("${c.subject}")`, c);
  return { tokens, clientCerts, rateLimit: f.auth?.rateLimit };
}

/** `cli`: loaded by the command line, from this file (a string) or with no file (true). */
function resolve(f: ConfigFile, o: Overrides, cli: string | boolean): VigilConfig {
  const store = storage(f.storage, o);
  return {
    listen: o.listen ?? f.listen ?? DEFAULTS.listen,
    storage: store,
    retention: f.retention ?? parseDuration(DEFAULTS.retention)!,
    integrity: integrity(f, store, o, cli),
    ingest: {
      maxBodyBytes: f.ingest?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      mask: f.ingest?.mask ?? [],
      limits: f.ingest?.limits ?? {},
      openfaas: f.ingest?.openfaas,
      amqp: f.ingest?.amqp ?? [],
    },
    auth: callers(f),
    workspaces: f.workspaces ?? {},
    rules: { enabled: true, ...f.rules },
    receivers: f.receivers ?? [],
    alerts: {
      groupWindowMs: f.alerts?.groupWindow ?? parseDuration(DEFAULTS.alertGroupWindow)!,
      expireAfterMs: f.alerts?.expireAfter ?? parseDuration(DEFAULTS.alertExpireAfter)!,
    },
    externalURL: f.externalURL,
    query: f.query ?? {},
    log: { level: logLevel(o.logLevel) ?? f.log?.level ?? DEFAULTS.logLevel },
    forward: forwardList(f.forward ?? []),
    capture: f.capture,
  };
}
