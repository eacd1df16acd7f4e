// The PostgreSQL store's append log for forwarding: the hash chain's blocks in `seq` order. Several collectors
// append concurrently and their event ids commit out of order, but a block is written under the chain head's row
// lock and committed in the same message, so a block is visible only once every earlier one is: reading blocks
// after a position never skips one that commits later. Cursors live in `forward_cursors`.
import { OP_INSERT, OP_REPLACE } from '../../integrity/chain.ts';
import { withId } from '../rows.ts';
import type { ForwardCursor, LogEntry, LogRead, StoredEvent } from '../types.ts';
import type { Db } from './pool.ts';

export async function readLog(db: Db, after: number | undefined, limit: number): Promise<LogRead> {
  const head = Number((await db.read<{ seq: string }>('SELECT seq FROM chain_head')).rows[0]?.seq ?? 0);
  // the genesis block (seq 1) is kept when the chain is pruned: the log starts at the block after it
  const from =
    after ??
    Number(
      (await db.read<{ s: string }>('SELECT coalesce(min(seq), 2) - 1 AS s FROM chain_blocks WHERE seq > 1')).rows[0]!
        .s,
    );
  // the block holding the entry after `from`, and the ones after it: at most `limit` blocks of at least one entry
  const blocks = await db.read<{ seq: string; ops: number[]; event_ids: string[] }>(
    `SELECT seq, ops, event_ids FROM chain_blocks
     WHERE seq >= coalesce((SELECT max(seq) FROM chain_blocks WHERE seq <= $1::bigint + 1), 0)
     ORDER BY seq LIMIT $2`,
    [from, limit],
  );
  const read: { position: number; op: number; id: string }[] = [];
  for (const b of blocks.rows) {
    const seq = Number(b.seq);
    for (let i = 0; i < b.ops.length && read.length < limit; i++)
      if (seq + i > from) read.push({ position: seq + i, op: b.ops[i]!, id: b.event_ids[i]! });
  }
  const wanted = read.filter((r) => r.op === OP_INSERT || r.op === OP_REPLACE);
  const bodies = new Map<string, string>();
  if (wanted.length > 0) {
    const r = await db.read<{ id: string; body: string }>('SELECT id, body FROM events WHERE id = ANY($1::bigint[])', [
      wanted.map((w) => w.id),
    ]);
    for (const row of r.rows) bodies.set(String(row.id), row.body);
  }
  const entries: LogEntry[] = wanted.map((w) => {
    const body = bodies.get(w.id);
    const event: StoredEvent | undefined = body === undefined ? undefined : withId(w.id, body);
    const entry: LogEntry = event ? { position: w.position, event } : { position: w.position };
    if (w.op === OP_REPLACE) entry.replaced = true;
    return entry;
  });
  const first = read[0]?.position;
  return {
    entries,
    upTo: read[read.length - 1]?.position ?? from,
    skipped: first === undefined ? 0 : Math.max(0, first - from - 1),
    head,
  };
}

export async function logPositionAt(db: Db, time: number): Promise<number> {
  const first = await db.read<{ id: string | null }>('SELECT min(id) AS id FROM events WHERE received >= $1', [
    Math.ceil(time) * 1000,
  ]);
  const id = first.rows[0]?.id;
  if (id === null || id === undefined)
    return Number((await db.read<{ seq: string }>('SELECT seq FROM chain_head')).rows[0]?.seq ?? 0);
  // ids commit out of order across collectors: the earliest block inserting that id or a later one
  const r = await db.read<{ seq: string | null }>(
    `SELECT min(b.seq + i - 1) AS seq FROM chain_blocks b CROSS JOIN LATERAL generate_subscripts(b.ops, 1) AS i
     WHERE b.ops[i] = ${OP_INSERT} AND b.event_ids[i] >= $1::bigint AND $1::bigint <= ANY (b.event_ids)`,
    [id],
  );
  return Math.max(0, Number(r.rows[0]?.seq ?? 1) - 1);
}

export async function forwardCursors(db: Db): Promise<ForwardCursor[]> {
  const r = await db.read<{ name: string; position: string; updated: string }>(
    'SELECT name, position, updated FROM forward_cursors ORDER BY name',
  );
  return r.rows.map((x) => ({ name: x.name, position: Number(x.position), updated: Number(x.updated) }));
}

export async function saveCursor(db: Db, name: string, position: number, expected?: number | null): Promise<boolean> {
  const now = Date.now();
  const sql =
    expected === undefined
      ? `INSERT INTO forward_cursors (name, position, updated) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated = EXCLUDED.updated`
      : expected === null
        ? 'INSERT INTO forward_cursors (name, position, updated) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING'
        : 'UPDATE forward_cursors SET position = $2, updated = $3 WHERE name = $1 AND position = $4';
  const values = expected === undefined || expected === null ? [name, position, now] : [name, position, now, expected];
  const r = await db.pool.query(sql, values);
  return (r.rowCount ?? 0) > 0;
}
