// Appends to the PostgreSQL store: one transaction per batch that stores the new dictionary values, the events (one
// INSERT … unnest statement, or for collapsed CADF stages one event at a time), their ids for the answer, the NOTIFY
// of live tail, and the chain step sent with the COMMIT.
import type pg from 'pg';
import type { AuditEvent } from '../../event/model.ts';
import { bodyHash, DAY_US, OP_INSERT, OP_REPLACE } from '../../integrity/chain.ts';
import { bodyOf } from '../rows.ts';
import { QueryError, receivedMicros, stageRank, toMicros } from '../semantics.ts';
import type { AppendOptions, AppendResult } from '../types.ts';
import { type ChainOp, chainStepSql, dayOf } from './chain.ts';
import { AS_GIVEN, COLUMNS, FIELD_COLUMNS, SEARCH_FIELDS, str } from './columns.ts';
import { type Db, unavailable } from './pool.ts';
import { INSERT_TERMS_SQL, type KnownTerms, TERMS_SEEN_MS } from './terms.ts';

const MINUTE_US = 60_000_000;
/** Counter rows per minute in `event_minutes` (see the migration). */
const MINUTE_SHARDS = 16;
/** NOTIFY payloads are limited to 8000 bytes: ids are sent in chunks below that. */
const NOTIFY_CHUNK = 7_000;

/** What an append needs of its store. */
export interface Appender {
  db: Db;
  known: KnownTerms;
  /** Live tail: the NOTIFY channel, and this instance's name in it (its own appends it emits itself). */
  channel: string;
  instance: string;
  /** Events with ids up to this one were stored before the hash chain existed. */
  genesis: number;
}

type Item = { e: AuditEvent; received: number };

/** A batch's column values, one array per COLUMNS entry. */
class Rows {
  readonly columns: unknown[][] = COLUMNS.map(() => []);
  /** The stored JSON of each event. */
  readonly bodies: string[] = this.columns[COLUMNS.length - 1] as string[];

  add(e: AuditEvent, received: number): void {
    const cols = this.columns;
    let i = 0;
    for (const c of FIELD_COLUMNS) {
      const v = c.spec.get(e);
      if (c.type === 'list') cols[i++]!.push(JSON.stringify(((v as unknown[] | undefined) ?? []).map(str)));
      else if (c.type === 'int') cols[i++]!.push(typeof v === 'number' && Number.isInteger(v) ? v : null);
      else cols[i++]!.push(AS_GIVEN.has(c.spec.name) ? v : str(v));
    }
    cols[i++]!.push(received);
    // free text over what has no dictionary: the dictionary fields are looked up in `terms`
    cols[i++]!.push(SEARCH_FIELDS.map((f) => str(f.get(e))).join('\n'));
    cols[i]!.push(bodyOf(e));
  }

  /**
   * INSERT_SQL's parameters. The lists and the bodies go as JSON arrays of the JSON texts they already are, joined:
   * pg escapes every element of a text[] with two regular-expression passes, which over the bodies' quotes cost a
   * collector as much as parsing the request did. `json_array_elements` hands each element back as its text, byte
   * for byte and without unescaping (a body may hold `\u0000`, which text cannot), so the stored body is the one
   * hashed into the chain.
   */
  insertParams(): unknown[] {
    return COLUMNS.map((c, i) =>
      c.type === 'list' || c.type === 'body' ? `[${this.columns[i]!.join(',')}]` : this.columns[i],
    );
  }

  /** UPDATE_SQL's parameters after the id and received time: row `n`'s values. */
  rowParams(n: number): unknown[] {
    return this.columns.map((values) => values[n]);
  }
}

/**
 * How far apart (µs) the received times of a repeated (auditID, stage) may be for it to be found: the lookup before
 * an insert reads the partitions of that window only (a day each way: the event's day and its neighbours), not every
 * day retention keeps. See docs/scaling.md, "Idempotency".
 */
export const REPEAT_WINDOW_US = DAY_US;

