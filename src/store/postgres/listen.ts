// Live tail across the collectors of a PostgreSQL store: an append NOTIFYs the ids it stored (on commit), and each
// collector LISTENs on one dedicated connection, reconnecting with backoff when PostgreSQL restarts or kills it,
// and fetches the events other collectors stored for its subscribers.
import pg from 'pg';
import { withId } from '../rows.ts';
import type { StoredEvent } from '../types.ts';
import { ident } from './migrations.ts';
import type { Db } from './pool.ts';

export class LiveTail {
  readonly #db: Db;
  readonly #url: string;
  readonly #applicationName: string;
  /** The NOTIFY channel of the store's schema. */
  readonly channel: string;
  /** Tells this instance's NOTIFYs from other collectors' ones. */
  readonly instance: string;
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  #listenClient: pg.Client | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  #listenReady = false;
  readonly #readyWaiters: (() => void)[] = [];
  #closed = false;

  constructor(db: Db, o: { url: string; applicationName?: string }, instance: string) {
    this.#db = db;
    this.#url = o.url;
    this.#applicationName = o.applicationName ?? 'vigil';
    this.channel = `vigil_events:${db.schema}`;
    this.instance = instance;
  }

  /** Whether anyone listens (an append then emits what it stored). */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  subscribe(listener: (events: StoredEvent[]) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#listenClient && !this.#listenRetry) this.#listen(0);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves once this instance listens for other collectors' appends. */
  listening(): Promise<void> {
    if (this.#listenReady || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  emit(events: StoredEvent[]): void {
    for (const l of this.#listeners) {
      try {
        l(events);
      } catch (err) {
        // A failing live-tail consumer must not fail an append that is already committed.
        process.emitWarning(`store subscriber failed: ${(err as Error)?.message ?? err}`);
      }
    }
  }

  /** One dedicated connection LISTENs; it reconnects (with backoff) when PostgreSQL restarts or kills it. */
  #listen(attempt: number): void {
    this.#listenRetry = undefined;
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: this.#applicationName,
      options: `-c search_path=${ident(this.#db.schema)}`,
    });
    this.#listenClient = client;
    const retry = () => {
      if (this.#listenClient !== client) return;
      this.#listenClient = undefined;
      this.#listenReady = false;
      client.end().catch(() => {});
      if (this.#closed) return;
      const delay = Math.min(10_000, 100 * 2 ** attempt);
      this.#listenRetry = setTimeout(() => this.#listen(attempt + 1), delay);
      this.#listenRetry.unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (m) => {
      if (m.channel !== this.channel || !m.payload) return;
      const sp = m.payload.indexOf(' ');
      if (m.payload.slice(0, sp) === this.instance) return; // already emitted by append
      const ids = m.payload
        .slice(sp + 1)
        .split(',')
        .filter(Boolean);
      if (ids.length === 0 || this.#listeners.size === 0) return;
      this.#db
        .read<{ id: string; body: string }>('SELECT id, body FROM events WHERE id = ANY($1::bigint[]) ORDER BY id', [
          ids,
        ])
        .then((r) => {
          if (r.rows.length > 0) this.emit(r.rows.map((x) => withId(x.id, x.body)));
        })
        .catch((err) => process.emitWarning(`vigil: live tail fetch failed: ${(err as Error)?.message ?? err}`));
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${ident(this.channel)}`))
      .then(() => {
        this.#listenReady = true;
        for (const w of this.#readyWaiters.splice(0)) w();
        attempt = 0;
      })
      .catch(retry);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    for (const w of this.#readyWaiters.splice(0)) w();
    if (this.#listenRetry) clearTimeout(this.#listenRetry);
    const l = this.#listenClient;
    this.#listenClient = undefined;
    await l?.end().catch(() => {});
  }
}
