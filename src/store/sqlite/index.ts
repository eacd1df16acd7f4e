// Public surface of the embedded store: SQLite through node:sqlite (src/store/sqlite/store.ts tells its layout).
export { writeSqliteCheckpoint } from './checkpoints.ts';
export { openSqliteStore, type SqliteStoreOptions } from './store.ts';
export { openSqliteTrail } from './trail.ts';
