// Public surface of the store: the contract, the shared query semantics, the SQLite and PostgreSQL stores, retention.
import { openPostgresStore } from './postgres/index.ts';
import { openSqliteStore } from './sqlite/index.ts';
import type { Store } from './types.ts';

export { runExclusive } from './exclusive.ts';
export { CLI_FILTERS, type FieldName, type FilterField, type StatsField } from './fields.ts';
export {
  migratePostgres,
  openPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from './postgres/index.ts';
export { type Retention, type RetentionOptions, startRetention } from './retention.ts';
export {
  encodeCursor,
  MAX_HISTOGRAM_BUCKETS,
  MAX_PAGE_SIZE,
  MAX_STORED_MICROS,
  QueryError,
  toMicros,
} from './semantics.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.ts';
export { readTrail, type TrailTarget, writeCheckpoint } from './trail.ts';
export * from './types.ts';

/** Which store to open: embedded SQLite, or PostgreSQL shared by several collectors. */
export type StoreConfig =
  | { type: 'sqlite'; path: string; cacheMiB?: number; maxHistogramBuckets?: number }
  | { type: 'postgres'; url: string; schema?: string; poolSize?: number; maxHistogramBuckets?: number };

export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.type) {
    case 'sqlite':
      return openSqliteStore({
        path: config.path,
        cacheMiB: config.cacheMiB,
        maxHistogramBuckets: config.maxHistogramBuckets,
      });
    case 'postgres':
      return openPostgresStore({
        url: config.url,
        schema: config.schema,
        poolSize: config.poolSize,
        maxHistogramBuckets: config.maxHistogramBuckets,
      });
    default:
      throw new Error(`unknown store type "${(config as { type: unknown }).type}" (known: sqlite, postgres)`);
  }
}