/** The key that finds an appended event's stored row: (auditID, stage), or collapsing, (auditID, received, source). */
function callKey(e: AuditEvent, collapse: boolean): string {
  return collapse
    ? `${e.auditID}\u0000${toMicros(e.requestReceivedTimestamp)}\u0000${str(e.source)}`
    : `${e.auditID}\u0000${e.stage}`;
}

const COLUMN_NAMES = COLUMNS.map((c) => c.name).join(', ');

// One statement per batch: ids drawn in batch order (so ties on received sort in arrival order), rows inserted in
// key order (so two writers with overlapping batches wait on each other's keys in one order and cannot deadlock),
// and the ids of the rows that were new returned with their position in the batch.
const INSERT_SQL = `
WITH input AS (
  SELECT * FROM ROWS FROM (${COLUMNS.map((c, i) =>
    c.type === 'list' || c.type === 'body' ? `json_array_elements($${i + 1}::json)` : `unnest($${i + 1}::${c.type}[])`,
  ).join(', ')})
    WITH ORDINALITY AS t(${COLUMN_NAMES}, ord)
),
numbered AS (
  SELECT o.ord, nextval('event_ids') AS id FROM (SELECT ord FROM input ORDER BY ord OFFSET 0) o
),
ins AS (
  INSERT INTO events (id, ${COLUMN_NAMES})
  SELECT n.id, ${COLUMNS.map((c) =>
    c.type === 'list'
      ? `ARRAY(SELECT json_array_elements_text(i.${c.name}))`
      : c.type === 'body'
        ? `i.${c.name}::text`
        : `i.${c.name}`,
  ).join(', ')}
  FROM input i JOIN numbered n USING (ord)
  WHERE NOT EXISTS (
    SELECT 1 FROM events o WHERE o.audit_id = i.audit_id AND o.stage = i.stage
      AND o.received BETWEEN i.received - ${REPEAT_WINDOW_US} AND i.received + ${REPEAT_WINDOW_US})
  ORDER BY i.audit_id, i.stage, i.received
  ON CONFLICT (audit_id, stage, received) DO NOTHING
  RETURNING id
),
roll AS (
  INSERT INTO event_minutes AS m (minute, shard, n)
  SELECT div(i.received, ${MINUTE_US}), $${COLUMNS.length + 1}::smallint, count(*)
  FROM ins JOIN numbered n USING (id) JOIN input i USING (ord)
  GROUP BY 1 ORDER BY 1
  ON CONFLICT (minute, shard) DO UPDATE SET n = m.n + EXCLUDED.n
)
SELECT n.id, n.ord FROM ins JOIN numbered n USING (id) ORDER BY n.ord`;

/** Replaces a stored event in place ($1 its id, $2 its received time, then Rows.rowParams). */
const UPDATE_SQL = `
UPDATE events SET ${COLUMNS.map(
  (c, i) =>
    `${c.name} = ${c.type === 'list' ? `ARRAY(SELECT json_array_elements_text($${i + 3}::json))` : `$${i + 3}`}`,
).join(', ')}
WHERE id = $1 AND received = $2`;

/**
 * Stores a batch in one transaction; the result for the caller, and the events stored now with their ids (for live
 * tail). A bad event fails the whole batch before anything is sent.
 */
