// Tamper evidence over the PostgreSQL store (its chain is kept by src/store/postgres/chain.ts): signed checkpoints,
// verification and export, each on a connection of its own. Verify and export read one snapshot (REPEATABLE READ)
// while collectors keep appending; they stream the chain through server-side cursors, in constant memory.
import pg from 'pg';
import { checkSchemaName, ident } from '../store/postgres/migrations.ts';
import { DropDigest, OP_DELETE, OP_DROP, OP_GENESIS, OP_INSERT, OP_REPLACE, ZERO_HASH } from './chain.ts';
import {
  type Checkpoint,
  checkpointBefore,
  checkpointSignatureValid,
  rowToCheckpoint,
  signCheckpoint,
} from './checkpoint.ts';
import { exportLines } from './export.ts';
import type { SigningKey } from './keys.ts';
import {
  type ChainEntry,
  ChainWalker,
  EventCheck,
  report,
  type VerifyReport,
  type VerifyStoreOptions,
} from './verify.ts';

/** A PostgreSQL store: its database and schema. */
export interface PostgresTarget {
  url: string;
  /** Default `vigil`. */
  schema?: string;
}

const PAGE = 10_000;
/** Rows of the event pass fetched per round trip (they carry the events' JSON). */
const EVENT_PAGE = 2_000;
const OPS_OF_EVENTS = `(${OP_INSERT}, ${OP_REPLACE}, ${OP_DELETE})`;

