// The PostgreSQL store's trail as verify and export read it (src/integrity/trail.ts): its chain (kept by ./chain.ts
// in `chain_blocks`), `checkpoints` and the events, on a connection of its own. One snapshot (REPEATABLE READ) while
// collectors keep appending; the chain and the events stream through server-side cursors, in constant memory.
import pg from 'pg';
import { OP_DELETE, OP_DROP, OP_INSERT, OP_REPLACE } from '../../integrity/chain.ts';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { LatestEntry, TrailEntry, TrailReader } from '../../integrity/trail.ts';
import { rowToCheckpoint } from '../rows.ts';
import { checkSchemaName, ident } from './migrations.ts';

/** A PostgreSQL store: its database and schema. */
export interface PostgresTarget {
  url: string;
  /** Default `vigil`. */
  schema?: string;
}

const PAGE = 10_000;
/** Rows of the event pass fetched per round trip (they carry the events' JSON). */
const EVENT_PAGE = 2_000;
const BLOCK_PAGE = 500;
const OPS_OF_EVENTS = `(${OP_INSERT}, ${OP_REPLACE}, ${OP_DELETE})`;

/** A connection to the store of `t` (for `what`, as pg_stat_activity shows it), refused when it has no chain. */
export async function connectTrail(t: PostgresTarget, what: string): Promise<pg.Client> {
  const schema = t.schema ?? 'vigil';
  checkSchemaName(schema);
  const c = new pg.Client({
    connectionString: t.url,
    application_name: `vigil ${what}`,
    options: `-c search_path=${ident(schema)}`,
  });
  c.on('error', () => {}); // a dropped connection fails the query in progress; nothing else to do
  await c.connect();
  try {
    const r = await c.query<{ t: string | null }>(`SELECT to_regclass('chain_head') AS t`);
    if (!r.rows[0]?.t)
      throw new Error(
        `schema ${schema}: no hash chain (start a collector of this Vigil on it, or run vigil migrate, first)`,
      );
  } catch (err) {
    await c.end().catch(() => {});
    throw err;
  }
  return c;
}

export async function inTransaction<T>(c: pg.ClientBase, mode: string, fn: () => Promise<T>): Promise<T> {
  await c.query(`BEGIN ${mode}`);
  try {
    const r = await fn();
    await c.query('COMMIT');
    return r;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Opens the store of `t` for a verify or an export (`what`), in one read-only snapshot; close() ends it. */
export async function openPostgresTrail(
  t: PostgresTarget,
  what: string,
): Promise<TrailReader & { close(): Promise<void> }> {
  const c = await connectTrail(t, what);
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  } catch (err) {
    await c.end().catch(() => {});
    throw err;
  }
  return new PostgresTrail(c, `schema ${t.schema ?? 'vigil'}`);
}

/** Rows of `sql` through a server-side cursor, `page` at a time (inside the caller's transaction). */
async function* cursor<R extends pg.QueryResultRow>(
  c: pg.Client,
  sql: string,
  values: unknown[],
  page: number,
): AsyncGenerator<R[]> {
  const name = `vigil_${Math.random().toString(36).slice(2)}`;
  await c.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, values);
  try {
    for (;;) {
      const r = await c.query<R>(`FETCH ${page} FROM ${name}`);
      if (r.rows.length > 0) yield r.rows;
      if (r.rows.length < page) break;
    }
  } finally {
    await c.query(`CLOSE ${name}`).catch(() => {});
  }
}

class PostgresTrail implements TrailReader {
  readonly #c: pg.Client;
  readonly name: string;

  constructor(c: pg.Client, name: string) {
    this.#c = c;
    this.name = name;
  }

  /** Ends the snapshot (read-only: nothing to commit that could fail the walk). */
  async close(): Promise<void> {
    await this.#c.query('COMMIT').catch(() => {});
    await this.#c.end().catch(() => {});
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return (await this.#c.query('SELECT * FROM checkpoints ORDER BY seq')).rows.map(rowToCheckpoint);
  }

  async first(): Promise<{ op: number; eventId: number } | undefined> {
    const g = (
      await this.#c.query<{ op: number | null; event_id: string | null }>(
        'SELECT b.ops[1] AS op, b.event_ids[1] AS event_id FROM (SELECT 1) one LEFT JOIN chain_blocks b ON b.seq = 1',
      )
    ).rows[0]!;
    return g.op === null ? undefined : { op: g.op, eventId: Number(g.event_id) };
  }

