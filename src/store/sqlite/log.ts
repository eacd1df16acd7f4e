// The SQLite store's append log for forwarding: `chain_log` read in order (one writer, so its order is the commit
// order), and the cursors in `forward_cursors`. Reads run on the query connection; cursors are saved by the writer
// (`saveCursor`, on its thread) so that the query connection never takes the write lock on the event loop.
import type { StatementSync } from 'node:sqlite';
import { OP_INSERT, OP_REPLACE } from '../../integrity/chain.ts';
import { withId } from '../rows.ts';
import type { ForwardCursor, LogEntry, LogRead } from '../types.ts';

/** A connection, or the query connection's statement cache (./reader.ts). */
interface Db {
  prepare(sql: string): StatementSync;
}

export function readLog(db: Db, after: number | undefined, limit: number): LogRead {
  // two subqueries: SQLite answers a lone min() or max() from the primary key's ends, both in one SELECT by a scan
  const bounds = db
    .prepare('SELECT (SELECT min(seq) FROM chain_log) AS lo, (SELECT max(seq) FROM chain_log) AS hi')
    .get() as {
    lo: number | null;
    hi: number | null;
  };
  const head = bounds.hi ?? 0;
  const from = after ?? Math.max(0, (bounds.lo ?? 1) - 1);
  const rows = db
    .prepare(
      `SELECT c.seq, c.op, c.event_id, b.body FROM chain_log c LEFT JOIN event_bodies b
       ON b.id = c.event_id AND c.op IN (${OP_INSERT}, ${OP_REPLACE})
       WHERE c.seq > ? ORDER BY c.seq LIMIT ?`,
    )
    .all(from, limit) as { seq: number; op: number; event_id: number; body: string | null }[];
  const entries: LogEntry[] = [];
  for (const r of rows) {
    if (r.op !== OP_INSERT && r.op !== OP_REPLACE) continue;
    const entry: LogEntry =
      r.body === null ? { position: r.seq } : { position: r.seq, event: withId(r.event_id, r.body) };
    if (r.op === OP_REPLACE) entry.replaced = true;
    entries.push(entry);
  }
  const first = rows[0]?.seq;
  return {
    entries,
    upTo: rows[rows.length - 1]?.seq ?? from,
    skipped: first === undefined ? 0 : Math.max(0, first - from - 1),
    head,
  };
}

export function logPositionAt(db: Db, time: number): number {
  const first = db.prepare('SELECT min(id) AS id FROM events WHERE received >= ?').get(Math.ceil(time) * 1000) as {
    id: number | null;
  };
  if (first.id === null) return (db.prepare('SELECT max(seq) AS seq FROM chain_log').get() as { seq: number }).seq ?? 0;
  // inserts are chained in id order: the first event's insert entry starts the replay
  const seq = db
    .prepare(`SELECT min(seq) AS seq FROM chain_log WHERE event_id = ? AND op = ${OP_INSERT}`)
    .get(first.id) as { seq: number | null };
  return Math.max(0, (seq.seq ?? 1) - 1);
}

export function forwardCursors(db: Db): ForwardCursor[] {
  return db
    .prepare('SELECT name, position, updated FROM forward_cursors ORDER BY name')
    .all() as unknown as ForwardCursor[];
}

/** On the write connection (see the module's comment). */
export function saveCursor(db: Db, name: string, position: number, expected?: number | null): boolean {
  const now = Date.now();
  if (expected === undefined)
    return (
      db
        .prepare(
          `INSERT INTO forward_cursors (name, position, updated) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated = excluded.updated`,
        )
        .run(name, position, now).changes > 0
    );
  if (expected === null)
    return (
      db
        .prepare('INSERT INTO forward_cursors (name, position, updated) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING')
        .run(name, position, now).changes > 0
    );
  return (
    db
      .prepare('UPDATE forward_cursors SET position = ?, updated = ? WHERE name = ? AND position = ?')
      .run(position, now, name, expected).changes > 0
  );
}