export async function appendBatch(
  a: Appender,
  events: AuditEvent[],
  opts: AppendOptions,
): Promise<{ result: AppendResult; stored: { id: string; e: AuditEvent }[] }> {
  const collapse = opts.collapseStages === true;
  const { batch, keys } = checkBatch(events, collapse);
  const ids = new Map<string, string>();
  const now = Date.now();
  const fresh = a.known.fresh(
    batch.map((b) => b.e),
    now,
  );
  const stored = await a.db
    .tx(async (c, atCommit) => {
      if (opts.batchKey !== undefined) {
        // every key of the delivery is recorded (sorted: writers lock keys in one order); any one seen before makes
        // it a duplicate
        const keys = [...new Set(typeof opts.batchKey === 'string' ? [opts.batchKey] : opts.batchKey)].sort();
        const r = await c.query(
          'INSERT INTO batches (key, stored) SELECT k, $2 FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING',
          [keys, Date.now()],
        );
        if ((r.rowCount ?? 0) < keys.length) {
          await storedIds(c, batch, collapse, ids);
          return [];
        }
      }
      // in one order in every collector, so that two inserting the same new values wait instead of deadlocking
      if (fresh.values.length > 0)
        await c.query(INSERT_TERMS_SQL, [fresh.fields, fresh.values, now, now - TERMS_SEEN_MS]);
      const chain: ChainOp[] = [];
      const out = collapse ? await appendCollapsing(c, a.db.schema, batch, chain) : await insert(c, batch, chain);
      for (const { id, e } of out) ids.set(callKey(e, collapse), id);
      if (out.length < batch.length) await storedIds(c, batch, collapse, ids);
      // delivered on commit, only if the transaction commits
      if (out.length > 0)
        await c.query('SELECT pg_notify($1, $2 || $3 || x) FROM unnest($4::text[]) AS x', [
          a.channel,
          a.instance,
          ' ',
          notifyChunks(out),
        ]);
      const step = chainStepSql(chain, a.genesis);
      if (step) atCommit(step);
      return out;
    })
    .catch((err) => {
      throw unavailable(err) ?? err;
    });
  a.known.remember(fresh);
  const result = {
    inserted: stored.length,
    duplicates: events.length - stored.length,
    ids: keys.map((k) => ids.get(k)),
  };
  return { result, stored };
}

/**
 * Validates the batch and drops its repeats (same call key), before touching the database: a bad event stores
 * nothing. `keys`: each event's call key, by position (the answer's ids are looked up by it).
 */
function checkBatch(events: AuditEvent[], collapse: boolean): { batch: Item[]; keys: string[] } {
  const seen = new Set<string>();
  const batch: Item[] = [];
  const keys: string[] = [];
  for (const e of events) {
    const received = receivedMicros(e);
    if (typeof e.auditID !== 'string' || typeof e.stage !== 'string')
      throw new QueryError('every event needs a string auditID and stage');
    if (e.auditID.includes('\u0000'))
      throw new QueryError(`event auditID ${JSON.stringify(e.auditID)} contains U+0000, which PostgreSQL cannot store`);
    const key = `${e.auditID}\u0000${e.stage}`;
    keys.push(collapse ? callKey(e, true) : key);
    if (seen.has(key)) continue;
    seen.add(key);
    batch.push({ e, received });
  }
  return { batch, keys };
}

/** The ids stored now, as comma-separated lists that each fit a NOTIFY payload. */
function notifyChunks(out: { id: string }[]): string[] {
  const chunks: string[] = [];
  let cur = '';
  for (const { id } of out) {
    if (cur.length + id.length + 1 > NOTIFY_CHUNK) {
      chunks.push(cur);
      cur = '';
    }
    cur = cur ? `${cur},${id}` : id;
  }
  chunks.push(cur);
  return chunks;
}

/**
 * The ids of the batch's events stored before (duplicates) that `ids` lacks, in one query by their call keys;
 * collapsing, by (auditID, received, source), the first row of the call.
 */
