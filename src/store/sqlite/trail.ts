// The SQLite store's trail as verify and export read it (src/integrity/trail.ts): `chain_log`, `checkpoints` and the
// events, read-only and in one snapshot (one read transaction from open to close), a page at a time.
import { DatabaseSync } from 'node:sqlite';
import { OP_DELETE, OP_GENESIS } from '../../integrity/chain.ts';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { LatestEntry, TrailEntry, TrailReader } from '../../integrity/trail.ts';
import { rowToCheckpoint } from '../rows.ts';
import { BodyReader } from './bodies.ts';

const PAGE = 10_000;

/** Opens the store at `dbPath` read-only for a verify or an export; close() ends the snapshot. */
export function openSqliteTrail(dbPath: string): TrailReader & { close(): void } {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    db.exec('BEGIN'); // one snapshot for the whole walk
    const hasChain = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'chain_log'`).get();
    if (!hasChain) throw new Error(`${dbPath}: no hash chain in this store (open it with this Vigil to upgrade it)`);
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteTrail(db, dbPath);
}

function entry(r: Record<string, unknown>): TrailEntry {
  return {
    seq: Number(r.seq),
    op: Number(r.op),
    eventId: Number(r.event_id),
    bodyHash: Buffer.from(r.body_hash as Uint8Array),
    hash: Buffer.from(r.hash as Uint8Array),
  };
}

class SqliteTrail implements TrailReader {
  readonly #db: DatabaseSync;
  readonly #bodies: BodyReader;
  /** `e.block`, or NULL in a store before schema 6 (read-only here: not upgraded, every body a plain row). */
  readonly #block: string;
  readonly name: string;

  constructor(db: DatabaseSync, name: string) {
    this.#db = db;
    this.#bodies = new BodyReader(db);
    const columns = db.prepare(`SELECT name FROM pragma_table_info('events')`).all() as { name: string }[];
    this.#block = columns.some((c) => c.name === 'block') ? 'e.block' : 'NULL';
    this.name = name;
  }

  /** Ends the snapshot (read-only: nothing to commit that could fail the walk). */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const rows = this.#db.prepare('SELECT * FROM checkpoints ORDER BY seq').all() as Record<string, unknown>[];
    return rows.map(rowToCheckpoint);
  }

  async first(): Promise<{ op: number; eventId: number } | undefined> {
    const g = this.#db.prepare('SELECT op, event_id FROM chain_log WHERE seq = 1').get() as
      | { op: number; event_id: number }
      | undefined;
    return g && { op: Number(g.op), eventId: Number(g.event_id) };
  }

  /**
   * Retention cuts the chain's prefix at a signed checkpoint (`#pruneChain` in ./writer.ts): the entry before the
   * first one left; with none left, the newest checkpoint's (the chain was cut at its head).
   */
  async cutAt(checkpoints: Checkpoint[]): Promise<number> {
    const first = (this.#db.prepare('SELECT min(seq) AS s FROM chain_log').get() as { s: number | null }).s;
    const at = first === null ? Math.max(0, ...checkpoints.map((c) => c.lastSeq)) : first - 1;
    return Math.max(0, at);
  }

  async since(receivedUs: number): Promise<{ firstId: number; fromSeq: number }> {
    const db = this.#db;
    const first = db
      .prepare('SELECT id FROM events WHERE received >= ? ORDER BY received, id LIMIT 1')
      .get(receivedUs) as { id: number } | undefined;
    const from = first
      ? (db.prepare('SELECT min(seq) AS s FROM chain_log WHERE event_id >= ?').get(first.id) as { s: number | null }).s
      : (db.prepare('SELECT max(seq) AS s FROM chain_log').get() as { s: number | null }).s;
    return { firstId: first?.id ?? Number.MAX_SAFE_INTEGER, fromSeq: from ?? 0 };
  }

  async *entries(afterSeq: number): AsyncGenerator<TrailEntry[]> {
    const page = this.#db.prepare(
      'SELECT seq, op, event_id, body_hash, hash FROM chain_log WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    for (let after = afterSeq; ; ) {
      const rows = page.all(after, PAGE) as Record<string, unknown>[];
      yield rows.map(entry);
      if (rows.length < PAGE) return;
      after = Number(rows[rows.length - 1]!.seq);
    }
  }

  /** Keyset pages over (event id, seq): each event's rows arrive together, its last one being its latest entry. */
  async *latest(minId: number): AsyncGenerator<LatestEntry[]> {
    const page = this.#db.prepare(
      `SELECT c.event_id AS id, c.seq, c.op, c.body_hash, b.body, e.id IS NOT NULL AS row, ${this.#block} AS block
       FROM chain_log c LEFT JOIN event_bodies b ON b.id = c.event_id LEFT JOIN events e ON e.id = c.event_id
       WHERE c.op <> ${OP_GENESIS} AND (c.event_id, c.seq) > (?, ?) AND c.event_id >= ?
       ORDER BY c.event_id, c.seq LIMIT ?`,
    );
    const latest = (r: Record<string, unknown>): LatestEntry => ({
      id: Number(r.id),
      seq: Number(r.seq),
      op: Number(r.op),
      bodyHash: Buffer.from(r.body_hash as Uint8Array),
      body: this.#body(r),
      row: Boolean(r.row),
    });
    let cur: Record<string, unknown> | undefined;
    let lastId = 0;
    let lastSeq = 0;
    for (;;) {
      const rows = page.all(lastId, lastSeq, minId, PAGE) as Record<string, unknown>[];
      const out: LatestEntry[] = [];
      for (const r of rows) {
        if (cur && Number(cur.id) !== Number(r.id)) out.push(latest(cur));
        cur = r;
      }
      if (rows.length < PAGE) {
        if (cur) out.push(latest(cur));
        yield out;
        return;
      }
      yield out;
      lastId = Number(cur!.id);
      lastSeq = Number(cur!.seq);
    }
  }

  /** A row's body: its plain row, or from the block its event names (the bytes the chain hashed either way). */
  #body(r: Record<string, unknown>): string | null {
    if (typeof r.body === 'string') return r.body;
    return typeof r.block === 'number' ? (this.#bodies.fromBlock(r.block, Number(r.id ?? r.event_id)) ?? null) : null;
  }

  async strays(minId: number, limit: number): Promise<number[]> {
    const rows = this.#db
      .prepare(
        `SELECT id FROM (SELECT id FROM event_bodies WHERE id >= ? UNION SELECT id FROM events WHERE id >= ?) s
         WHERE NOT EXISTS (SELECT 1 FROM chain_log c WHERE c.event_id = s.id AND c.op <> ${OP_GENESIS})
         ORDER BY id LIMIT ${limit}`,
      )
      .all(minId, minId) as { id: number }[];
    return rows.map((r) => r.id);
  }

  async unchained(genesisId: number): Promise<number> {
    return (this.#db.prepare('SELECT count(*) AS n FROM event_bodies WHERE id <= ?').get(genesisId) as { n: number }).n;
  }

  async *exported(afterSeq: number): AsyncGenerator<(TrailEntry & { body?: string })[]> {
    const page = this.#db.prepare(
      `SELECT c.seq, c.op, c.event_id, c.body_hash, c.hash,
         CASE WHEN c.op NOT IN (${OP_GENESIS}, ${OP_DELETE})
               AND c.seq = (SELECT max(seq) FROM chain_log l WHERE l.event_id = c.event_id)
              THEN (SELECT body FROM event_bodies b WHERE b.id = c.event_id) END AS body,
         CASE WHEN c.op NOT IN (${OP_GENESIS}, ${OP_DELETE})
               AND c.seq = (SELECT max(seq) FROM chain_log l WHERE l.event_id = c.event_id)
              THEN (SELECT ${this.#block} FROM events e WHERE e.id = c.event_id) END AS block
       FROM chain_log c WHERE c.seq > ? ORDER BY c.seq LIMIT ?`,
    );
    for (let after = afterSeq; ; ) {
      const rows = page.all(after, PAGE) as Record<string, unknown>[];
      yield rows.map((r) => {
        const body = this.#body(r);
        return body === null ? entry(r) : { ...entry(r), body };
      });
      if (rows.length < PAGE) return;
      after = Number(rows[rows.length - 1]!.seq);
    }
  }
}