  /**
   * `cutChain` (./chain.ts) removes the blocks after the genesis one up to a checkpoint: entries missing between the
   * genesis and the first block are a cut (if a valid checkpoint stands right before them; else the walk reports
   * them missing).
   */
  async cutAt(): Promise<number> {
    const after = (await this.#c.query<{ s: string | null }>('SELECT min(seq) AS s FROM chain_blocks WHERE seq > 1'))
      .rows[0]!.s;
    const at = after === null ? 0 : Number(after) - 1;
    return at > 1 ? at : 0;
  }

  async since(receivedUs: number): Promise<{ firstId: number; fromSeq: number }> {
    const c = this.#c;
    const first = (
      await c.query<{ id: string }>('SELECT id FROM events WHERE received >= $1 ORDER BY received, id LIMIT 1', [
        receivedUs,
      ])
    ).rows[0];
    const from = first
      ? (
          await c.query<{ s: string | null }>(
            `SELECT min(seq) AS s FROM chain_log WHERE event_id >= $1 AND op IN ${OPS_OF_EVENTS}`,
            [first.id],
          )
        ).rows[0]!.s
      : (await c.query<{ s: string }>('SELECT seq AS s FROM chain_head')).rows[0]!.s;
    return { firstId: first ? Number(first.id) : Number.MAX_SAFE_INTEGER, fromSeq: Number(from ?? 0) };
  }

  /**
   * The entries unpacked from their blocks (read by primary key, a page at a time). A block whose arrays do not line
   * up is reported as unreadable and skipped: its entries then show as missing.
   */
  async *entries(afterSeq: number, unreadable: (seq: number, detail: string) => void): AsyncGenerator<TrailEntry[]> {
    const c = this.#c;
    // the block holding entry afterSeq + 1
    let from = Number(
      (await c.query<{ s: string | null }>('SELECT max(seq) AS s FROM chain_blocks WHERE seq <= $1', [afterSeq + 1]))
        .rows[0]!.s ?? 0,
    );
    let inclusive = true;
    for (;;) {
      const rows = (
        await c.query<{
          seq: string;
          ops: number[];
          event_ids: string[];
          days: number[];
          body_hashes: Buffer;
          hashes: Buffer;
        }>(
          `SELECT seq, ops, event_ids, days, body_hashes, hashes FROM chain_blocks
           WHERE seq ${inclusive ? '>=' : '>'} $1 ORDER BY seq LIMIT ${BLOCK_PAGE}`,
          [from],
        )
      ).rows;
      const out: TrailEntry[] = [];
      for (const b of rows) {
        const first = Number(b.seq);
        const n = b.ops.length;
        if (
          b.event_ids.length !== n ||
          b.days.length !== n ||
          b.body_hashes.length !== 32 * n ||
          b.hashes.length !== 32 * n
        ) {
          unreadable(first, `the chain block of entries from ${first} is malformed`);
          continue;
        }
        for (let i = 0; i < n; i++) {
          if (first + i <= afterSeq) continue;
          out.push({
            seq: first + i,
            op: b.ops[i]!,
            eventId: Number(b.event_ids[i]),
            day: b.days[i]!,
            bodyHash: b.body_hashes.subarray(32 * i, 32 * i + 32),
            hash: b.hashes.subarray(32 * i, 32 * i + 32),
          });
        }
      }
      yield out;
      if (rows.length < BLOCK_PAGE) return;
      from = Number(rows[rows.length - 1]!.seq);
      inclusive = false;
    }
  }

  async *latest(minId: number): AsyncGenerator<LatestEntry[]> {
    const events = cursor<{
      id: string;
      seq: string;
      op: number;
      day: number;
      body_hash: Buffer;
      stored: boolean;
      body: string | null;
    }>(
      this.#c,
      `SELECT l.event_id AS id, l.seq, l.op, l.day, l.body_hash, e.id IS NOT NULL AS stored,
         CASE WHEN l.op IN (${OP_INSERT}, ${OP_REPLACE}) THEN e.body END AS body
       FROM (SELECT DISTINCT ON (event_id) event_id, seq, op, day, body_hash FROM chain_log
             WHERE op IN ${OPS_OF_EVENTS} AND event_id >= $1 ORDER BY event_id, seq DESC) l
       LEFT JOIN events e ON e.id = l.event_id
       ORDER BY l.event_id`,
      [minId],
      EVENT_PAGE,
    );
    for await (const rows of events)
      yield rows.map((r) => ({
        id: Number(r.id),
        seq: Number(r.seq),
        op: r.op,
        day: r.day,
        bodyHash: r.body_hash,
        body: r.stored ? r.body : null,
        row: r.stored,
      }));
  }

  async strays(minId: number, limit: number): Promise<number[]> {
    const rows = (
      await this.#c.query<{ id: string }>(
        `SELECT e.id FROM events e WHERE e.id >= $1
           AND NOT EXISTS (SELECT 1 FROM chain_log l WHERE l.event_id = e.id AND l.op IN ${OPS_OF_EVENTS})
         ORDER BY e.id LIMIT ${limit}`,
        [minId],
      )
    ).rows;
    return rows.map((r) => Number(r.id));
  }

  async unchained(genesisId: number): Promise<number> {
    return Number(
      (await this.#c.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE id <= $1', [genesisId])).rows[0]!.n,
    );
  }

  /** The latest entry of each event carries its stored JSON, fetched a page of entries at a time. */
  async *exported(afterSeq: number): AsyncGenerator<(TrailEntry & { body?: string })[]> {
    const c = this.#c;
    const entries = cursor<{
      seq: string;
      op: number;
      event_id: string;
      day: number;
      body_hash: Buffer;
      hash: Buffer;
      latest: boolean;
    }>(
      c,
      `SELECT seq, op, event_id, day, body_hash, hash,
         op IN (${OP_INSERT}, ${OP_REPLACE}) AND seq = max(seq) OVER (PARTITION BY op IN ${OPS_OF_EVENTS}, event_id) AS latest
       FROM chain_log WHERE seq > $1 ORDER BY seq`,
      [afterSeq],
      PAGE,
    );
    for await (const rows of entries) {
      const ids = rows.filter((r) => r.latest).map((r) => r.event_id);
      const bodies = new Map(
        (
          await c.query<{ id: string; body: string }>('SELECT id, body FROM events WHERE id = ANY($1::bigint[])', [ids])
        ).rows.map((r) => [r.id, r.body]),
      );
      yield rows.map((r) => ({
        seq: Number(r.seq),
        op: r.op,
        eventId: Number(r.event_id),
        bodyHash: r.body_hash,
        hash: r.hash,
        body: r.latest ? bodies.get(r.event_id) : undefined,
        day: r.op === OP_DROP ? r.day : undefined,
      }));
    }
  }
}
