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
//   case-insensitive substring is looked up in a trigram FTS5 index over the dictionary (`terms_fts`, without
//   positions: a term's trigrams select candidates, a substring test keeps the right ones; free text of two
//   characters asks for every trigram holding them; a fuzzy term that short, and one character, scan the field's
//   values), and the matching term ids select events through the column indexes. Indexing each distinct value once instead of each event's text is
//   what makes search indexing affordable at ingest rates.
// - Groups and source IPs are lists: each element is a row of `event_values` (term, event), so an exact filter on
//   one element is an index lookup.
// - Bodies (the full event as JSON) are kept apart so that scans of `events` never read them: compressed in blocks
//   of neighbouring events with a dictionary trained from the store's events (`body_blocks`, `body_dicts`), or as
//   plain `event_bodies` rows until packed (./bodies.ts).
// - `chain_log` is the tamper-evidence hash chain (src/integrity/chain.ts): one entry per insert, in-place replacement
//   and retention deletion, written in the same transaction as the change; `checkpoints` holds signed chain heads.
// - `event_minutes` counts the stored events per minute of received time, maintained in the append transaction, so
//   that histograms and totals without filters read one row per minute instead of one index entry per event.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { AuditEvent } from '../../event/model.ts';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import type { StatsField } from '../fields.ts';
import { withId } from '../rows.ts';
import {
  checkPage,
  checkQuery,
  decodeCursor,
  encodeCursor,
  MAX_HISTOGRAM_BUCKETS,
  MAX_STORED_MICROS,
  QueryError,
} from '../semantics.ts';
import type {
  AppendOptions,
  AppendResult,
  EventQuery,
  ForwardCursor,
  Histogram,
  LogRead,
  Page,
  PageRequest,
  Store,
  StoredEvent,
  TenantScope,
} from '../types.ts';
import { BodyReader, PACK_STEP } from './bodies.ts';
import { histogram, stats } from './counts.ts';
import { prepareJob, type WriterOutcome } from './jobs.ts';
import { forwardCursors, logPositionAt, readLog } from './log.ts';
import { Reader } from './reader.ts';
import { configure, DEFAULT_CACHE_MIB, EVENTS_STORED_SQL, upgrade } from './schema.ts';
import { SqliteWriter } from './writer.ts';
import { inlineWriter, type WriterPort, workerWriter } from './writer-port.ts';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** How long a write waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** Most buckets a histogram answer may have (default MAX_HISTOGRAM_BUCKETS). */
  maxHistogramBuckets?: number;
  /** SQLite page cache of the write connection (MiB, default DEFAULT_CACHE_MIB); queries get a quarter. */
  cacheMiB?: number;
  /**
   * Pack plain bodies into compressed blocks between appends (default true): a store before schema 6, and the
   * events stored before the first dictionary. Off (tests): only `compact()` steps do.
   */
  packInBackground?: boolean;
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  return new SqliteStore(opts);
}

const isStored = (e: StoredEvent | undefined): e is StoredEvent => e !== undefined;

