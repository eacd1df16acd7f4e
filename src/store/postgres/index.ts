// Public surface of the shared store: PostgreSQL through `pg`, for several collectors (src/store/postgres/store.ts).
export { migratePostgres, openPostgresStore, type PostgresStore, type PostgresStoreOptions } from './store.ts';
