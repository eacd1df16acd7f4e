// The embedded store: SQLite through node:sqlite. One connection, synchronous calls wrapped in promises; every
// append is one IMMEDIATE transaction committed with synchronous=FULL before its promise resolves.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { AuditEvent } from '../event/model.ts';
import {
  checkPage,
  checkQuery,
  codeMatches,
  decodeCursor,
  encodeCursor,
  enumMatches,
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

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** How long a write waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
}

const SCHEMA_VERSION = 1;

// Filterable fields are plain columns; missing strings are stored as '' so that an exact filter on '' finds
// events without the field (e.g. cluster-scoped events have no namespace) and every index stays total.
// The full event lives in `event_bodies` so that scans over `events` stay small (a 1–3 KB body inline would put
// two rows on a page). Groups and source IPs are lists: each element is a row of `event_values`, so an exact
// filter is an index lookup on (field, value); their '\n'-joined text serves fuzzy search.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- Vigil's id; AUTOINCREMENT: never reused, even after retention empties the table
  received INTEGER NOT NULL,           -- requestReceivedTimestamp, epoch microseconds
  audit_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  verb TEXT NOT NULL,
  level TEXT NOT NULL,
  username TEXT NOT NULL,
  namespace TEXT NOT NULL,
  workspace TEXT NOT NULL,
  cluster TEXT NOT NULL,
  devops TEXT NOT NULL,
  resource TEXT NOT NULL,
  subresource TEXT NOT NULL,
  name TEXT NOT NULL,
  code INTEGER,
  status TEXT NOT NULL,
  source TEXT NOT NULL,
  source_ips TEXT NOT NULL,            -- '\\n'-joined, for fuzzy search; exact search uses event_values
  groups TEXT NOT NULL,
  request_uri TEXT NOT NULL,
  user_agent TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_audit_stage ON events (audit_id, stage);
CREATE INDEX IF NOT EXISTS events_received ON events (received);
CREATE INDEX IF NOT EXISTS events_workspace ON events (workspace, received);
CREATE INDEX IF NOT EXISTS events_namespace ON events (namespace, received);
CREATE INDEX IF NOT EXISTS events_username ON events (username, received);
CREATE INDEX IF NOT EXISTS events_resource ON events (resource, received);
CREATE INDEX IF NOT EXISTS events_name ON events (name, received);
CREATE INDEX IF NOT EXISTS events_verb ON events (verb, received);
CREATE INDEX IF NOT EXISTS events_level ON events (level, received);
CREATE INDEX IF NOT EXISTS events_code ON events (code, received);
CREATE INDEX IF NOT EXISTS events_cluster ON events (cluster, received);
CREATE INDEX IF NOT EXISTS events_source ON events (source, received);
CREATE TABLE IF NOT EXISTS event_bodies (
  id INTEGER PRIMARY KEY,
  body TEXT NOT NULL                   -- the event as JSON
);
CREATE TABLE IF NOT EXISTS event_values (
  field INTEGER NOT NULL,              -- 1 = group, 2 = source IP
  value TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  PRIMARY KEY (field, value, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
  key TEXT PRIMARY KEY,                -- delivery id (OpenFaaS X-Openfaas-Delivery)
  stored INTEGER NOT NULL              -- epoch ms
);
CREATE INDEX IF NOT EXISTS batches_stored ON batches (stored);
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
  username, verb, resource, subresource, name, namespace, workspace, cluster, devops, status, groups, source_ips,
  audit_id, request_uri, user_agent,
  content = '', contentless_delete = 1, tokenize = 'trigram'
);
`;

const VALUE_GROUP = 1;
const VALUE_SOURCE_IP = 2;

/** Columns of `events` per filter field (group and sourceIP are lists: see event_values). */
const COLUMN: Record<FilterField, string> = {
  workspace: 'workspace',
  cluster: 'cluster',
  devops: 'devops',
  namespace: 'namespace',
  resource: 'resource',
  subresource: 'subresource',
  name: 'name',
  verb: 'verb',
  level: 'level',
  stage: 'stage',
  user: 'username',
  group: 'groups',
  sourceIP: 'source_ips',
  code: 'code',
  status: 'status',
  source: 'source',
  auditID: 'audit_id',
};

/** Columns free text searches (KubeSphere's searchable fields plus the request URI and user agent). */
const TEXT_COLUMNS = [
  'username',
  'verb',
  'resource',
  'name',
  'namespace',
  'workspace',
  'request_uri',
  'source_ips',
  'groups',
  'status',
  'user_agent',
];

const FTS_INSERT_COLUMNS =
  'username, verb, resource, subresource, name, namespace, workspace, cluster, devops, status, groups, source_ips, audit_id, request_uri, user_agent';

const STATS_COLUMN: Record<StatsField, string> = {
  user: 'username',
  verb: 'verb',
  resource: 'resource',
  namespace: 'namespace',
  workspace: 'workspace',
  code: 'code',
  sourceIP: 'source_ips',
};

/** FTS5 phrase: the trigram tokenizer turns it into a case-insensitive substring match. */
function phrase(term: string): string {
  return `"${term.replaceAll('"', '""')}"`;
}