class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #opts: SqliteStoreOptions;
  /** The write connection's page cache, MiB. */
  readonly #cacheMiB: number;
  readonly #maxBuckets: number;
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  readonly #reader: Reader;
  /** Started at the first write: a store opened only to read (CLI, verify) never starts a thread. */
  #writer: WriterPort | undefined;
  readonly #s: Record<'minutesTotal' | 'pageCount' | 'pageSize', StatementSync>;
  readonly #bodies: BodyReader;
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
      upgrade(db, opts.path);
      new SqliteWriter(db).refreshStats();
    } catch (err) {
      db.close();
      throw err;
    }
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      minutesTotal: p(EVENTS_STORED_SQL),
      pageCount: p('PRAGMA page_count'),
      pageSize: p('PRAGMA page_size'),
    };
    this.#bodies = new BodyReader(db);
    this.#reader = new Reader(db);
  }

  #open(): void {
    if (this.#closed) throw new Error('the store is closed');
  }

  #write(): WriterPort {
    this.#writer ??=
      this.#opts.path === ':memory:' || this.#opts.path === ''
        ? inlineWriter(this.#db, this.#opts.packInBackground !== false)
        : workerWriter({
            path: this.#opts.path,
            busyTimeoutMs: this.#opts.busyTimeoutMs ?? 5000,
            cacheMiB: this.#cacheMiB,
            packInBackground: this.#opts.packInBackground !== false,
          });
    return this.#writer;
  }

  /**
   * Stores a batch; appends that arrive while the writer is busy are committed together (group commit), each batch
   * in its own savepoint so that a bad batch fails alone. `ids[i]` is the stored event of `events[i]`.
   */
  append(events: AuditEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    let appended: ReturnType<WriterPort['append']>;
    try {
      this.#open();
      const job = prepareJob(events);
      if (opts.batchKey !== undefined) job.batchKey = opts.batchKey;
      if (opts.collapseStages) job.collapseStages = true;
      appended = this.#write().append(job);
    } catch (err) {
      return Promise.reject(err);
    }
    // The batch is held while it commits only for the live tail's listeners: held by everyone, batches in flight
    // survived the young generation's collections (see Ingestor's storeBatch). A listener that subscribes meanwhile
    // gets the stored events read back.
    const held = this.#listeners.size > 0 ? events : undefined;
    return appended.then(({ outcome, statsRefreshed }) => this.#appended(outcome, statsRefreshed, held));
  }

  #appended(outcome: WriterOutcome, statsRefreshed: boolean, events: AuditEvent[] | undefined): AppendResult {
    if (statsRefreshed && !this.#closed) this.#db.exec('ANALYZE sqlite_schema'); // the writer's new statistics
    if (!outcome.ok) throw outcome.error;
    const { inserted, duplicates, ids, stored } = outcome.result;
    if (stored.length > 0 && this.#listeners.size > 0 && (events || !this.#closed))
      this.#notify(
        stored.map((i) => (events ? { ...events[i]!, id: String(ids[i]) } : this.#stored(ids[i]!))).filter(isStored),
      );
    return { inserted, duplicates, ids: ids.map((id) => (id > 0 ? String(id) : undefined)) };
  }

  /** A stored event by its row id, from its stored body. */
  #stored(id: number): StoredEvent | undefined {
    const body = this.#bodies.read(id);
    return body === undefined ? undefined : withId(id, body);
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
    if (scope) {
      const w = this.#reader.where({ scope });
      if (!this.#reader.prepare(`SELECT 1 FROM events e WHERE e.id = ? AND ${w.sql}`).get(Number(id), ...w.params))
        return undefined;
    }
    return this.#stored(Number(id));
  }

  async query(q: EventQuery, page: PageRequest): Promise<Page> {
    this.#open();
    checkQuery(q);
    checkPage(page);
    const cursor = page.after === undefined ? undefined : decodeCursor(page.after);
    const w = this.#reader.where(q);
    const total = (
      (w.sql === '1'
        ? this.#s.minutesTotal
        : this.#reader.prepare(`SELECT count(*) AS n FROM events e WHERE ${w.sql}`)
      ).get(...w.params) as { n: number }
    ).n;
    if (page.size === 0 || total === 0) return { total, items: [] };
    const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
    // Read back within the exact integers: a row an older version stored with a far time (year 9999) then pages
    // like any other instead of failing the query ("too large to be represented as a JavaScript number").
    let sql = `SELECT e.id, min(max(e.received, -${MAX_STORED_MICROS}), ${MAX_STORED_MICROS}) AS received FROM events e WHERE ${w.sql}`;
    const params = [...w.params];
    if (cursor) {
      sql += ` AND (e.received, e.id) ${page.sort === 'asc' ? '>' : '<'} (?, ?)`;
      params.push(cursor.received, Number(cursor.id));
    }
    sql += ` ORDER BY e.received ${dir}, e.id ${dir} LIMIT ? OFFSET ?`;
    params.push(page.size + 1, page.from ?? 0);
    const rows = this.#reader.prepare(sql).all(...params) as { id: number; received: number }[];
    const more = rows.length > page.size;
    if (more) rows.pop();
    const items: StoredEvent[] = [];
    for (const r of rows) {
      const e = this.#stored(r.id);
      if (e) items.push(e);
    }
    const last = rows[rows.length - 1];
    return more && last ? { total, items, next: encodeCursor(last.received, String(last.id)) } : { total, items };
  }

  async histogram(q: EventQuery, intervalMs: number): Promise<Histogram> {
    this.#open();
    return histogram(this.#reader, q, intervalMs, this.#maxBuckets);
  }

  async stats(
    q: EventQuery,
    by: StatsField,
    limit: number,
  ): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }> {
    this.#open();
    return stats(this.#reader, q, by, limit);
  }

  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    this.#open();
    if (!Number.isFinite(cutoff)) throw new QueryError(`cutoff must be epoch milliseconds, not ${cutoff}`);
    if (!Number.isInteger(limit) || limit <= 0) throw new QueryError(`limit must be a positive integer, not ${limit}`);
    return this.#write().deleteBefore(cutoff, limit);
  }

  /** One bounded step of packing plain bodies into compressed blocks (the writer also runs them by itself). */
  async compact(limit = PACK_STEP): Promise<number> {
    this.#open();
    return this.#write().compact(limit);
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

  async readLog(after: number | undefined, limit: number): Promise<LogRead> {
    this.#open();
    return readLog(this.#reader, after, limit);
  }

  async logPositionAt(time: number): Promise<number> {
    this.#open();
    return logPositionAt(this.#reader, time);
  }

  async forwardCursors(): Promise<ForwardCursor[]> {
    this.#open();
    return forwardCursors(this.#reader);
  }

  async saveForwardCursor(name: string, position: number, expected?: number | null): Promise<boolean> {
    this.#open();
    return this.#write().saveCursor(name, position, expected);
  }

  async storedAfter(afterId: number, limit: number): Promise<StoredEvent[]> {
    this.#open();
    const rows = this.#reader
      .prepare('SELECT id FROM event_bodies WHERE id > ? ORDER BY id LIMIT ?')
      .all(afterId, limit) as { id: number }[];
    const out: StoredEvent[] = [];
    for (const { id } of rows) {
      const e = await this.get(String(id)); // the body as get() reads it
      if (e) out.push(e);
    }
    return out;
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