async function storedIds(c: pg.ClientBase, batch: Item[], collapse: boolean, ids: Map<string, string>): Promise<void> {
  const missing = batch.filter(({ e }) => !ids.has(callKey(e, collapse)));
  if (missing.length === 0) return;
  const a = missing.map(({ e }) => e.auditID);
  const r = missing.map(({ received }) => received);
  const rows = collapse
    ? await c.query<{ id: string; audit_id: string; received: string; source: string }>(
        `SELECT DISTINCT ON (e.audit_id, e.received, e.source) e.id, e.audit_id, e.received, e.source
         FROM events e JOIN unnest($1::text[], $2::bigint[], $3::text[]) AS k(audit_id, received, source)
           ON e.audit_id = k.audit_id AND e.received = k.received AND e.source = k.source
         ORDER BY e.audit_id, e.received, e.source, e.id`,
        [a, r, missing.map(({ e }) => str(e.source))],
      )
    : await c.query<{ id: string; audit_id: string; received: string; stage: string }>(
        `SELECT DISTINCT ON (e.audit_id, e.stage) e.id, e.audit_id, e.received, e.stage
         FROM events e JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS k(audit_id, stage, received)
           ON e.audit_id = k.audit_id AND e.stage = k.stage
             AND e.received BETWEEN k.received - ${REPEAT_WINDOW_US} AND k.received + ${REPEAT_WINDOW_US}
         ORDER BY e.audit_id, e.stage, e.id`,
        [a, missing.map(({ e }) => e.stage), r],
      );
  for (const row of rows.rows) {
    const key = collapse
      ? `${row.audit_id}\u0000${row.received}\u0000${(row as { source: string }).source}`
      : `${row.audit_id}\u0000${(row as { stage: string }).stage}`;
    ids.set(key, row.id);
  }
}

/** Inserts the batch's new events; their chain entries are added to `chain`. */
async function insert(c: pg.ClientBase, batch: Item[], chain: ChainOp[]): Promise<{ id: string; e: AuditEvent }[]> {
  if (batch.length === 0) return [];
  const rows = new Rows();
  for (const { e, received } of batch) rows.add(e, received);
  const r = await c.query<{ id: string; ord: string }>(INSERT_SQL, [
    ...rows.insertParams(),
    Math.floor(Math.random() * MINUTE_SHARDS),
  ]);
  return r.rows.map((x) => {
    const i = Number(x.ord) - 1;
    const { e, received } = batch[i]!;
    chain.push({ op: OP_INSERT, id: Number(x.id), day: dayOf(received), bodyHash: bodyHash(rows.bodies[i]!) });
    return { id: x.id, e };
  });
}

/** Collapsing path (CADF request + response): one event at a time under a lock on its auditID. */
async function appendCollapsing(
  c: pg.ClientBase,
  schema: string,
  batch: Item[],
  chain: ChainOp[],
): Promise<{ id: string; e: AuditEvent }[]> {
  // per auditID (not per source): the stage change below must not race another source's insert of the same key
  const locks = [...new Set(batch.map(({ e }) => JSON.stringify([schema, e.auditID])))].sort();
  await c.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k ORDER BY k', [
    locks,
  ]);
  const out: { id: string; e: AuditEvent }[] = [];
  for (const item of batch) {
    const { e, received } = item;
    const old = (
      await c.query<{ id: string; stage: string }>(
        'SELECT id, stage FROM events WHERE audit_id = $1 AND received = $2 AND source = $3 ORDER BY id',
        [e.auditID, received, str(e.source)],
      )
    ).rows;
    if (old.length === 0) {
      out.push(...(await insert(c, [item], chain)));
      continue;
    }
    const rank = stageRank(e.stage);
    if (old.some((r) => stageRank(r.stage) >= rank)) continue;
    // the new stage's key taken by another source's event of this call: a duplicate, as an insert would be
    const taken = await c.query(
      `SELECT 1 FROM events WHERE audit_id = $1 AND stage = $2 AND received BETWEEN $3::bigint - ${REPEAT_WINDOW_US}
         AND $3::bigint + ${REPEAT_WINDOW_US}`,
      [e.auditID, e.stage, received],
    );
    if ((taken.rowCount ?? 0) > 0) continue;
    const target = old[0]!;
    const rows = new Rows();
    rows.add(e, received);
    await c.query(UPDATE_SQL, [target.id, received, ...rows.rowParams(0)]);
    chain.push({ op: OP_REPLACE, id: Number(target.id), day: dayOf(received), bodyHash: bodyHash(rows.bodies[0]!) });
    out.push({ id: target.id, e });
  }
  return out;
}
