// The embedded store: SQLite through node:sqlite. Queries run on this connection; writes on a second one owned by a
// worker thread (src/store/sqlite/writer.ts), so that commits never block the event loop. Appends are committed with
// synchronous=FULL before their promises resolve; appends arriving while a commit is in progress share the next
// transaction (group commit), each in its own savepoint.
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
// - `event_minutes` counts the stored events per minute of received time, maintained in the append transaction, so
//   that histograms and totals without filters read one row per minute instead of one index entry per event.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { AuditEvent } from '../../event/model.ts';
import { chainHash, EMPTY_BODY_HASH, OP_GENESIS, ZERO_HASH } from '../../integrity/chain.ts';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import { type FilterField, STATS_FIELDS, type StatsField } from '../fields.ts';
import { withId } from '../rows.ts';
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
} from '../semantics.ts';
import type {
  AppendOptions,
  AppendResult,
  EventQuery,
  Histogram,
  Page,
  PageRequest,
  Store,
  StoredEvent,
  TenantScope,
} from '../types.ts';
import { StoreUnavailableError } from '../types.ts';
import { checkpointOn } from './checkpoints.ts';
import {
  configure,
  DEFAULT_CACHE_MIB,
  DROPPED_INDEXES,
  EVENTS_STORED_SQL,
  FIELD_NO,
  MINUTE_US,
  placeholders,
  RESHAPED_INDEXES,
  SCHEMA,
  SCHEMA_VERSION,
  STORAGE,
  TEXT_DICT,
  TEXT_FIELD_NOS,
  TEXT_LIST_NOS,
} from './schema.ts';
import type { WorkerMessage, WorkerOptions } from './worker.ts';
import {
  CommitQueue,
  fromWire,
  prepareEvent,
  SqliteWriter,
  type WireError,
  type WriterJob,
  type WriterOutcome,
  type WriterResult,
} from './writer.ts';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** How long a write waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** Most buckets a histogram answer may have (default MAX_HISTOGRAM_BUCKETS). */
  maxHistogramBuckets?: number;
  /** SQLite page cache of the write connection (MiB, default DEFAULT_CACHE_MIB); queries get a quarter. */
  cacheMiB?: number;
}

/** Most buckets a histogram counts one range at a time (beyond, one GROUP BY query counts them all). */
const PER_BUCKET_MAX = 2000;

/** Most matching dictionary terms a fuzzy condition lists by id (beyond, it keeps the dictionary subquery). */
const INLINE_TERMS = 500;

/** FTS5 query matching any of `terms` as a substring (the trigram tokenizer makes a phrase a substring match). */
function ftsAny(terms: string[]): string {
  return terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
}

/** The trigram index only answers terms of three characters or more, and none holding U+0000 (see #termMatch). */
function indexable(term: string): boolean {
  if (term.includes('\u0000')) return false;
  let n = 0;
  for (const _ of term) if (++n >= 3) return true;
  return false;
}

interface Where {
  sql: string;
  params: SQLInputValue[];
}

/** Where the writes go: a worker thread owning the write connection, or (`:memory:`) this connection inline. */
interface WriterPort {
  append(job: WriterJob): Promise<{ outcome: WriterOutcome; statsRefreshed: boolean }>;
  deleteBefore(cutoff: number, limit: number): Promise<number>;
  checkpoint(key: SigningKey, force: boolean): Promise<Checkpoint | undefined>;
  heap(): Promise<{ used: number; total: number } | undefined>;
  close(): Promise<void>;
}

function inlineWriter(db: DatabaseSync): WriterPort {
  const writer = new SqliteWriter(db);
  const queue = new CommitQueue(writer);
  return {
    append: (job) =>
      new Promise((resolve) => queue.push(job, (outcome, statsRefreshed) => resolve({ outcome, statsRefreshed }))),
    deleteBefore: async (cutoff, limit) => {
      queue.flush();
      return writer.deleteBefore(cutoff, limit);
    },
    checkpoint: async (key, force) => {
      queue.flush();
      return checkpointOn(db, key, { force });
    },
    heap: async () => undefined, // the caller's own thread
    close: async () => queue.flush(),
  };
}

type Reply = { id: number; result?: unknown; error?: WireError; statsRefreshed?: boolean };

