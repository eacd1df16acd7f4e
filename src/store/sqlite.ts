// The embedded store: SQLite through node:sqlite. One connection, synchronous calls wrapped in promises. Appends
// are committed with synchronous=FULL before their promises resolve; appends arriving together share a transaction
// (group commit), each in its own savepoint.
//
// Layout, chosen for ingest speed and for queries that stay fast at millions of events:
// - `events` holds one narrow row per event: the received time (epoch µs), the audit ID, the HTTP code and, for
//   every other filterable string, the id of its value in the `terms` dictionary. Integer columns keep the row and
//   its composite (column, received) indexes small, so inserts touch few pages and counts scan little.
// - `terms` is the dictionary of distinct values per field. Fuzzy search runs on it, not on the events: a
//   case-insensitive substring is looked up in a trigram FTS5 index over the dictionary (`terms_fts`; terms shorter
//   than three characters, which trigrams cannot answer, scan the field's dictionary), and the matching term ids
//   select events through the column indexes. Indexing each distinct value once instead of each event's text is
//   what makes search indexing affordable at ingest rates.
// - Groups and source IPs are lists: each element is a row of `event_values` (term, event), so an exact filter on
//   one element is an index lookup.
// - `event_bodies` holds the full event as JSON, apart so that scans of `events` never read 1–3 KB bodies.
// - `chain_log` is the tamper-evidence hash chain (src/integrity/chain.ts): one entry per insert, in-place replacement
//   and retention deletion, written in the same transaction as the change; `checkpoints` holds signed chain heads.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { AuditEvent } from '../event/model.ts';
import {
  bodyHash,
  chainHash,
  EMPTY_BODY_HASH,
  OP_DELETE,
  OP_GENESIS,
  OP_INSERT,
  OP_REPLACE,
  ZERO_HASH,
} from '../integrity/chain.ts';
import {
  checkPage,
  checkQuery,
  codeMatches,
  decodeCursor,
  encodeCursor,
  exactCodes,
  MAX_HISTOGRAM_BUCKETS,
  QueryError,
  scopeLists,
  stageRank,
  toMicros,
} from './query.ts';
import type {
  AppendOptions,
  AppendResult,
  EventQuery,
  FilterField,
  Histogram,
  Page,
  PageRequest,
  StatsField,
  Store,
  StoredEvent,
  TenantScope,
} from './types.ts';
import { StoreUnavailableError } from './types.ts';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** How long a write waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** Most buckets a histogram answer may have (default MAX_HISTOGRAM_BUCKETS). */
  maxHistogramBuckets?: number;
  /** SQLite page cache (MiB, default 256): the index pages inserts and queries touch should stay in it. */
  cacheMiB?: number;
}

/** 2: the hash chain (`chain_log`, `checkpoints`); a version-1 database is chained from its upgrade on. */
const SCHEMA_VERSION = 2;

/**
 * Dictionary-encoded fields: their `terms.field` number is the position in this list + 1, their column in `events`
 * is the second element. The order is also the order of these columns in `events`.
 */
const DICT_FIELDS = [
  ['stage', 'stage'],
  ['verb', 'verb'],
  ['level', 'level'],
  ['user', 'username'],
  ['namespace', 'namespace'],
  ['workspace', 'workspace'],
  ['cluster', 'cluster'],
  ['devops', 'devops'],
  ['resource', 'resource'],
  ['subresource', 'subresource'],
  ['name', 'name'],
  ['status', 'status'],
  ['source', 'source'],
  ['requestURI', 'request_uri'],
  ['userAgent', 'user_agent'],
] as const;
type DictField = (typeof DICT_FIELDS)[number][0];
const FIELD_NO = Object.fromEntries(DICT_FIELDS.map(([f], i) => [f, i + 1])) as Record<DictField, number>;
const COLUMN = Object.fromEntries(DICT_FIELDS) as Record<DictField, string>;
/** List-valued fields, stored in `event_values`. */
const GROUP = 16;
const SOURCE_IP = 17;
const FIELD_COUNT = 17;

/** Fields free text searches: KubeSphere's searchable fields plus the request URI and user agent. */
const TEXT_DICT: DictField[] = [
  'user',
  'verb',
  'resource',
  'name',
  'namespace',
  'workspace',
  'requestURI',
  'status',
  'userAgent',
];

/** Dictionary fields with a (column, received) index. */
const INDEXED_DICT: DictField[] = [
  'user',
  'verb',
  'level',
  'namespace',
  'workspace',
  'cluster',
  'resource',
  'name',
  'status',
  'source',
  'requestURI',
  'userAgent',
];