async function connect(t: PostgresTarget, what: string): Promise<pg.Client> {
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

async function inTransaction<T>(c: pg.ClientBase, mode: string, fn: () => Promise<T>): Promise<T> {
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

/**
 * Writes a checkpoint over the chain head. With `force` false nothing is written when the chain has not grown
 * since the last checkpoint; `freshMs` also skips a forced one when a checkpoint covering the head is younger than
 * that (another collector of the store just wrote it). Collectors write one at a time (an advisory lock), so the
 * numbering has no duplicates. Returns the checkpoint written, or undefined.
 */
export async function writeCheckpointPostgres(
  t: PostgresTarget,
  key: SigningKey,
  o: { now?: number; force?: boolean; freshMs?: number } = {},
): Promise<Checkpoint | undefined> {
  const c = await connect(t, 'checkpoint');
  try {
    return await checkpointPostgres(c, t.schema ?? 'vigil', key, o);
  } finally {
    await c.end().catch(() => {});
  }
}

/** `writeCheckpointPostgres` on a connection whose search_path is the store's `schema` (no transaction open). */
export async function checkpointPostgres(
  c: pg.ClientBase,
  schema: string,
  key: SigningKey,
  o: { now?: number; force?: boolean; freshMs?: number } = {},
): Promise<Checkpoint | undefined> {
  return inTransaction(c, '', async () => {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${schema}:checkpoints`]);
    // The head row changes with the chain in one transaction: its last committed version is a consistent
    // (seq, hash, count) without locking the appends out.
    const head = (
      await c.query<{ seq: string; hash: Buffer; count: string }>('SELECT seq, hash, count FROM chain_head')
    ).rows[0]!;
    const last = (
      await c.query<{ seq: number; last_seq: string; at: string }>(
        'SELECT seq, last_seq, at FROM checkpoints ORDER BY seq DESC LIMIT 1',
      )
    ).rows[0];
    const now = o.now ?? Date.now();
    if (
      last &&
      Number(last.last_seq) === Number(head.seq) &&
      (!o.force || (o.freshMs !== undefined && Number(last.at) > now - o.freshMs))
    )
      return undefined;
    const cp = signCheckpoint(
      {
        seq: (last?.seq ?? 0) + 1,
        at: now,
        lastSeq: Number(head.seq),
        count: Number(head.count),
        head: head.hash,
        keyId: key.keyId,
      },
      key,
    );
    await c.query(
      'INSERT INTO checkpoints (seq, at, last_seq, count, head, signature, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [cp.seq, cp.at, cp.lastSeq, cp.count, cp.head, cp.signature, cp.keyId],
    );
    return cp;
  });
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

interface Start {
  checkpoints: Checkpoint[];
  genesisId: number;
  anchor: { seq: number; hash: Buffer; count: number; genesisId: number };
  /** Whether the anchor stands in for a prefix retention cut (then some drops' events went with it). */
  pruned: boolean;
  /** First event id concerned (0: all). */
  firstId: number;
}

/**
 * Checkpoints, genesis and where to start: the genesis; where retention cut the chain's prefix (`cutChain` in
 * src/store/postgres/chain.ts: the blocks after the genesis one, up to a checkpoint), the signed checkpoint it was
 * cut at; with `since`, the last signed checkpoint before the first event from then on, if later.
 */
async function start(c: pg.Client, o: VerifyStoreOptions): Promise<Start> {
  const checkpoints = (await c.query('SELECT * FROM checkpoints ORDER BY seq')).rows.map(rowToCheckpoint);
  const g = (
    await c.query<{ op: number; event_id: string; after: string | null }>(
      `SELECT b.ops[1] AS op, b.event_ids[1] AS event_id, (SELECT min(seq) FROM chain_blocks WHERE seq > 1) AS after
       FROM (SELECT 1) one LEFT JOIN chain_blocks b ON b.seq = 1`,
    )
  ).rows[0]!;
  const genesisId = g.op === OP_GENESIS ? Number(g.event_id) : 0;
  let anchor = { seq: 0, hash: ZERO_HASH as Buffer, count: 0, genesisId: 0 };
  // entries missing between the genesis and the first block: a cut, if a valid checkpoint stands right before them
  // (else the walk reports them missing)
  const cutAt = g.after === null ? 0 : Number(g.after) - 1;
  const cut =
    cutAt > 1 ? checkpoints.find((cp) => cp.lastSeq === cutAt && checkpointSignatureValid(cp, o.publicKey)) : undefined;
  if (cut) anchor = { seq: cut.lastSeq, hash: cut.head, count: cut.count, genesisId };
  const pruned = cut !== undefined;
  let firstId = 0;
  if (o.since !== undefined) {
    const first = (
      await c.query<{ id: string }>('SELECT id FROM events WHERE received >= $1 ORDER BY received, id LIMIT 1', [
        Math.ceil(o.since) * 1000,
      ])
    ).rows[0];
    firstId = first ? Number(first.id) : Number.MAX_SAFE_INTEGER;
    const from = first
      ? (
          await c.query<{ s: string | null }>(
            `SELECT min(seq) AS s FROM chain_log WHERE event_id >= $1 AND op IN ${OPS_OF_EVENTS}`,
            [first.id],
          )
        ).rows[0]!.s
      : (await c.query<{ s: string }>('SELECT seq AS s FROM chain_head')).rows[0]!.s;
    const cp = checkpointBefore(checkpoints, Number(from ?? 0), o.publicKey);
    if (cp && cp.lastSeq > anchor.seq) anchor = { seq: cp.lastSeq, hash: cp.head, count: cp.count, genesisId };
  }
  return { checkpoints, genesisId, anchor, pruned, firstId };
}

const BLOCK_PAGE = 500;

/**
 * The chain entries after `afterSeq`, in order, unpacked from their blocks (read by primary key, a page at a time).
 * A block whose arrays do not line up is reported to `walker` and skipped: its entries then show as missing.
 */
async function* entries(
  c: pg.Client,
  afterSeq: number,
  walker: ChainWalker,
): AsyncGenerator<ChainEntry & { day: number }> {
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
    for (const b of rows) {
      const first = Number(b.seq);
      const n = b.ops.length;
      if (
        b.event_ids.length !== n ||
        b.days.length !== n ||
        b.body_hashes.length !== 32 * n ||
        b.hashes.length !== 32 * n
      ) {
        walker.add({ kind: 'changed', seq: first, detail: `the chain block of entries from ${first} is malformed` });
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (first + i <= afterSeq) continue;
        yield {
          seq: first + i,
          op: b.ops[i]!,
          eventId: Number(b.event_ids[i]),
          day: b.days[i]!,
          bodyHash: b.body_hashes.subarray(32 * i, 32 * i + 32),
          hash: b.hashes.subarray(32 * i, 32 * i + 32),
        };
      }
    }
    if (rows.length < BLOCK_PAGE) return;
    from = Number(rows[rows.length - 1]!.seq);
    inclusive = false;
  }
}

interface Drop {
  seq: number;
  count: number;
  expected: Buffer;
  digest: DropDigest;
}

/** Verifies the PostgreSQL store (read-only, one snapshot): the same checks as verifySqlite, plus partition drops. */
export async function verifyPostgres(t: PostgresTarget, o: VerifyStoreOptions): Promise<VerifyReport> {
  const c = await connect(t, 'verify');
  try {
    return await inTransaction(c, 'ISOLATION LEVEL REPEATABLE READ READ ONLY', async () => {
      const { checkpoints, genesisId, anchor, pruned, firstId } = await start(c, o);
      const walker = new ChainWalker(anchor, checkpoints, o.publicKey);
      if (checkpoints.length > 0 && checkpoints[0]!.seq !== 1)
        walker.add({ kind: 'bad-checkpoint', detail: `checkpoints 1..${checkpoints[0]!.seq - 1} are missing` });
      // Drops by day, in chain order: an event of that day whose latest entry precedes a drop went with it. (A partial
      // walk needs none before its anchor: the anchor precedes every entry of the events it checks.)
      const drops = new Map<number, Drop[]>();
      for await (const e of entries(c, anchor.seq, walker)) {
        walker.entry(e);
        if (e.op === OP_DROP) {
          const list = drops.get(e.day) ?? [];
          list.push({ seq: e.seq, count: e.eventId, expected: e.bodyHash, digest: new DropDigest(e.day) });
          drops.set(e.day, list);
        }
      }
      const { unsigned, checkpoints: cpCount } = walker.finish();
      const add = walker.add.bind(walker);

      // Every chained event against its latest entry, in id order (so that the drops' digests are fed in order).
      const minId = Math.max(genesisId + 1, firstId);
      const check = new EventCheck(add);
      const events = cursor<{
        id: string;
        seq: string;
        op: number;
        day: number;
        body_hash: Buffer;
        stored: boolean;
        body: string | null;
      }>(
        c,
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
        for (const r of rows) {
          const id = Number(r.id);
          const seq = Number(r.seq);
          if (r.op === OP_DELETE) {
            check.gone(id, seq, r.stored);
            continue;
          }
          const drop = drops.get(r.day)?.find((d) => d.seq > seq);
          if (drop) {
            drop.digest.add(id);
            check.gone(id, seq, r.stored, `dropped with its day's partition (chain entry ${drop.seq})`);
          } else check.live(id, seq, r.body_hash, r.stored ? r.body : null);
        }
      check.finish();
      // The chain's count against the events its entries vouch for: an event removed together with every entry of it
      // (possible only where a checkpoint stands in for the chain's prefix) still counts in the checkpoint.
      if (o.since === undefined && walker.count !== check.vouched)
        add({
          kind: 'removed',
          detail: `the chain counts ${walker.count} stored events, its entries vouch for ${check.vouched}`,
        });
      // A drop vouches for the ids its partition held; the chain must say the same (not in a partial walk: it does
      // not see every event a drop took). Where the prefix was cut, the entries of a drop's earlier events may have
      // gone with it: such a drop, holding fewer events in the walk than it counts, is checked by the count above.
      if (o.since === undefined)
        for (const [day, list] of drops)
          for (const d of list)
            if (pruned && d.digest.count < d.count) continue;
            else if (d.digest.count !== d.count || !d.digest.digest().equals(d.expected))
              add({
                kind: 'changed',
                seq: d.seq,
                detail:
                  `chain entry ${d.seq} drops ${d.count} events of day ${new Date(day * 86_400_000).toISOString().slice(0, 10)}, ` +
                  `the chain holds ${d.digest.count} other or different ones for it (an event removed, or an entry's day changed)`,
              });

      // Stored events no chain entry vouches for.
      const strays = (
        await c.query<{ id: string }>(
          `SELECT e.id FROM events e WHERE e.id >= $1
             AND NOT EXISTS (SELECT 1 FROM chain_log l WHERE l.event_id = e.id AND l.op IN ${OPS_OF_EVENTS})
           ORDER BY e.id LIMIT 1000`,
          [minId],
        )
      ).rows;
      for (const s of strays)
        add({ kind: 'inserted', eventId: Number(s.id), detail: `event ${s.id} is stored but not in the chain` });
      const unchained =
        o.since === undefined
          ? Number(
              (await c.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE id <= $1', [genesisId])).rows[0]!.n,
            )
          : 0;
      return report(walker.breaks, {
        entries: walker.entries,
        events: check.events,
        checkpoints: cpCount,
        unchained,
        unsigned,
      });
    });
  } finally {
    await c.end().catch(() => {});
  }
}