/** The trigram index only answers terms of three characters or more; shorter terms are scanned. */
function indexable(term: string): boolean {
  let n = 0;
  for (const _ of term) if (++n >= 3) return true;
  return false;
}

interface Where {
  sql: string;
  params: SQLInputValue[];
}

function placeholders(n: number): string {
  return n === 1 ? '?' : `?${',?'.repeat(n - 1)}`;
}

/** Builds the WHERE clause (over `events e`) of a query: values of one field OR'ed, fields AND'ed. */
function buildWhere(q: EventQuery): Where {
  const conds: string[] = [];
  const params: SQLInputValue[] = [];
  const ftsAnd: string[] = [];

  for (const [field, values] of Object.entries(q.exact ?? {}) as [FilterField, string[]][]) {
    if (!values || values.length === 0) continue;
    if (field === 'group' || field === 'sourceIP') {
      conds.push(
        `e.id IN (SELECT event_id FROM event_values WHERE field = ${field === 'group' ? VALUE_GROUP : VALUE_SOURCE_IP} AND value IN (${placeholders(values.length)}))`,
      );
      params.push(...values);
    } else if (field === 'code') {
      const codes = exactCodes(values);
      if (codes.length === 0) conds.push('0');
      else {
        conds.push(`e.code IN (${placeholders(codes.length)})`);
        params.push(...codes);
      }
    } else {
      conds.push(`e.${COLUMN[field]} IN (${placeholders(values.length)})`);
      params.push(...values);
    }
  }

  for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
    if (!values || values.length === 0) continue;
    if (field === 'level' || field === 'stage' || field === 'source') {
      const matches = [...new Set(values.flatMap((v) => enumMatches(field, v) ?? []))];
      if (matches.length === 0) conds.push('0');
      else {
        conds.push(`e.${COLUMN[field]} IN (${placeholders(matches.length)})`);
        params.push(...matches);
      }
      continue;
    }
    if (field === 'code') {
      const codes = [...new Set(values.flatMap(codeMatches))];
      if (codes.length === 0) conds.push('0');
      else {
        conds.push(`e.code IN (${placeholders(codes.length)})`);
        params.push(...codes);
      }
      continue;
    }
    textCondition([COLUMN[field]], values, conds, params, ftsAnd);
  }

  if (q.text && q.text.length > 0) textCondition(TEXT_COLUMNS, q.text, conds, params, ftsAnd);

  if (ftsAnd.length > 0) {
    conds.push('e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)');
    params.push(ftsAnd.join(' AND '));
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
    const parts: string[] = [];
    if (workspaces.length > 0) {
      parts.push(`e.workspace IN (${placeholders(workspaces.length)})`);
      params.push(...workspaces);
    }
    if (namespaces.length > 0) {
      parts.push(`e.namespace IN (${placeholders(namespaces.length)})`);
      params.push(...namespaces);
    }
    conds.push(parts.length === 0 ? '0' : `(${parts.join(' OR ')})`);
  }
  return { sql: conds.length === 0 ? '1' : conds.join(' AND '), params };
}

/**
 * Case-insensitive substring of any term in any of `columns`. Terms of ≥ 3 characters go to the trigram index
 * (joined into one MATCH with the other fields' terms when the field has only such terms); shorter terms are
 * scanned with instr(lower()), which folds ASCII letters only.
 */
function textCondition(columns: string[], terms: string[], conds: string[], params: SQLInputValue[], ftsAnd: string[]) {
  const filter = columns.length === 1 ? columns[0] : `{${columns.join(' ')}}`;
  const long = terms.filter(indexable);
  const short = terms.filter((t) => !indexable(t));
  const ftsExpr = long.length > 0 ? `(${long.map((t) => `${filter} : ${phrase(t)}`).join(' OR ')})` : undefined;
  if (short.length === 0) {
    ftsAnd.push(ftsExpr!);
    return;
  }
  if (short.includes('')) return; // the empty string is a substring of everything
  const ors: string[] = [];
  if (ftsExpr) {
    ors.push('e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)');
    params.push(ftsExpr);
  }
  for (const t of short) {
    for (const c of columns) {
      ors.push(`instr(lower(e.${c}), lower(?)) > 0`);
      params.push(t);
    }
  }
  conds.push(`(${ors.join(' OR ')})`);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
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

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  return new SqliteStore(opts);
}