/** The write connection on a worker thread; the thread keeps the process alive only while requests are pending. */
function workerWriter(opts: WorkerOptions): WriterPort {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: opts });
  worker.unref();
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  let next = 0;
  let failed: Error | undefined;
  const fail = (err: Error) => {
    failed ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (pending.size === 0) worker.unref();
    p.resolve(r);
  });
  worker.on('error', (err) => fail(new StoreUnavailableError(`store writer failed: ${err.message}`, 'io', 5, err)));
  worker.on('exit', () => fail(new Error('the store is closed')));
  const request = (msg: WorkerMessage): Promise<Reply> => {
    if (failed) return Promise.reject(failed);
    const id = ++next;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id });
    });
  };
  return {
    append: async (job) => {
      const r = await request({ op: 'append', job });
      return {
        outcome: r.error ? { ok: false, error: fromWire(r.error) } : { ok: true, result: r.result as WriterResult },
        statsRefreshed: r.statsRefreshed === true,
      };
    },
    deleteBefore: async (cutoff, limit) => {
      const r = await request({ op: 'deleteBefore', cutoff, limit });
      if (r.error) throw fromWire(r.error);
      return r.result as number;
    },
    checkpoint: async (key, force) => {
      const r = await request({ op: 'checkpoint', key, force });
      if (r.error) throw fromWire(r.error);
      const c = r.result as Checkpoint | undefined;
      // Buffers cross the thread as plain Uint8Arrays
      return c && { ...c, head: Buffer.from(c.head), signature: Buffer.from(c.signature) };
    },
    heap: async () => {
      if (failed) return undefined;
      worker.ref(); // as for a request: the answer must keep the process alive
      try {
        const h = await worker.getHeapStatistics();
        return { used: h.used_heap_size, total: h.total_heap_size };
      } finally {
        if (pending.size === 0) worker.unref();
      }
    },
    close: async () => {
      if (failed) return;
      await request({ op: 'close' }); // answered once the queued appends are committed and the connection is closed
      await worker.terminate();
    },
  };
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  return new SqliteStore(opts);
}