/** Writes the export of the PostgreSQL store line by line through `write` (format: export.ts); returns the entries. */
export async function exportPostgres(
  t: PostgresTarget,
  o: VerifyStoreOptions,
  write: (line: string) => void,
): Promise<number> {
  const c = await connect(t, 'export');
  try {
    return await inTransaction(c, 'ISOLATION LEVEL REPEATABLE READ READ ONLY', async () => {
      const { checkpoints, genesisId, anchor } = await start(c, o);
      const out = exportLines(o.publicKey, { ...anchor, genesisId }, write);
      // The latest entry of each event carries its stored JSON.
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
        [anchor.seq],
        PAGE,
      );
      for await (const rows of entries) {
        const ids = rows.filter((r) => r.latest).map((r) => r.event_id);
        const bodies = new Map(
          (
            await c.query<{ id: string; body: string }>('SELECT id, body FROM events WHERE id = ANY($1::bigint[])', [
              ids,
            ])
          ).rows.map((r) => [r.id, r.body]),
        );
        for (const r of rows)
          out.entry({
            seq: Number(r.seq),
            op: r.op,
            eventId: Number(r.event_id),
            bodyHash: r.body_hash,
            hash: r.hash,
            body: r.latest ? bodies.get(r.event_id) : undefined,
            day: r.op === OP_DROP ? r.day : undefined,
          });
      }
      out.checkpoints(checkpoints);
      return out.entries;
    });
  } finally {
    await c.end().catch(() => {});
  }
}