const DICT_COLUMNS = DICT_FIELDS.map(([, c]) => c).join(', ');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS terms (
  id INTEGER PRIMARY KEY,              -- 0 is never stored: it stands for the empty or missing value
  field INTEGER NOT NULL,
  value TEXT NOT NULL,
  UNIQUE (field, value)
);
CREATE VIRTUAL TABLE IF NOT EXISTS terms_fts USING fts5(
  value, content = 'terms', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- Vigil's id; AUTOINCREMENT: never reused, even after retention empties the table
  received INTEGER NOT NULL,           -- requestReceivedTimestamp, epoch microseconds
  audit_id TEXT NOT NULL,
  ${DICT_FIELDS.map(([, c]) => `${c} INTEGER NOT NULL,`).join('\n  ')}
  code INTEGER,
  multi TEXT NOT NULL                  -- term ids of the event's event_values rows, comma-separated
);
-- Idempotency and the stage lookup of collapseStages: every stage of one call shares its received time, so the
-- key starts with it and inserts stay append-mostly (an index led by random audit IDs costs a page write per event).
CREATE UNIQUE INDEX IF NOT EXISTS events_call ON events (received, audit_id, stage);
CREATE INDEX IF NOT EXISTS events_received ON events (received); -- (received, id) order for sorting and keyset paging
CREATE INDEX IF NOT EXISTS events_workspace ON events (workspace, received);
CREATE INDEX IF NOT EXISTS events_namespace ON events (namespace, received);
CREATE INDEX IF NOT EXISTS events_username ON events (username, received);
CREATE INDEX IF NOT EXISTS events_resource ON events (resource, received);
CREATE INDEX IF NOT EXISTS events_name ON events (name, received);
CREATE INDEX IF NOT EXISTS events_verb ON events (verb, received);
CREATE INDEX IF NOT EXISTS events_level ON events (level, received);
CREATE INDEX IF NOT EXISTS events_code ON events (code, received);
CREATE INDEX IF NOT EXISTS events_status ON events (status, received);
CREATE INDEX IF NOT EXISTS events_request_uri ON events (request_uri, received);
CREATE INDEX IF NOT EXISTS events_user_agent ON events (user_agent, received);
CREATE INDEX IF NOT EXISTS events_cluster ON events (cluster, received);
CREATE INDEX IF NOT EXISTS events_source ON events (source, received);
CREATE TABLE IF NOT EXISTS event_values (
  term INTEGER NOT NULL,               -- a group or source IP
  event_id INTEGER NOT NULL,
  PRIMARY KEY (term, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_bodies (
  id INTEGER PRIMARY KEY,
  body TEXT NOT NULL                   -- the event as JSON
);
CREATE TABLE IF NOT EXISTS batches (
  key TEXT PRIMARY KEY,                -- delivery id (OpenFaaS X-Openfaas-Delivery)
  stored INTEGER NOT NULL              -- epoch ms
);
CREATE INDEX IF NOT EXISTS batches_stored ON batches (stored);
CREATE TABLE IF NOT EXISTS chain_log (
  seq INTEGER PRIMARY KEY,             -- position in the chain, 1 = genesis
  op INTEGER NOT NULL,                 -- 0 genesis (event_id: last unchained id), 1 insert, 2 replace, 3 retention delete
  event_id INTEGER NOT NULL,
  body_hash BLOB NOT NULL,             -- sha256 of the stored JSON (zeros for genesis and delete)
  hash BLOB NOT NULL                   -- chain hash through this entry
);
CREATE INDEX IF NOT EXISTS chain_log_event ON chain_log (event_id, seq); -- verify: the latest entry of each event
CREATE TABLE IF NOT EXISTS checkpoints (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,                 -- epoch ms
  last_seq INTEGER NOT NULL,           -- chain entry the head is the hash of
  count INTEGER NOT NULL,              -- chained events stored at that point
  head BLOB NOT NULL,
  signature BLOB NOT NULL,             -- Ed25519 over checkpointMessage() (src/integrity/checkpoint.ts)
  key_id TEXT NOT NULL
);
`;

/** Most buckets a histogram counts one range at a time (beyond, one GROUP BY query counts them all). */
const PER_BUCKET_MAX = 2000;

/** Most matching dictionary terms a fuzzy condition lists by id (beyond, it keeps the dictionary subquery). */
const INLINE_TERMS = 500;

/** Events appended between two refreshes of the planner's statistics. */
const STATS_EVERY = 100_000;
/** SQLite primary result codes that mean "cannot write now, may later" (extended codes keep them in the low byte). */
const UNAVAILABLE: Record<number, string> = { 5: 'busy', 6: 'busy', 10: 'io', 13: 'full', 14: 'io' };

/** A node:sqlite error of a full disk, an I/O failure or a lock, as the contract's StoreUnavailableError. */
function unavailable(err: unknown): StoreUnavailableError | undefined {
  const e = err as { code?: string; errcode?: number; errstr?: string; message?: string };
  if (e?.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') return undefined;
  const reason = UNAVAILABLE[e.errcode & 0xff];
  if (!reason) return undefined;
  return new StoreUnavailableError(`store unavailable: ${e.errstr ?? e.message}`, reason, 5, err);
}

/** Per-field dictionary cache size; past it the field's cache starts over (lookups then go to the database). */
const TERM_CACHE = 200_000;

const STATS_DICT: Partial<Record<StatsField, DictField>> = {
  user: 'user',
  verb: 'verb',
  resource: 'resource',
  namespace: 'namespace',
  workspace: 'workspace',
};

/** FTS5 query matching any of `terms` as a substring (the trigram tokenizer makes a phrase a substring match). */
function ftsAny(terms: string[]): string {
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}

/** The trigram index only answers terms of three characters or more. */
function indexable(term: string): boolean {
  let n = 0;
  for (const _ of term) if (++n >= 3) return true;
  return false;
}

function placeholders(n: number): string {
  return n === 1 ? '?' : `?${',?'.repeat(n - 1)}`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The event's dictionary-field values, in DICT_FIELDS order. */
function dictValues(e: AuditEvent): string[] {
  const o = e.objectRef;
  return [
    str(e.stage),
    str(e.verb),
    str(e.level),
    str(e.user?.username),
    str(o?.namespace),
    str(e.workspace),
    str(e.cluster),
    str(e.devops),
    str(o?.resource),
    str(o?.subresource),
    str(o?.name),
    str(e.responseStatus?.status),
    str(e.source),
    str(e.requestURI),
    str(e.userAgent),
  ];
}

/** Stored JSON without a stale `id` (an event read back from a store and appended again). */
function bodyOf(e: AuditEvent): string {
  if ('id' in e) {
    const { id: _id, ...rest } = e as AuditEvent & { id: unknown };
    return JSON.stringify(rest);
  }
  return JSON.stringify(e);
}

/** The stored event with its id first: one parse of the body with the id spliced in. */
function withId(id: string | number | bigint, body: string): StoredEvent {
  return JSON.parse(body.length > 2 ? `{"id":"${id}",${body.slice(1)}` : `{"id":"${id}"}`) as StoredEvent;
}

interface Where {
  sql: string;
  params: SQLInputValue[];
}

interface AppendJob {
  events: AuditEvent[];
  opts: AppendOptions;
  resolve: (r: AppendResult) => void;
  reject: (err: unknown) => void;
}

type StoredRef = { id: number | bigint; event: AuditEvent };

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  return new SqliteStore(opts);
}

class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #maxBuckets: number;
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  readonly #statements = new Map<string, StatementSync>();
  /** Dictionary cache per field number: value → term id. */
  readonly #terms: Map<string, number>[] = Array.from({ length: FIELD_COUNT + 1 }, () => new Map());
  /** Terms cached during the open transaction, forgotten again if it rolls back. */
  #newTerms: [number, string][] = [];
  #queue: AppendJob[] = [];
  #flushing: NodeJS.Immediate | undefined;
  readonly #s: Record<
    | 'insert'
    | 'insertBody'
    | 'insertTerm'
    | 'insertTermFts'
    | 'findTerm'
    | 'termValue'
    | 'insertValue'
    | 'insertBatch'
    | 'findCollapse'
    | 'update'
    | 'updateBody'
    | 'deleteValue'
    | 'deleteEvent'
    | 'deleteBody'
    | 'oldest'
    | 'deleteBatches'
    | 'count'
    | 'timeRange'
    | 'nextTerms'
    | 'deleteTerm'
    | 'deleteTermFts'
    | 'body'
    | 'chainHead'
    | 'chainAdd',
    StatementSync
  >;
  #closed = false;
  /** Chain head inside the open transaction (read at BEGIN, restored from a savepoint's mark on rollback). */
  #chainSeq = 0;
  #chainHead: Uint8Array = ZERO_HASH;
  /** Dictionary retention: the term id after which the next step looks, and per field how to tell a term in use. */
  #pruneAfter = 0;
  #sinceStats = 0;
  readonly #termUsed: (StatementSync | undefined)[] = [];

  constructor(opts: SqliteStoreOptions) {
    const db = new DatabaseSync(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
    this.#db = db;
    this.#maxBuckets = opts.maxHistogramBuckets ?? MAX_HISTOGRAM_BUCKETS;
    try {
      // WAL: readers never block the writer. synchronous=FULL: in WAL mode NORMAL may lose the last commits on
      // power loss, and an append answers only after its events are durable.
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      // Checkpoint every ~40 MiB of WAL instead of 4 MiB: index pages dirtied by many commits reach the database
      // file once per checkpoint, so fewer checkpoints write fewer pages.
      db.exec('PRAGMA wal_autocheckpoint = 10000');
      db.exec('PRAGMA journal_size_limit = 67108864');
      db.exec(`PRAGMA cache_size = ${-1024 * Math.max(2, Math.floor(opts.cacheMiB ?? 256))}`);
      db.exec('PRAGMA temp_store = MEMORY');
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `${opts.path}: schema version ${version} is newer than this Vigil supports (${SCHEMA_VERSION})`,
        );
      db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}`);
      try {
        if (!db.prepare('SELECT 1 FROM chain_log LIMIT 1').get()) {
          // Events stored before the chain existed (schema 1) stay unchained: genesis records the last of their ids.
          const last = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).get() as
            | { seq: number }
            | undefined;
          const id = last?.seq ?? 0;
          db.prepare('INSERT INTO chain_log (seq, op, event_id, body_hash, hash) VALUES (1, ?, ?, ?, ?)').run(
            OP_GENESIS,
            id,
            EMPTY_BODY_HASH,
            chainHash(ZERO_HASH, OP_GENESIS, 1, id, EMPTY_BODY_HASH),
          );
        }
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    } catch (err) {
      db.close();
      throw err;
    }
    const p = (sql: string) => db.prepare(sql);
    for (const f of INDEXED_DICT)
      this.#termUsed[FIELD_NO[f]] = p(`SELECT 1 FROM events WHERE ${COLUMN[f]} = ? LIMIT 1`);
    this.#termUsed[GROUP] = p('SELECT 1 FROM event_values WHERE term = ? LIMIT 1');
    this.#termUsed[SOURCE_IP] = this.#termUsed[GROUP];
    const dictCount = DICT_FIELDS.length;
    this.#s = {
      insert: p(
        `INSERT INTO events (received, audit_id, ${DICT_COLUMNS}, code, multi)
         VALUES (${placeholders(dictCount + 4)}) ON CONFLICT (received, audit_id, stage) DO NOTHING`,
      ),
      insertBody: p('INSERT INTO event_bodies (id, body) VALUES (?, ?)'),
      insertTerm: p('INSERT INTO terms (field, value) VALUES (?, ?) ON CONFLICT (field, value) DO NOTHING'),
      insertTermFts: p('INSERT INTO terms_fts (rowid, value) VALUES (?, ?)'),
      findTerm: p('SELECT id FROM terms WHERE field = ? AND value = ?'),
      termValue: p('SELECT value FROM terms WHERE id = ?'),
      insertValue: p('INSERT OR IGNORE INTO event_values (term, event_id) VALUES (?, ?)'),
      insertBatch: p('INSERT INTO batches (key, stored) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
      findCollapse: p(
        'SELECT id, stage, multi FROM events WHERE received = ? AND audit_id = ? AND source = ? ORDER BY id',
      ),
      update: p(
        `UPDATE OR IGNORE events SET (received, audit_id, ${DICT_COLUMNS}, code, multi) = (${placeholders(dictCount + 4)})
         WHERE id = ?`,
      ),
      updateBody: p('UPDATE event_bodies SET body = ? WHERE id = ?'),
      deleteValue: p('DELETE FROM event_values WHERE term = ? AND event_id = ?'),
      deleteEvent: p('DELETE FROM events WHERE id = ?'),
      deleteBody: p('DELETE FROM event_bodies WHERE id = ?'),
      oldest: p('SELECT id, multi FROM events WHERE received < ? ORDER BY received LIMIT ?'),
      deleteBatches: p(
        'DELETE FROM batches WHERE rowid IN (SELECT rowid FROM batches WHERE stored < ? ORDER BY stored LIMIT ?)',
      ),
      count: p('SELECT count(*) AS n FROM events'),
      // two subqueries: min() and max() together would not use the index
      timeRange: p('SELECT (SELECT min(received) FROM events) AS lo, (SELECT max(received) FROM events) AS hi'),
      nextTerms: p('SELECT id, field, value FROM terms WHERE id > ? ORDER BY id LIMIT ?'),
      deleteTerm: p('DELETE FROM terms WHERE id = ?'),
      deleteTermFts: p(`INSERT INTO terms_fts (terms_fts, rowid, value) VALUES ('delete', ?, ?)`),
      body: p('SELECT body FROM event_bodies WHERE id = ?'),
      chainHead: p('SELECT seq, hash FROM chain_log ORDER BY seq DESC LIMIT 1'),
      chainAdd: p('INSERT INTO chain_log (seq, op, event_id, body_hash, hash) VALUES (?, ?, ?, ?, ?)'),
    };
    this.#refreshStats();
  }

  /**
   * Planner statistics, written rather than measured: the dictionary knows how many distinct values each column has,
   * so rows per value = events / distinct values, at the cost of a few counts. ANALYZE would read every index (seconds
   * at millions of events, blocking ingest), and its sampling variant (analysis_limit) sees only the first values of
   * each index and rates every column alike, so that the planner picked `verb = ?` over a selective namespace list.
   */
  #refreshStats(): void {
    this.#sinceStats = 0;
    const db = this.#db;
    const events = (this.#s.count.get() as { n: number }).n;
    if (events === 0) return;
    const distinct = new Map<number, number>();
    for (const r of db.prepare('SELECT field, count(*) AS n FROM terms GROUP BY field').all() as {
      field: number;
      n: number;
    }[])
      distinct.set(r.field, r.n);
    const per = (d: number) => Math.max(1, Math.round(events / Math.max(1, d)));
    const rows: [string, string][] = [
      ['events_call', `${events} 1 1 1`],
      ['events_received', `${events} 1`],
      ['events_code', `${events} ${per(20)} 1`],
    ];
    for (const f of INDEXED_DICT)
      rows.push([`events_${COLUMN[f]}`, `${events} ${per(distinct.get(FIELD_NO[f]) ?? 1)} 1`]);
    const values = (db.prepare('SELECT count(*) AS n FROM event_values').get() as { n: number }).n;
    const valueTerms = (distinct.get(GROUP) ?? 0) + (distinct.get(SOURCE_IP) ?? 0);
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec('ANALYZE sqlite_schema'); // creates sqlite_stat1 if missing
      db.exec(`DELETE FROM sqlite_stat1 WHERE tbl IN ('events', 'event_values')`);
      const ins = db.prepare('INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)');
      ins.run('events', null, String(events));
      for (const [idx, stat] of rows) ins.run('events', idx, stat);
      if (values > 0)
        ins.run(
          'event_values',
          'event_values',
          `${values} ${Math.max(1, Math.round(values / Math.max(1, valueTerms)))} 1`,
        );
      db.exec('COMMIT');
      db.exec('ANALYZE sqlite_schema'); // loads the statistics into the planner
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  #open(): void {
    if (this.#closed) throw new Error('the store is closed');
  }

  #prepare(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      if (this.#statements.size >= 256) this.#statements.clear();
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /** The term id of a value, added to the dictionary if new (inside the append transaction). */
  #termId(field: number, value: string): number {
    if (value === '') return 0;
    const cache = this.#terms[field]!;
    let id = cache.get(value);
    if (id !== undefined) return id;
    const s = this.#s;
    const r = s.insertTerm.run(field, value);
    if (r.changes > 0) {
      id = Number(r.lastInsertRowid);
      s.insertTermFts.run(id, value);
    } else {
      id = (s.findTerm.get(field, value) as { id: number }).id; // added by another process
    }
    if (cache.size >= TERM_CACHE) cache.clear();
    cache.set(value, id);
    this.#newTerms.push([field, value]);
    return id;
  }

  /** The term id of a value if the dictionary has it (queries never add terms). */
  #findTerm(field: number, value: string): number | undefined {
    if (value === '') return 0;
    const cached = this.#terms[field]!.get(value);
    if (cached !== undefined) return cached;
    return (this.#s.findTerm.get(field, value) as { id: number } | undefined)?.id;
  }

  #begin(): void {
    this.#db.exec('BEGIN IMMEDIATE');
    this.#newTerms = [];
    // One read per transaction (not per event): another process may have extended the chain since.
    const h = this.#s.chainHead.get() as { seq: number; hash: Uint8Array };
    this.#chainSeq = h.seq;
    this.#chainHead = h.hash;
  }

  /** Adds one entry to the hash chain inside the open transaction. */
  #chain(op: number, id: number | bigint, body: string | undefined): void {
    const seq = ++this.#chainSeq;
    const bh = body === undefined ? EMPTY_BODY_HASH : bodyHash(body);
    const hash = chainHash(this.#chainHead, op, seq, Number(id), bh);
    this.#s.chainAdd.run(seq, op, id, bh, hash);
    this.#chainHead = hash;
  }

  #commit(): void {
    this.#db.exec('COMMIT');
    this.#newTerms = [];
  }

  #rollback(): void {
    if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
    this.#forgetTerms(0);
  }

  /** Drops the terms cached since `mark` from the cache: their rows were rolled back. */
  #forgetTerms(mark: number): void {
    for (let i = mark; i < this.#newTerms.length; i++) {
      const [field, value] = this.#newTerms[i]!;
      this.#terms[field]!.delete(value);
    }
    this.#newTerms.length = mark;
  }

  /** Column values of an event in `insert`/`update` order, and the term ids of its groups and source IPs. */
  #row(e: AuditEvent): { values: SQLInputValue[]; multi: number[] } {
    const received = toMicros(e.requestReceivedTimestamp);
    if (Number.isNaN(received))
      throw new QueryError(
        `event ${e.auditID}: requestReceivedTimestamp ${JSON.stringify(e.requestReceivedTimestamp)} is not an RFC 3339 time`,
      );
    if (typeof e.auditID !== 'string' || e.auditID === '')
      throw new QueryError('an event without auditID cannot be stored');
    const values: SQLInputValue[] = [received, e.auditID];
    const dict = dictValues(e);
    for (let i = 0; i < dict.length; i++) values.push(this.#termId(i + 1, dict[i]!));
    const multi: number[] = [];
    for (const g of e.user?.groups ?? []) if (typeof g === 'string' && g !== '') multi.push(this.#termId(GROUP, g));
    for (const ip of e.sourceIPs ?? [])
      if (typeof ip === 'string' && ip !== '') multi.push(this.#termId(SOURCE_IP, ip));
    const code = e.responseStatus?.code;
    values.push(typeof code === 'number' && Number.isInteger(code) ? code : null, multi.join(','));
    return { values, multi };
  }

  #addValues(id: number | bigint, multi: number[]): void {
    for (const t of multi) this.#s.insertValue.run(t, id);
  }

  #removeValues(id: number | bigint, multi: string): void {
    if (multi) for (const t of multi.split(',')) this.#s.deleteValue.run(Number(t), id);
  }

  /**
   * Group commit: appends arriving in the same turn of the event loop (concurrent deliveries) share one transaction
   * and one fsync. Each batch runs in its own savepoint, so a bad batch fails alone and every batch stays atomic.
   */
  append(events: AuditEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    try {
      this.#open();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ events, opts, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushing = undefined;
    const jobs = this.#queue;
    this.#queue = [];
    if (jobs.length === 0) return;
    const db = this.#db;
    const done: { job: AppendJob; result?: AppendResult; stored?: StoredRef[]; error?: unknown }[] = [];
    try {
      this.#begin();
      for (const job of jobs) {
        const mark = this.#newTerms.length;
        const chainMark = [this.#chainSeq, this.#chainHead] as const;
        db.exec('SAVEPOINT batch');
        try {
          const stored: StoredRef[] | undefined = this.#listeners.size > 0 ? [] : undefined;
          const result = this.#appendBatch(job.events, job.opts, stored);
          db.exec('RELEASE batch');
          done.push({ job, result, stored });
        } catch (error) {
          db.exec('ROLLBACK TO batch; RELEASE batch');
          this.#forgetTerms(mark);
          [this.#chainSeq, this.#chainHead] = chainMark;
          done.push({ job, error });
        }
      }
      this.#commit();
    } catch (err) {
      try {
        this.#rollback();
      } catch {
        // A full disk can fail the rollback too; SQLite rolls back a failed transaction by itself.
      }
      this.#forgetTerms(0);
      const e = unavailable(err) ?? err;
      for (const job of jobs) job.reject(e);
      return;
    }
    for (const d of done) this.#sinceStats += d.result?.inserted ?? 0;
    if (this.#sinceStats >= STATS_EVERY) this.#refreshStats();
    for (const d of done) {
      if (d.error !== undefined) d.job.reject(unavailable(d.error) ?? d.error);
      else {
        if (d.stored && d.stored.length > 0)
          this.#notify(d.stored.map(({ id, event }) => ({ ...event, id: String(id) })));
        d.job.resolve(d.result!);
      }
    }
  }

  /** Stores one batch inside the open transaction. */
  #appendBatch(events: AuditEvent[], opts: AppendOptions, stored: StoredRef[] | undefined): AppendResult {
    const s = this.#s;
    let inserted = 0;
    let duplicates = 0;
    if (opts.batchKey !== undefined && s.insertBatch.run(opts.batchKey, Date.now()).changes === 0)
      return { inserted: 0, duplicates: events.length };
    for (const e of events) {
      const { values, multi } = this.#row(e);
      if (opts.collapseStages) {
        const rows = s.findCollapse.all(values[0]!, e.auditID, values[2 + FIELD_NO.source - 1]!) as {
          id: number;
          stage: number;
          multi: string;
        }[];
        if (rows.length > 0) {
          const rank = stageRank(e.stage);
          const later = rows.every(
            (r) => stageRank((s.termValue.get(r.stage) as { value: string } | undefined)?.value ?? '') < rank,
          );
          const old = rows[0]!;
          if (!later || s.update.run(...values, old.id).changes === 0) {
            duplicates++;
            continue;
          }
          const body = bodyOf(e);
          s.updateBody.run(body, old.id);
          this.#chain(OP_REPLACE, old.id, body);
          this.#removeValues(old.id, old.multi);
          this.#addValues(old.id, multi);
          inserted++;
          stored?.push({ id: old.id, event: e });
          continue;
        }
      }
      const r = s.insert.run(...values);
      if (r.changes === 0) {
        duplicates++;
        continue;
      }
      const id = r.lastInsertRowid;
      const body = bodyOf(e);
      s.insertBody.run(id, body);
      this.#chain(OP_INSERT, id, body);
      this.#addValues(id, multi);
      inserted++;
      stored?.push({ id, event: e });
    }
    return { inserted, duplicates };
  }

  #notify(events: StoredEvent[]): void {
    for (const l of this.#listeners) {
      try {
        l(events);
      } catch (err) {
        // A failing live-tail consumer must not fail an append that is already committed.
        process.emitWarning(`store subscriber failed: ${(err as Error)?.message ?? err}`);
      }
    }
  }

  /** SQL selecting the ids of the fields' terms that contain any of `terms` case-insensitively. */
  #termMatch(fields: number[], terms: string[], params: SQLInputValue[]): string {
    const long = terms.filter(indexable);
    const short = terms.filter((t) => !indexable(t));
    const f = fields.length === 1 ? `= ${fields[0]}` : `IN (${fields.join(',')})`;
    const parts: string[] = [];
    if (long.length > 0) {
      // CROSS JOIN makes the trigram index drive the lookup (the planner would otherwise scan the field's terms)
      parts.push(
        `SELECT t.id FROM terms_fts CROSS JOIN terms t ON t.id = terms_fts.rowid WHERE terms_fts MATCH ? AND t.field ${f}`,
      );
      params.push(ftsAny(long));
    }
    if (short.length > 0) {
      // instr(lower()) folds ASCII letters only; the trigram index folds all of Unicode
      parts.push(
        `SELECT id FROM terms WHERE field ${f} AND (${short.map(() => 'instr(lower(value), lower(?)) > 0').join(' OR ')})`,
      );
      params.push(...short);
    }
    return parts.join(' UNION ALL ');
  }

  /**
   * The IN list of the terms of `fields` containing any of `terms`: the term ids themselves when there are few, so
   * that the planner sees the list and weighs it with the index statistics (given a subquery it guesses, and may
   * pick a far worse index); the subquery when there are many; undefined when no term matches.
   */
  #termIn(fields: number[], terms: string[]): { list: string; params: SQLInputValue[] } | undefined {
    const params: SQLInputValue[] = [];
    const sub = this.#termMatch(fields, terms, params);
    const ids = this.#prepare(`SELECT id FROM (${sub}) LIMIT ${INLINE_TERMS + 1}`).all(...params) as { id: number }[];
    if (ids.length === 0) return undefined;
    if (ids.length <= INLINE_TERMS) return { list: placeholders(ids.length), params: ids.map((r) => r.id) };
    return { list: sub, params };
  }

  /** The WHERE clause (over `events e`) of a query: values of one field OR'ed, fields AND'ed. */
  #where(q: EventQuery): Where {
    const conds: string[] = [];
    const params: SQLInputValue[] = [];
    const termIds = (field: number, values: string[]) => {
      const ids = new Set<number>();
      for (const v of values) {
        const id = this.#findTerm(field, v);
        if (id !== undefined) ids.add(id);
      }
      return [...ids];
    };
    const inList = (expr: string, list: SQLInputValue[]) => {
      if (list.length === 0) conds.push('0');
      else {
        conds.push(`${expr} IN (${placeholders(list.length)})`);
        params.push(...list);
      }
    };

    for (const [field, values] of Object.entries(q.exact ?? {}) as [FilterField, string[]][]) {
      if (!values || values.length === 0) continue;
      if (field === 'group' || field === 'sourceIP') {
        const ids = termIds(field === 'group' ? GROUP : SOURCE_IP, values).filter((id) => id !== 0);
        if (ids.length === 0) conds.push('0');
        else {
          conds.push(`e.id IN (SELECT event_id FROM event_values WHERE term IN (${placeholders(ids.length)}))`);
          params.push(...ids);
        }
      } else if (field === 'code') inList('e.code', exactCodes(values));
      else if (field === 'auditID') inList('e.audit_id', values);
      else inList(`e.${COLUMN[field]}`, termIds(FIELD_NO[field], values));
    }

    for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
      // the empty string is a substring of every value
      if (!values || values.length === 0 || values.includes('')) continue;
      if (field === 'code') inList('e.code', [...new Set(values.flatMap(codeMatches))]);
      else if (field === 'auditID') {
        // audit IDs are not in the dictionary (one per event): scanned
        conds.push(`(${values.map(() => 'instr(lower(e.audit_id), lower(?)) > 0').join(' OR ')})`);
        params.push(...values);
      } else {
        const list = field === 'group' || field === 'sourceIP';
        const set = this.#termIn([list ? (field === 'group' ? GROUP : SOURCE_IP) : FIELD_NO[field]], values);
        if (!set) conds.push('0');
        else {
          conds.push(
            list
              ? `e.id IN (SELECT event_id FROM event_values WHERE term IN (${set.list}))`
              : `e.${COLUMN[field]} IN (${set.list})`,
          );
          params.push(...set.params);
        }
      }
    }

    if (q.text && q.text.length > 0 && !q.text.includes('')) {
      const ors: string[] = [];
      for (const f of TEXT_DICT) {
        const set = this.#termIn([FIELD_NO[f]], q.text);
        if (set) {
          ors.push(`e.${COLUMN[f]} IN (${set.list})`);
          params.push(...set.params);
        }
      }
      const set = this.#termIn([GROUP, SOURCE_IP], q.text);
      if (set) {
        ors.push(`e.id IN (SELECT event_id FROM event_values WHERE term IN (${set.list}))`);
        params.push(...set.params);
      }
      conds.push(ors.length === 0 ? '0' : `(${ors.join(' OR ')})`);
    }

    if (q.start !== undefined) {
      conds.push('e.received >= ?');
      params.push(Math.ceil(q.start) * 1000);
    }
    if (q.end !== undefined) {
      // inclusive to the end of the millisecond
      conds.push('e.received <= ?');
      params.push(Math.floor(q.end) * 1000 + 999);
    }
    if (q.scope) {
      const { workspaces, namespaces } = scopeLists(q.scope);
      const ws = termIds(FIELD_NO.workspace, workspaces);
      const ns = termIds(FIELD_NO.namespace, namespaces);
      const parts: string[] = [];
      if (ws.length > 0) parts.push(`e.workspace IN (${placeholders(ws.length)})`);
      if (ns.length > 0) parts.push(`e.namespace IN (${placeholders(ns.length)})`);
      params.push(...ws, ...ns);
      conds.push(parts.length === 0 ? '0' : `(${parts.join(' OR ')})`);
    }
    return { sql: conds.length === 0 ? '1' : conds.join(' AND '), params };
  }

  async get(id: string, scope?: TenantScope): Promise<StoredEvent | undefined> {
    this.#open();
    if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
    if (scope) {
      const w = this.#where({ scope });
      if (!this.#prepare(`SELECT 1 FROM events e WHERE e.id = ? AND ${w.sql}`).get(Number(id), ...w.params))
        return undefined;
    }
    const row = this.#s.body.get(Number(id)) as { body: string } | undefined;
    return row ? withId(id, row.body) : undefined;
  }

  async query(q: EventQuery, page: PageRequest): Promise<Page> {
    this.#open();
    checkQuery(q);
    checkPage(page);
    const cursor = page.after === undefined ? undefined : decodeCursor(page.after);
    const w = this.#where(q);
    const total = (this.#prepare(`SELECT count(*) AS n FROM events e WHERE ${w.sql}`).get(...w.params) as { n: number })
      .n;
    if (page.size === 0 || total === 0) return { total, items: [] };
    const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
    let sql = `SELECT e.id, e.received FROM events e WHERE ${w.sql}`;
    const params = [...w.params];
    if (cursor) {
      sql += ` AND (e.received, e.id) ${page.sort === 'asc' ? '>' : '<'} (?, ?)`;
      params.push(cursor.received, Number(cursor.id));
    }
    sql += ` ORDER BY e.received ${dir}, e.id ${dir} LIMIT ? OFFSET ?`;
    params.push(page.size + 1, page.from ?? 0);
    const rows = this.#prepare(sql).all(...params) as { id: number; received: number }[];
    const more = rows.length > page.size;
    if (more) rows.pop();
    const items: StoredEvent[] = [];
    for (const r of rows) {
      const b = this.#s.body.get(r.id) as { body: string } | undefined;
      if (b) items.push(withId(r.id, b.body));
    }
    const last = rows[rows.length - 1];
    return more && last ? { total, items, next: encodeCursor(last.received, String(last.id)) } : { total, items };
  }

  async histogram(q: EventQuery, intervalMs: number): Promise<Histogram> {
    this.#open();
    checkQuery(q);
    if (!Number.isInteger(intervalMs) || intervalMs <= 0)
      throw new QueryError(`interval must be a positive whole number of milliseconds, not ${intervalMs}`);
    const width = intervalMs * 1000;
    let counts = this.#bucketCounts(q, width);
    if (!counts) {
      const w = this.#where(q);
      // node:sqlite binds JS numbers as REAL: the CAST keeps the division integral
      const rows = this.#prepare(
        `SELECT e.received / CAST(? AS INTEGER) AS b, count(*) AS n FROM events e WHERE ${w.sql} GROUP BY b ORDER BY b`,
      ).all(width, ...w.params) as { b: number; n: number }[];
      counts = rows.length === 0 ? { first: 0, n: [] } : { first: rows[0]!.b, n: [] };
      for (const r of rows) {
        const i = r.b - counts.first;
        if (i >= this.#maxBuckets)
          throw new QueryError(
            `a histogram with interval ${intervalMs} ms over this range has more than ${this.#maxBuckets} buckets: use a larger interval or a shorter range`,
          );
        while (counts.n.length < i) counts.n.push(0); // empty buckets between the first and the last are included
        counts.n.push(r.n);
      }
    }
    // From the first to the last non-empty bucket, gaps included (as Elasticsearch's date_histogram does).
    let lo = 0;
    let hi = counts.n.length - 1;
    while (lo <= hi && counts.n[lo] === 0) lo++;
    while (hi >= lo && counts.n[hi] === 0) hi--;
    const buckets: { time: number; count: number }[] = [];
    let total = 0;
    for (let i = lo; i <= hi; i++) {
      total += counts.n[i]!;
      buckets.push({ time: (counts.first + i) * intervalMs, count: counts.n[i]! });
    }
    return { total, buckets };
  }

  /**
   * Histogram by one indexed range count per bucket: scans each matching index entry once and sorts nothing, where
   * GROUP BY over an expression would sort every matching row. Used when the buckets are few and the conditions are
   * cheap to evaluate again for each bucket (no subqueries); returns undefined otherwise.
   */
  #bucketCounts(q: EventQuery, width: number): { first: number; n: number[] } | undefined {
    // The query's own time bounds become the first and last bucket's bounds: given both, the planner would pick one
    // lower and one upper bound without knowing which is tighter.
    const w = this.#where({ ...q, start: undefined, end: undefined });
    if (w.sql.includes('SELECT')) return undefined;
    const range = this.#s.timeRange.get() as { lo: number | null; hi: number | null };
    if (range.lo === null || range.hi === null) return { first: 0, n: [] };
    const lo = q.start === undefined ? range.lo : Math.max(range.lo, Math.ceil(q.start) * 1000);
    const hi = q.end === undefined ? range.hi : Math.min(range.hi, Math.floor(q.end) * 1000 + 999);
    if (lo > hi) return { first: 0, n: [] };
    const first = Math.floor(lo / width);
    const last = Math.floor(hi / width);
    if (last - first + 1 > PER_BUCKET_MAX) return undefined;
    const count = this.#prepare(
      `SELECT count(*) AS n FROM events e WHERE ${w.sql} AND e.received >= ? AND e.received < ?`,
    );
    const n: number[] = [];
    for (let b = first; b <= last; b++) {
      const from = Math.max(b * width, lo);
      const to = Math.min((b + 1) * width, hi + 1);
      n.push((count.get(...w.params, from, to) as { n: number }).n);
    }
    return { first, n };
  }

  async stats(
    q: EventQuery,
    by: StatsField,
    limit: number,
  ): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }> {
    this.#open();
    checkQuery(q);
    if (!Number.isInteger(limit) || limit < 0)
      throw new QueryError(`limit must be a non-negative integer, not ${limit}`);
    const dict = STATS_DICT[by];
    if (!dict && by !== 'code' && by !== 'sourceIP') throw new QueryError(`cannot count by "${by}"`);
    const w = this.#where(q);
    const head = this.#prepare(
      `SELECT count(*) AS n, count(DISTINCT e.audit_id) AS a FROM events e WHERE ${w.sql}`,
    ).get(...w.params) as { n: number; a: number };
    if (limit === 0 || head.n === 0) return { total: head.n, auditIDs: head.a, top: [] };
    let sql: string;
    if (by === 'sourceIP')
      sql = `SELECT t.value AS k, g.n AS n FROM (
               SELECT v.term AS term, count(*) AS n FROM events e JOIN event_values v ON v.event_id = e.id
               WHERE ${w.sql} GROUP BY v.term) g
             JOIN terms t ON t.id = g.term AND t.field = ${SOURCE_IP} ORDER BY n DESC, k LIMIT ?`;
    else if (by === 'code')
      sql = `SELECT e.code AS k, count(*) AS n FROM events e WHERE ${w.sql} AND e.code IS NOT NULL
             GROUP BY e.code ORDER BY n DESC, k LIMIT ?`;
    else {
      const col = COLUMN[dict!];
      sql = `SELECT t.value AS k, g.n AS n FROM (
               SELECT e.${col} AS term, count(*) AS n FROM events e WHERE ${w.sql} AND e.${col} <> 0 GROUP BY e.${col}) g
             JOIN terms t ON t.id = g.term ORDER BY n DESC, k LIMIT ?`;
    }
    const rows = this.#prepare(sql).all(...w.params, limit) as { k: string | number; n: number }[];
    return { total: head.n, auditIDs: head.a, top: rows.map((r) => ({ key: String(r.k), count: r.n })) };
  }

  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    this.#open();
    if (!Number.isFinite(cutoff)) throw new QueryError(`cutoff must be epoch milliseconds, not ${cutoff}`);
    if (!Number.isInteger(limit) || limit <= 0) throw new QueryError(`limit must be a positive integer, not ${limit}`);
    const s = this.#s;
    this.#begin();
    try {
      const rows = s.oldest.all(Math.ceil(cutoff) * 1000, limit) as { id: number; multi: string }[];
      for (const r of rows) {
        this.#removeValues(r.id, r.multi);
        s.deleteBody.run(r.id);
        s.deleteEvent.run(r.id);
        this.#chain(OP_DELETE, r.id, undefined);
      }
      // Delivery ids are only needed while their sender may still retry; they age out with the events.
      s.deleteBatches.run(cutoff, limit);
      if (rows.length > 0 || this.#pruneAfter > 0) this.#pruneTerms(2 * limit);
      this.#commit();
      return rows.length;
    } catch (err) {
      this.#rollback();
      throw err;
    }
  }

  /**
   * Retention of the dictionary: examines the next `budget` terms (a cursor walks the whole dictionary over
   * successive steps) and deletes those no stored event uses any more, so that high-cardinality values (request
   * URIs, object names, client IPs) do not outlive their events. Fields without an index (stage, devops,
   * subresource) have few values and are kept.
   */
  #pruneTerms(budget: number): void {
    const s = this.#s;
    const terms = s.nextTerms.all(this.#pruneAfter, budget) as { id: number; field: number; value: string }[];
    this.#pruneAfter = terms.length < budget ? 0 : terms[terms.length - 1]!.id;
    for (const t of terms) {
      const used = this.#termUsed[t.field];
      if (!used || used.get(t.id)) continue;
      s.deleteTerm.run(t.id);
      s.deleteTermFts.run(t.id, t.value);
      this.#terms[t.field]!.delete(t.value);
    }
  }

  async size(): Promise<{ events: number; bytes: number }> {
    this.#open();
    const events = (this.#s.count.get() as { n: number }).n;
    const pages = (this.#db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
    const pageSize = (this.#db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    return { events, bytes: pages * pageSize };
  }

  subscribe(listener: (events: StoredEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#flushing) {
      // appends already accepted are committed before the database closes
      clearImmediate(this.#flushing);
      this.#flush();
    }
    this.#closed = true;
    this.#listeners.clear();
    this.#db.close();
  }
}
