// The shared store: PostgreSQL through `pg`, for several collectors writing and reading one database. Events live
// in a table range-partitioned by received day; every append is one transaction; live tail crosses instances
// through LISTEN/NOTIFY; periodic jobs run once across collectors through advisory locks (`runExclusive`).
// Its parts: connections (./pool.ts), columns from the field table (./columns.ts), appends (./append.ts), the
// dictionary (./terms.ts), WHERE clauses (./where.ts), reads and counts (./queries.ts), partitions and retention
// (./partitions.ts), live tail (./listen.ts), the hash chain (./chain.ts), checkpoints and the trail for verify.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { AuditEvent } from '../../event/model.ts';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import type { StatsField } from '../fields.ts';
import { MAX_HISTOGRAM_BUCKETS } from '../semantics.ts';
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
import { appendBatch } from './append.ts';
import { genesisId } from './chain.ts';
import { checkpointPostgres } from './checkpoints.ts';
import { LiveTail } from './listen.ts';
import { forwardCursors, logPositionAt, readLog, saveCursor } from './log.ts';
import { checkSchemaName, migrate } from './migrations.ts';
import { createPartitions, deleteBefore, ensurePartitions } from './partitions.ts';
import { Db, isConnectionError, unavailable } from './pool.ts';
import { getEvent, histogram, queryPage, stats, storedAfter } from './queries.ts';
import { KnownTerms } from './terms.ts';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database` (any libpq-style URL `pg` accepts). */
  url: string;
  /** Schema holding Vigil's tables (created and migrated on open). Default `vigil`. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** `application_name` of the connections, as `pg_stat_activity` shows it. Default `vigil`. */
  applicationName?: string;
  /** Days of partitions created ahead of today (and kept behind it). Default 3 ahead, 1 behind. */
  partitionsAhead?: number;
  /** Most buckets a histogram answer may have (default MAX_HISTOGRAM_BUCKETS). */
  maxHistogramBuckets?: number;
}

const PARTITION_JOB_MS = 3_600_000;

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const schema = opts.schema ?? 'vigil';
  checkSchemaName(schema);
  const store = new PostgresStore(opts, schema);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

/** Applies the migrations to the database at `url` (the `vigil migrate` command); returns the versions applied. */
export async function migratePostgres(url: string, schema = 'vigil'): Promise<number[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'vigil migrate' });
  await client.connect();
  try {
    return await migrate(client, schema);
  } finally {
    await client.end();
  }
}

export class PostgresStore implements Store {
  readonly #db: Db;
  readonly #opts: PostgresStoreOptions;
  readonly #tail: LiveTail;
  /** Dictionary values this collector knows to be in `terms`: most batches add none. */
  readonly #known = new KnownTerms();
  #partitionTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Events with ids up to this one were stored before the hash chain existed (an upgraded schema). */
  #genesis = 0;
  readonly #maxBuckets: number;

  constructor(opts: PostgresStoreOptions, schema: string) {
    this.#opts = opts;
    this.#maxBuckets = opts.maxHistogramBuckets ?? MAX_HISTOGRAM_BUCKETS;
    this.#db = new Db(opts, schema);
    this.#tail = new LiveTail(this.#db, opts, randomUUID());
  }

  async init(): Promise<void> {
    const client = await this.#db.pool.connect();
    try {
      await migrate(client, this.#db.schema);
      this.#genesis = await genesisId(client);
    } finally {
      client.release();
    }
    await this.ensurePartitions();
    this.#partitionTimer = setInterval(() => {
      this.ensurePartitions().catch((err) =>
        process.emitWarning(`vigil: creating partitions failed: ${(err as Error)?.message ?? err}`),
      );
    }, PARTITION_JOB_MS);
    this.#partitionTimer.unref();
  }

  #open(): void {
    if (this.#closed) throw new Error('the store is closed');
  }

  /** Partitions for yesterday … today+ahead exist (moving any of their rows out of the DEFAULT partition). */
  async ensurePartitions(now = Date.now()): Promise<void> {
    await ensurePartitions(this.#db, this.#opts.partitionsAhead ?? 3, now);
  }

  /** Creates the daily partitions covering [fromUs, toUs] that do not exist yet. */
  async createPartitions(fromUs: number, toUs: number): Promise<void> {
    await createPartitions(this.#db, fromUs, toUs);
  }

  async append(events: AuditEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    this.#open();
    const tail = this.#tail;
    const { result, stored } = await appendBatch(
      { db: this.#db, known: this.#known, channel: tail.channel, instance: tail.instance, genesis: this.#genesis },
      events,
      opts,
    );
    if (stored.length > 0 && tail.active) tail.emit(stored.map(({ id, e }) => ({ ...e, id })));
    return result;
  }

  async get(id: string, scope?: TenantScope): Promise<StoredEvent | undefined> {
    this.#open();
    return getEvent(this.#db, id, scope);
  }

  async query(q: EventQuery, page: PageRequest): Promise<Page> {
    this.#open();
    return queryPage(this.#db, q, page);
  }

  async histogram(q: EventQuery, intervalMs: number): Promise<Histogram> {
    this.#open();
    return histogram(this.#db, q, intervalMs, this.#maxBuckets);
  }

  async stats(
    q: EventQuery,
    by: StatsField,
    limit: number,
  ): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }> {
    this.#open();
    return stats(this.#db, q, by, limit);
  }

  /** One retention step (./partitions.ts): whole days dropped, the boundary day deleted row by row. */
  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    this.#open();
    return deleteBefore(this.#db, this.#genesis, cutoff, limit);
  }

  /** Where a `vigil migrate-data` copy from `source` stopped (its cursor over the source), if it started. */
  async importPosition(source: string): Promise<{ cursor: string; copied: number } | undefined> {
    this.#open();
    const r = await this.#db.read<{ cursor: string; copied: string }>(
      'SELECT cursor, copied FROM data_imports WHERE source = $1',
      [source],
    );
    const row = r.rows[0];
    return row && { cursor: row.cursor, copied: Number(row.copied) };
  }

  async saveImportPosition(source: string, cursor: string, copied: number): Promise<void> {
    this.#open();
    await this.#db.tx((c) =>
      c.query(
        `INSERT INTO data_imports (source, cursor, copied) VALUES ($1, $2, $3)
         ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, copied = EXCLUDED.copied, updated_at = now()`,
        [source, cursor, copied],
      ),
    );
  }

  async size(): Promise<{ events: number; bytes: number }> {
    this.#open();
    const r = await this.#db.read<{ n: string; bytes: string }>(
      `SELECT (SELECT count(*) FROM events) AS n,
              (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'S')) AS bytes`,
      [this.#db.schema],
    );
    return { events: Number(r.rows[0]!.n), bytes: Number(r.rows[0]!.bytes) };
  }

  async storedAfter(afterId: number, limit: number): Promise<StoredEvent[]> {
    this.#open();
    return storedAfter(this.#db, afterId, limit);
  }

  subscribe(listener: (events: StoredEvent[]) => void): () => void {
    return this.#tail.subscribe(listener);
  }

  /** Resolves once this instance listens for other collectors' appends (live tail across instances). */
  listening(): Promise<void> {
    return this.#tail.listening();
  }

  /**
   * Runs `fn` only if no other collector of this database runs a job of the same name (a session advisory lock
   * held on one connection for the job's duration); `ran` is false when another one holds it.
   */
  async readLog(after: number | undefined, limit: number): Promise<LogRead> {
    this.#open();
    return readLog(this.#db, after, limit);
  }

  async logPositionAt(time: number): Promise<number> {
    this.#open();
    return logPositionAt(this.#db, time);
  }

  async forwardCursors(): Promise<ForwardCursor[]> {
    this.#open();
    return forwardCursors(this.#db);
  }

  async saveForwardCursor(name: string, position: number, expected?: number | null): Promise<boolean> {
    this.#open();
    return saveCursor(this.#db, name, position, expected);
  }

  async runExclusive<T>(name: string, fn: () => Promise<T>): Promise<{ ran: boolean; value?: T }> {
    this.#open();
    const client = await this.#db.connect();
    let broken: Error | undefined;
    const key = `${this.#db.schema}:job:${name}`;
    try {
      const got = (await client.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [key])).rows[0]
        .ok as boolean;
      if (!got) return { ran: false };
      try {
        return { ran: true, value: await fn() };
      } finally {
        await client
          .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
          .catch((e: Error) => (broken = e));
      }
    } catch (err) {
      if (isConnectionError(err)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken ?? false);
    }
  }

  /** Every collector of the store signs with the same key; an advisory lock keeps their numbering in order. */
  async checkpoint(key: SigningKey, o: { force?: boolean; freshMs?: number } = {}): Promise<Checkpoint | undefined> {
    this.#open();
    const client = await this.#db.connect();
    let broken: Error | undefined;
    try {
      return await checkpointPostgres(client, this.#db.schema, key, o);
    } catch (err) {
      // a connection whose backend died is discarded, not handed to the next caller
      if (isConnectionError(err)) broken = err as Error;
      throw unavailable(err) ?? err;
    } finally {
      client.release(broken ?? false);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.closed = true;
    if (this.#partitionTimer) clearInterval(this.#partitionTimer);
    await Promise.all([this.#tail.close(), this.#db.pool.end()]);
  }
}
