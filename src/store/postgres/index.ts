// Public surface of the shared store: PostgreSQL through `pg`, for several collectors (src/store/postgres/store.ts).
export { writePostgresCheckpoint } from './checkpoints.ts';
export { migratePostgres, openPostgresStore, type PostgresStore, type PostgresStoreOptions } from './store.ts';
export { openPostgresTrail, type PostgresTarget } from './trail.ts';