class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  readonly #cache = new Map<string, StatementSync>();
  readonly #s: Record<
    | 'insert'
    | 'insertBody'
    | 'insertFts'
    | 'insertValue'
    | 'insertBatch'
    | 'findCollapse'
    | 'update'
    | 'updateBody'
    | 'deleteFts'
    | 'deleteValue'
    | 'deleteEvent'
    | 'deleteBody'
    | 'oldest'
    | 'deleteBatches'
    | 'count'
    | 'getRow',
    StatementSync
  >;
  #closed = false;

  constructor(opts: SqliteStoreOptions) {
    const db = new DatabaseSync(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
    this.#db = db;
    try {
      // WAL: readers never block the writer. synchronous=FULL: in WAL mode NORMAL may lose the last commits on
      // power loss, and an append answers only after its events are durable.
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      db.exec('PRAGMA foreign_keys = OFF');
      db.exec('PRAGMA cache_size = -65536'); // 64 MiB: keeps the hot index pages of ~1 M events in memory
      db.exec('PRAGMA temp_store = MEMORY');
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `${opts.path}: schema version ${version} is newer than this Vigil supports (${SCHEMA_VERSION})`,
        );
      db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`);
    } catch (err) {
      db.close();
      throw err;
    }
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      insert: p(
        `INSERT INTO events (received, audit_id, stage, verb, level, username, namespace, workspace, cluster, devops,
           resource, subresource, name, code, status, source, source_ips, groups, request_uri, user_agent)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (audit_id, stage) DO NOTHING`,
      ),
      insertBody: p('INSERT INTO event_bodies (id, body) VALUES (?, ?)'),
      insertFts: p(`INSERT INTO events_fts (rowid, ${FTS_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
      insertValue: p('INSERT OR IGNORE INTO event_values (field, value, event_id) VALUES (?, ?, ?)'),
      insertBatch: p('INSERT INTO batches (key, stored) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
      findCollapse: p('SELECT id, stage, groups, source_ips FROM events WHERE audit_id = ? AND source = ? ORDER BY id'),
      update: p(
        `UPDATE OR IGNORE events SET received = ?, audit_id = ?, stage = ?, verb = ?, level = ?, username = ?,
           namespace = ?, workspace = ?, cluster = ?, devops = ?, resource = ?, subresource = ?, name = ?, code = ?,
           status = ?, source = ?, source_ips = ?, groups = ?, request_uri = ?, user_agent = ? WHERE id = ?`,
      ),
      updateBody: p('UPDATE event_bodies SET body = ? WHERE id = ?'),
      deleteFts: p('DELETE FROM events_fts WHERE rowid = ?'),
      deleteValue: p('DELETE FROM event_values WHERE field = ? AND value = ? AND event_id = ?'),
      deleteEvent: p('DELETE FROM events WHERE id = ?'),
      deleteBody: p('DELETE FROM event_bodies WHERE id = ?'),
      oldest: p('SELECT id, groups, source_ips FROM events WHERE received < ? ORDER BY received LIMIT ?'),
      deleteBatches: p(
        'DELETE FROM batches WHERE rowid IN (SELECT rowid FROM batches WHERE stored < ? ORDER BY stored LIMIT ?)',
      ),
      count: p('SELECT count(*) AS n FROM events'),
      getRow: p('SELECT b.body FROM events e JOIN event_bodies b ON b.id = e.id WHERE e.id = ?'),
    };
  }

  #open(): void {
    if (this.#closed) throw new Error('the store is closed');
  }

  #prepare(sql: string): StatementSync {
    let st = this.#cache.get(sql);
    if (!st) {
      if (this.#cache.size >= 256) this.#cache.clear();
      st = this.#db.prepare(sql);
      this.#cache.set(sql, st);
    }
    return st;
  }

  /** Row values of an event, in the column order of `insert` and `update`. */
  #row(e: AuditEvent): { values: SQLInputValue[]; groups: string[]; ips: string[] } {
    const received = toMicros(e.requestReceivedTimestamp);
    if (Number.isNaN(received))
      throw new QueryError(
        `event ${e.auditID}: requestReceivedTimestamp ${JSON.stringify(e.requestReceivedTimestamp)} is not an RFC 3339 time`,
      );
    const groups = e.user?.groups ?? [];
    const ips = e.sourceIPs ?? [];
    const o = e.objectRef;
    const code = e.responseStatus?.code;
    return {
      values: [
        received,
        e.auditID,
        e.stage,
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
        typeof code === 'number' ? code : null,
        str(e.responseStatus?.status),
        str(e.source),
        ips.join('\n'),
        groups.join('\n'),
        str(e.requestURI),
        str(e.userAgent),
      ],
      groups,
      ips,
    };
  }

  #index(id: number | bigint, v: SQLInputValue[], groups: string[], ips: string[]): void {
    const s = this.#s;
    // FTS column order: username, verb, resource, subresource, name, namespace, workspace, cluster, devops, status,
    // groups, source_ips, audit_id, request_uri, user_agent
    s.insertFts.run(
      id,
      v[5]!,
      v[3]!,
      v[10]!,
      v[11]!,
      v[12]!,
      v[6]!,
      v[7]!,
      v[8]!,
      v[9]!,
      v[14]!,
      v[17]!,
      v[16]!,
      v[1]!,
      v[18]!,
      v[19]!,
    );
    for (const g of groups) s.insertValue.run(VALUE_GROUP, g, id);
    for (const ip of ips) s.insertValue.run(VALUE_SOURCE_IP, ip, id);
  }

  #unindex(id: number | bigint, groups: string, ips: string): void {
    const s = this.#s;
    s.deleteFts.run(id);
    if (groups) for (const g of groups.split('\n')) s.deleteValue.run(VALUE_GROUP, g, id);
    if (ips) for (const ip of ips.split('\n')) s.deleteValue.run(VALUE_SOURCE_IP, ip, id);
  }

  async append(events: AuditEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    this.#open();
    const s = this.#s;
    const db = this.#db;
    const stored: { id: number | bigint; event: AuditEvent }[] | undefined = this.#listeners.size > 0 ? [] : undefined;
    let inserted = 0;
    let duplicates = 0;
    db.exec('BEGIN IMMEDIATE');
    try {
      if (opts.batchKey !== undefined && s.insertBatch.run(opts.batchKey, Date.now()).changes === 0) {
        db.exec('ROLLBACK');
        return { inserted: 0, duplicates: events.length };
      }
      for (const e of events) {
        const { values, groups, ips } = this.#row(e);
        const body = bodyOf(e);
        if (opts.collapseStages) {
          const rows = s.findCollapse.all(e.auditID, values[15]!) as {
            id: number;
            stage: string;
            groups: string;
            source_ips: string;
          }[];
          if (rows.length > 0) {
            const rank = stageRank(e.stage);
            const old = rows[0]!;
            if (rows.some((r) => stageRank(r.stage) >= rank) || s.update.run(...values, old.id).changes === 0) {
              duplicates++;
              continue;
            }
            s.updateBody.run(body, old.id);
            this.#unindex(old.id, old.groups, old.source_ips);
            this.#index(old.id, values, groups, ips);
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
        s.insertBody.run(id, body);
        this.#index(id, values, groups, ips);
        inserted++;
        stored?.push({ id, event: e });
      }
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
    if (stored && stored.length > 0) this.#notify(stored.map(({ id, event }) => ({ ...event, id: String(id) })));
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

  async get(id: string, scope?: TenantScope): Promise<StoredEvent | undefined> {
    this.#open();
    if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
    if (!scope) {
      const row = this.#s.getRow.get(Number(id)) as { body: string } | undefined;
      return row ? withId(id, row.body) : undefined;
    }
    const w = buildWhere({ scope });
    const row = this.#prepare(
      `SELECT b.body FROM events e JOIN event_bodies b ON b.id = e.id WHERE e.id = ? AND ${w.sql}`,
    ).get(Number(id), ...w.params) as { body: string } | undefined;
    return row ? withId(id, row.body) : undefined;
  }

  async query(q: EventQuery, page: PageRequest): Promise<Page> {
    this.#open();
    checkQuery(q);
    checkPage(page);
    const w = buildWhere(q);
    const total = (this.#prepare(`SELECT count(*) AS n FROM events e WHERE ${w.sql}`).get(...w.params) as { n: number })
      .n;
    if (page.size === 0) return { total, items: [] };
    const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
    let sql = `SELECT e.id, e.received FROM events e WHERE ${w.sql}`;
    const params = [...w.params];
    if (page.after !== undefined) {
      const c = decodeCursor(page.after);
      sql += ` AND (e.received, e.id) ${page.sort === 'asc' ? '>' : '<'} (?, ?)`;
      params.push(c.received, Number(c.id));
    }
    sql += ` ORDER BY e.received ${dir}, e.id ${dir} LIMIT ? OFFSET ?`;
    params.push(page.size + 1, page.from ?? 0);
    const rows = this.#prepare(sql).all(...params) as { id: number; received: number }[];
    const more = rows.length > page.size;
    if (more) rows.pop();
    const items: StoredEvent[] = [];
    for (const r of rows) {
      const b = this.#s.getRow.get(r.id) as { body: string } | undefined;
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
    const w = buildWhere(q);
    const width = intervalMs * 1000;
    const rows = this.#prepare(
      `SELECT e.received / CAST(? AS INTEGER) AS b, count(*) AS n FROM events e WHERE ${w.sql} GROUP BY b ORDER BY b`,
    ).all(width, ...w.params) as { b: number; n: number }[];
    const buckets: { time: number; count: number }[] = [];
    let total = 0;
    if (rows.length > 0) {
      // Empty buckets between the first and the last are included (as Elasticsearch's date_histogram does).
      const first = rows[0]!.b;
      const last = rows[rows.length - 1]!.b;
      if (last - first + 1 > MAX_HISTOGRAM_BUCKETS)
        throw new QueryError(
          `a histogram with interval ${intervalMs} ms over this range has ${last - first + 1} buckets (at most ${MAX_HISTOGRAM_BUCKETS}): use a larger interval or a shorter range`,
        );
      let i = 0;
      for (let b = first; b <= last; b++) {
        const r = rows[i];
        let count = 0;
        if (r && r.b === b) {
          count = r.n;
          i++;
        }
        total += count;
        buckets.push({ time: b * intervalMs, count });
      }
    }
    return { total, buckets };
  }

  async stats(
    q: EventQuery,
    by: StatsField,
    limit: number,
  ): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }> {
    this.#open();
    checkQuery(q);
    const col = STATS_COLUMN[by];
    if (!col) throw new QueryError(`cannot count by "${by}"`);
    if (!Number.isInteger(limit) || limit < 0)
      throw new QueryError(`limit must be a non-negative integer, not ${limit}`);
    const w = buildWhere(q);
    const head = this.#prepare(
      `SELECT count(*) AS n, count(DISTINCT e.audit_id) AS a FROM events e WHERE ${w.sql}`,
    ).get(...w.params) as { n: number; a: number };
    let top: { key: string; count: number }[] = [];
    if (limit > 0) {
      const sql =
        by === 'sourceIP'
          ? `SELECT v.value AS k, count(*) AS n FROM event_values v JOIN events e ON e.id = v.event_id
             WHERE v.field = ${VALUE_SOURCE_IP} AND ${w.sql} GROUP BY v.value ORDER BY n DESC, k LIMIT ?`
          : by === 'code'
            ? `SELECT e.code AS k, count(*) AS n FROM events e WHERE ${w.sql} AND e.code IS NOT NULL
               GROUP BY e.code ORDER BY n DESC, k LIMIT ?`
            : `SELECT e.${col} AS k, count(*) AS n FROM events e WHERE ${w.sql} AND e.${col} <> ''
               GROUP BY e.${col} ORDER BY n DESC, k LIMIT ?`;
      const rows = this.#prepare(sql).all(...w.params, limit) as { k: string | number; n: number }[];
      top = rows.map((r) => ({ key: String(r.k), count: r.n }));
    }
    return { total: head.n, auditIDs: head.a, top };
  }

  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    this.#open();
    if (!Number.isFinite(cutoff)) throw new QueryError(`cutoff must be epoch milliseconds, not ${cutoff}`);
    if (!Number.isInteger(limit) || limit <= 0) throw new QueryError(`limit must be a positive integer, not ${limit}`);
    const s = this.#s;
    const db = this.#db;
    db.exec('BEGIN IMMEDIATE');
    try {
      const rows = s.oldest.all(Math.ceil(cutoff) * 1000, limit) as {
        id: number;
        groups: string;
        source_ips: string;
      }[];
      for (const r of rows) {
        this.#unindex(r.id, r.groups, r.source_ips);
        s.deleteBody.run(r.id);
        s.deleteEvent.run(r.id);
      }
      // Delivery ids are only needed while their sender may still retry; they age out with the events.
      s.deleteBatches.run(cutoff, limit);
      db.exec('COMMIT');
      return rows.length;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
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
    this.#closed = true;
    this.#listeners.clear();
    try {
      this.#db.exec('PRAGMA optimize');
    } finally {
      this.#db.close();
    }
  }
}
