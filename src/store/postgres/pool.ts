// The PostgreSQL store's connections: a pool whose reads are retried on a connection found dead, transactions that
// discard a failed connection instead of reusing it, and PostgreSQL's errors as the contract's StoreUnavailableError.
import pg from 'pg';
import { StoreUnavailableError } from '../types.ts';
import { ident } from './migrations.ts';

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  // class 57 (operator intervention: admin shutdown, terminated backend), 08 (connection exception), or a socket
  // error without an SQLSTATE
  return code === undefined || code.startsWith('57') || code.startsWith('08');
}

/**
 * An error meaning "PostgreSQL cannot do this now, may later" as the contract's StoreUnavailableError (the server
 * answers 503 with Retry-After, so senders keep their events): the server unreachable, restarting or shutting down,
 * a connection lost, out of disk or connections, a serialization failure or deadlock. Undefined for anything else.
 */
export function unavailable(err: unknown): StoreUnavailableError | undefined {
  if (err instanceof StoreUnavailableError) return err;
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  let reason: string | undefined;
  if (code === '53100') reason = 'full';
  // out of memory or connections, a statement timeout, a serialization failure or deadlock
  else if (code !== undefined && /^(53|57014|40001|40P01)/.test(code)) reason = 'busy';
  // shutting down, starting up, crashed, terminated; connection exceptions
  else if (code !== undefined && /^(08|57)/.test(code)) reason = 'unreachable';
  // socket errors (ECONNREFUSED, ECONNRESET…) and node-postgres's own for a connection that ended
  else if ((code !== undefined && typeof e.syscall === 'string') || /^Connection terminated/.test(message))
    reason = 'unreachable';
  if (!reason) return undefined;
  return new StoreUnavailableError(`store unavailable: PostgreSQL: ${message}`, reason, 5, err);
}

/** The store's pool of connections to its schema (`search_path`). */
export class Db {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly #poolSize: number;
  /** Set when the store closes: reads then fail instead of being retried. */
  closed = false;

  constructor(o: { url: string; poolSize?: number; applicationName?: string }, schema: string) {
    this.schema = schema;
    this.#poolSize = o.poolSize ?? 10;
    this.pool = new pg.Pool({
      connectionString: o.url,
      max: this.#poolSize,
      application_name: o.applicationName ?? 'vigil',
      options: `-c search_path=${ident(schema)}`,
    });
    // An idle connection whose backend dies emits here; without a listener it would crash the process. The pool
    // drops the connection and opens a new one when needed.
    this.pool.on('error', () => {});
    // The pool listens for errors on idle connections only, and an 'error' nobody listens to crashes the process: a
    // connection killed while checked out, or between its connect and the caller's first query (the termination can
    // arrive in the same packet as the connect's answer, before `await pool.connect()` resumes), would take the
    // collector down. So each connection gets a listener of its own as it is made; the next query on a dead one
    // fails instead, and the connection is discarded on release.
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  /**
   * A read on any pooled connection, retried on a connection that turns out dead (PostgreSQL restarted, the
   * backend was killed, a failover): the pool may hand out an idle connection before it has noticed. Reads are
   * safe to repeat; appends are not retried here — their caller's retry is (idempotent).
   */
  async read<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pool.query<R>(sql, values);
      } catch (err) {
        if (!isConnectionError(err) || this.closed || attempt >= this.#poolSize) throw unavailable(err) ?? err;
      }
    }
  }

  /** A pooled connection (see the 'connect' listener in the constructor for when its backend dies). */
  async connect(): Promise<pg.PoolClient> {
    return this.pool.connect();
  }

  /**
   * A pooled connection with a transaction begun. A connection found dead at BEGIN (killed while idle, before the
   * pool noticed) is discarded and another one tried: nothing of the caller's work was sent on it yet.
   */
  async #begin(): Promise<pg.PoolClient> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      try {
        await client.query('BEGIN');
        return client;
      } catch (err) {
        client.release(err as Error);
        if (!isConnectionError(err) || attempt >= this.#poolSize) throw err;
      }
    }
  }

  /**
   * Runs `fn` in a transaction on one pooled connection; a connection that failed is discarded, not reused. SQL that
   * `fn` passes to `atCommit` is sent in one message with the COMMIT, so the server runs it and commits back to back
   * (the hash chain step, which holds the chain head's lock until the commit).
   */
  async tx<T>(fn: (c: pg.PoolClient, atCommit: (sql: string) => void) => Promise<T>): Promise<T> {
    const client = await this.#begin();
    let broken: Error | undefined;
    try {
      let last = '';
      const r = await fn(client, (sql) => {
        last += `${sql};\n`;
      });
      // An error in `last` skips the COMMIT after it: the transaction is then aborted and rolled back below.
      await client.query(`${last}COMMIT`);
      return r;
    } catch (err) {
      if (isConnectionError(err)) broken = err as Error;
      else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken ?? false);
    }
  }
}