class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #opts: SqliteStoreOptions;
  /** The write connection's page cache, MiB. */
  readonly #cacheMiB: number;
  readonly #maxBuckets: number;
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  readonly #statements = new Map<string, StatementSync>();
  /** Started at the first write: a store opened only to read (CLI, verify) never starts a thread. */
  #writer: WriterPort | undefined;
  readonly #s: Record<'findTerm' | 'minutesTotal' | 'pageCount' | 'pageSize' | 'timeRange' | 'body', StatementSync>;
  #closed = false;

  constructor(opts: SqliteStoreOptions) {
    const db = new DatabaseSync(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
    this.#db = db;
    this.#opts = opts;
    this.#cacheMiB = opts.cacheMiB ?? DEFAULT_CACHE_MIB;
    this.#maxBuckets = opts.maxHistogramBuckets ?? MAX_HISTOGRAM_BUCKETS;
    try {
      // The writer thread's connection gets the page cache (`cacheMiB`, where the index pages inserts touch must stay);
      // this one answers queries and loses its cache at every commit of the writer (SQLite resets a WAL connection's
      // cache when another connection has written), so a quarter is enough, and keeps the process's memory bounded
      // by about 1.25 × cacheMiB rather than twice it. (`:memory:` keeps everything on this connection.)
      const cache = this.#cacheMiB;
      configure(db, opts.path === ':memory:' || opts.path === '' ? cache : Math.max(2, Math.round(cache / 4)));
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `${opts.path}: schema version ${version} is newer than this Vigil supports (${SCHEMA_VERSION})`,
        );
      // Version 1 had no per-minute counts: they are counted once from the events when the table is added.
      const backfill =
        version === 1
          ? 'INSERT OR REPLACE INTO event_minutes (minute, n) SELECT CASE WHEN received >= 0 THEN received / 60000000 ELSE (received + 1) / 60000000 - 1 END, count(*) FROM events GROUP BY 1;'
          : '';
      const drops = version < 3 ? DROPPED_INDEXES.map((ix) => `DROP INDEX IF EXISTS ${ix};`).join(' ') : '';
      // dropped before SCHEMA creates them in their new shape (a rebuild: seconds per million events, once)
      const reshape =
        version > 0 && version < 4 ? RESHAPED_INDEXES.map((ix) => `DROP INDEX IF EXISTS ${ix};`).join(' ') : '';
      db.exec(`BEGIN IMMEDIATE; ${reshape} ${SCHEMA} ${backfill} ${drops} PRAGMA user_version = ${SCHEMA_VERSION}`);
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
      new SqliteWriter(db).refreshStats();
    } catch (err) {
      db.close();
      throw err;
    }
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      findTerm: p('SELECT id FROM terms WHERE field = ? AND value = ?'),
      minutesTotal: p(EVENTS_STORED_SQL),
      pageCount: p('PRAGMA page_count'),
      pageSize: p('PRAGMA page_size'),
      // two subqueries: min() and max() together would not use the index
      timeRange: p('SELECT (SELECT min(received) FROM events) AS lo, (SELECT max(received) FROM events) AS hi'),
      body: p('SELECT body FROM event_bodies WHERE id = ?'),
    };
  }

  #open(): void {
    if (this.#closed) throw new Error('the store is closed');
  }

  #write(): WriterPort {
    this.#writer ??=
      this.#opts.path === ':memory:' || this.#opts.path === ''
        ? inlineWriter(this.#db)
        : workerWriter({
            path: this.#opts.path,
            busyTimeoutMs: this.#opts.busyTimeoutMs ?? 5000,
            cacheMiB: this.#cacheMiB,
          });
    return this.#writer;
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

  /** The term id of a value if the dictionary has it (queries never add terms). Not cached: retention may drop it. */
  #findTerm(field: number, value: string): number | undefined {
    if (value === '') return 0;
    return (this.#s.findTerm.get(field, value) as { id: number } | undefined)?.id;
  }

  /**
   * Stores a batch; appends that arrive while the writer is busy are committed together (group commit), each batch
   * in its own savepoint so that a bad batch fails alone. `ids[i]` is the stored event of `events[i]`.
   */
  async append(events: AuditEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    this.#open();
    const job: WriterJob = { events: events.map(prepareEvent) };
    if (opts.batchKey !== undefined) job.batchKey = opts.batchKey;
    if (opts.collapseStages) job.collapseStages = true;
    const { outcome, statsRefreshed } = await this.#write().append(job);
    if (statsRefreshed && !this.#closed) this.#db.exec('ANALYZE sqlite_schema'); // the writer's new statistics
    if (!outcome.ok) throw outcome.error;
    const { inserted, duplicates, ids, stored } = outcome.result;
    if (stored.length > 0 && this.#listeners.size > 0)
      this.#notify(stored.map((i) => ({ ...events[i]!, id: String(ids[i]) })));
    return { inserted, duplicates, ids: ids.map((id) => (id > 0 ? String(id) : undefined)) };
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
      // LIKE folds ASCII letters only (as lower() does); the trigram index folds all of Unicode. LIKE rather than
      // instr(lower()): no lower-cased copy of every scanned value. But a pattern ends at a U+0000 (as an FTS query
      // string does, unterminated), so a term holding one is compared by instr, which does not stop there.
      const test = (t: string) =>
        t.includes('\u0000') ? 'instr(lower(value), lower(?)) > 0' : `value LIKE ? ESCAPE '\\'`;
      parts.push(`SELECT id FROM terms WHERE field ${f} AND (${short.map(test).join(' OR ')})`);
      params.push(...short.map((t) => (t.includes('\u0000') ? t : `%${t.replace(/[\\%_]/g, '\\$&')}%`)));
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

  /**
   * The ids of the terms of `fields` containing any of `terms`, by field; undefined when more than a few thousand
   * match (the caller then keeps per-field subqueries).
   */
  #termsByField(fields: number[], terms: string[]): Map<number, number[]> | undefined {
    const params: SQLInputValue[] = [];
    const sub = this.#termMatch(fields, terms, params);
    const cap = 4 * INLINE_TERMS;
    const rows = this.#prepare(`SELECT t.id, t.field FROM terms t WHERE t.id IN (${sub}) LIMIT ${cap + 1}`).all(
      ...params,
    ) as { id: number; field: number }[];
    if (rows.length > cap) return undefined;
    const by = new Map<number, number[]>();
    for (const r of rows) {
      const list = by.get(r.field);
      if (list) list.push(r.id);
      else by.set(r.field, [r.id]);
    }
    return by;
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
      const f = STORAGE[field];
      if (f.kind === 'list') {
        const ids = termIds(f.term, values).filter((id) => id !== 0);
        if (ids.length === 0) conds.push('0');
        else {
          conds.push(`e.id IN (SELECT event_id FROM event_values WHERE term IN (${placeholders(ids.length)}))`);
          params.push(...ids);
        }
      } else if (f.kind === 'code') inList(`e.${f.column}`, exactCodes(values));
      else if (f.kind === 'value') inList(`e.${f.column}`, values);
      else inList(`e.${f.column}`, termIds(f.term, values));
    }

    for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
      // the empty string is a substring of every value
      if (!values || values.length === 0 || values.includes('')) continue;
      const f = STORAGE[field];
      if (f.kind === 'code') inList(`e.${f.column}`, [...new Set(values.flatMap(codeMatches))]);
      else if (f.kind === 'value') {
        // values not in the dictionary (audit IDs: one per event) are scanned
        conds.push(`(${values.map(() => `instr(lower(e.${f.column}), lower(?)) > 0`).join(' OR ')})`);
        params.push(...values);
      } else {
        const set = this.#termIn([f.term], values);
        if (!set) conds.push('0');
        else {
          conds.push(
            f.kind === 'list'
              ? `e.id IN (SELECT event_id FROM event_values WHERE term IN (${set.list}))`
              : `e.${f.column} IN (${set.list})`,
          );
          params.push(...set.params);
        }
      }
    }

    if (q.text && q.text.length > 0 && !q.text.includes('')) {
      const ors: string[] = [];
      // One dictionary search over every text field, split by field here: a search per field read the same
      // trigram posting lists ten times.
      const found = this.#termsByField(TEXT_FIELD_NOS, q.text);
      for (const f of TEXT_DICT) {
        const ids = found?.get(f.term);
        const set =
          found === undefined || (ids !== undefined && ids.length > INLINE_TERMS)
            ? this.#termIn([f.term], q.text)
            : ids && { list: placeholders(ids.length), params: ids };
        if (set) {
          ors.push(`e.${f.column} IN (${set.list})`);
          params.push(...set.params);
        }
      }
      const listIds = found && TEXT_LIST_NOS.flatMap((term) => found.get(term) ?? []);
      const set =
        TEXT_LIST_NOS.length === 0
          ? undefined
          : listIds === undefined || listIds.length > INLINE_TERMS
            ? this.#termIn(TEXT_LIST_NOS, q.text)
            : listIds.length > 0
              ? { list: placeholders(listIds.length), params: listIds }
              : undefined;
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
    const total = (
      (w.sql === '1' ? this.#s.minutesTotal : this.#prepare(`SELECT count(*) AS n FROM events e WHERE ${w.sql}`)).get(
        ...w.params,
      ) as { n: number }
    ).n;
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
    let counts = this.#minuteCounts(q, intervalMs) ?? this.#bucketCounts(q, width);
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
   * Histogram from the per-minute counts: for queries with no condition but a time range, and buckets of whole
   * minutes (every minute then falls in one bucket). Minutes the range cuts are counted from the events.
   */
  #minuteCounts(q: EventQuery, intervalMs: number): { first: number; n: number[] } | undefined {
    if (intervalMs % 60_000 !== 0 || this.#where({ ...q, start: undefined, end: undefined }).sql !== '1')
      return undefined;
    const per = intervalMs / 60_000; // minutes per bucket
    const range = this.#s.timeRange.get() as { lo: number | null; hi: number | null };
    if (range.lo === null || range.hi === null) return { first: 0, n: [] };
    const lo = q.start === undefined ? range.lo : Math.max(range.lo, Math.ceil(q.start) * 1000);
    const hi = q.end === undefined ? range.hi : Math.min(range.hi, Math.floor(q.end) * 1000 + 999);
    if (lo > hi) return { first: 0, n: [] };
    const first = Math.floor(lo / (per * MINUTE_US));
    const last = Math.floor(hi / (per * MINUTE_US));
    if (last - first + 1 > this.#maxBuckets)
      throw new QueryError(
        `a histogram with interval ${intervalMs} ms over this range has more than ${this.#maxBuckets} buckets: use a larger interval or a shorter range`,
      );
    const n = new Array<number>(last - first + 1).fill(0);
    // whole minutes in [lo, hi]: from the first minute starting at or after lo to the last ending at or before hi
    const m0 = Math.ceil(lo / MINUTE_US);
    const m1 = Math.floor((hi + 1) / MINUTE_US); // exclusive
    const countRange = this.#prepare('SELECT count(*) AS n FROM events WHERE received >= ? AND received < ?');
    const edge = (from: number, to: number) => {
      if (from >= to) return;
      n[Math.floor(from / (per * MINUTE_US)) - first]! += (countRange.get(from, to) as { n: number }).n;
    };
    if (m0 >= m1) edge(lo, hi + 1);
    else {
      edge(lo, m0 * MINUTE_US);
      // Summed per bucket in SQL (a row object per minute costs more than the sum). Floor division, also for
      // minutes before 1970; node:sqlite binds JS numbers as REAL, the CAST keeps the arithmetic integral.
      const rows = this.#prepare(
        `SELECT (minute - ((minute % p + p) % p)) / p AS b, sum(n) AS n
         FROM event_minutes, (SELECT CAST(? AS INTEGER) AS p) WHERE minute >= ? AND minute < ? GROUP BY b`,
      ).all(per, m0, m1) as { b: number; n: number }[];
      for (const r of rows) n[r.b - first]! += r.n;
      edge(m1 * MINUTE_US, hi + 1);
    }
    return { first, n };
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
    if (!(STATS_FIELDS as readonly string[]).includes(by)) throw new QueryError(`cannot count by "${by}"`);
    const f = STORAGE[by];
    const w = this.#where(q);
    const head = this.#prepare(
      `SELECT count(*) AS n, count(DISTINCT e.audit_id) AS a FROM events e WHERE ${w.sql}`,
    ).get(...w.params) as { n: number; a: number };
    if (limit === 0 || head.n === 0) return { total: head.n, auditIDs: head.a, top: [] };
    let sql: string;
    if (f.kind === 'list')
      sql = `SELECT t.value AS k, g.n AS n FROM (
               SELECT v.term AS term, count(*) AS n FROM events e JOIN event_values v ON v.event_id = e.id
               WHERE ${w.sql} GROUP BY v.term) g
             JOIN terms t ON t.id = g.term AND t.field = ${f.term} ORDER BY n DESC, k LIMIT ?`;
    else if (f.kind === 'dict')
      sql = `SELECT t.value AS k, g.n AS n FROM (
               SELECT e.${f.column} AS term, count(*) AS n FROM events e WHERE ${w.sql} AND e.${f.column} <> 0
               GROUP BY e.${f.column}) g
             JOIN terms t ON t.id = g.term ORDER BY n DESC, k LIMIT ?`;
    else
      sql = `SELECT e.${f.column} AS k, count(*) AS n FROM events e WHERE ${w.sql} AND e.${f.column} IS NOT NULL
             GROUP BY e.${f.column} ORDER BY n DESC, k LIMIT ?`;
    const rows = this.#prepare(sql).all(...w.params, limit) as { k: string | number; n: number }[];
    return { total: head.n, auditIDs: head.a, top: rows.map((r) => ({ key: String(r.k), count: r.n })) };
  }

  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    this.#open();
    if (!Number.isFinite(cutoff)) throw new QueryError(`cutoff must be epoch milliseconds, not ${cutoff}`);
    if (!Number.isInteger(limit) || limit <= 0) throw new QueryError(`limit must be a positive integer, not ${limit}`);
    return this.#write().deleteBefore(cutoff, limit);
  }

  /**
   * Signs the chain head on the write connection, after the appends already accepted. Not on a connection of its
   * own: its commit would empty the writer's page cache (WAL mode), and it would wait for the write lock here, on the
   * event loop.
   */
  // (`freshMs` does not apply: one process writes a SQLite store, so no other collector shares its cadence.)
  async checkpoint(key: SigningKey, o: { force?: boolean } = {}): Promise<Checkpoint | undefined> {
    this.#open();
    return this.#write().checkpoint(key, o.force ?? false);
  }

  /** Not started by asking: a store that has not written yet has no writer thread. */
  async writerHeap(): Promise<{ used: number; total: number } | undefined> {
    return this.#closed ? undefined : this.#writer?.heap();
  }

  /**
   * From the per-minute counts, not count(*): /metrics asks at every scrape, and counting read a whole index into
   * this connection's page cache on the main thread each time (slower as the store grows; the soak's memory churn).
   */
  async size(): Promise<{ events: number; bytes: number }> {
    this.#open();
    const events = (this.#s.minutesTotal.get() as { n: number }).n;
    const pages = (this.#s.pageCount.get() as { page_count: number }).page_count;
    const pageSize = (this.#s.pageSize.get() as { page_size: number }).page_size;
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
    // appends already accepted are committed before the database closes
    await this.#writer?.close();
    this.#listeners.clear();
    this.#db.close();
  }
}
