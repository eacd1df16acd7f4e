// Public surface of the store: the contract, the shared query semantics, the SQLite store and retention.
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export { MAX_HISTOGRAM_BUCKETS, MAX_PAGE_SIZE, QueryError } from './query.ts';
export { type Retention, type RetentionOptions, startRetention } from './retention.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts';
export * from './types.ts';

/** Which store to open; a later release adds `{ type: 'postgres', … }`. */
export type StoreConfig = { type: 'sqlite'; path: string };

export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.type) {
    case 'sqlite':
      return openSqliteStore({ path: config.path });
    default:
      throw new Error(`unknown store type "${(config as { type: unknown }).type}" (known: sqlite)`);
  }
}
