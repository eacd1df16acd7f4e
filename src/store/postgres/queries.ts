// Reads of the PostgreSQL store: one event, a page with its exact total, histograms and the top values of a field.
// Queries constrained only by time count from the per-minute counts (`event_minutes`) instead of the events.
import type { StatsField } from '../fields.ts';
import { fieldSpec, STATS_FIELDS } from '../fields.ts';
import { withId } from '../rows.ts';
import { checkPage, checkQuery, decodeCursor, encodeCursor, MAX_STORED_MICROS, QueryError } from '../semantics.ts';
import type { EventQuery, Histogram, Page, PageRequest, StoredEvent, TenantScope } from '../types.ts';
import { COLUMN } from './columns.ts';
import type { Db } from './pool.ts';
import { buildWhere, countsFromMinutes, Params, termMatches } from './where.ts';

const MINUTE_US = 60_000_000;

export async function getEvent(db: Db, id: string, scope?: TenantScope): Promise<StoredEvent | undefined> {
  if (!/^[1-9]\d{0,17}$/.test(id)) return undefined;
  const p = new Params();
  const idParam = p.add(id);
  const where = scope ? buildWhere({ scope }, p) : 'true';
  const r = await db.read<{ body: string }>(
    `SELECT e.body FROM events e WHERE e.id = ${idParam}::bigint AND ${where}`,
    p.values,
  );
  const row = r.rows[0];
  return row ? withId(id, row.body) : undefined;
}

/** Stored events with ids above `afterId`, in id order (the events_id index of each partition, merged). */
export async function storedAfter(db: Db, afterId: number, limit: number): Promise<StoredEvent[]> {
  const r = await db.read<{ id: string; body: string }>(
    'SELECT e.id, e.body FROM events e WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2',
    [afterId, limit],
  );
  return r.rows.map((row) => withId(row.id, row.body));
}

/**
 * Counts of a time-only query per bucket of `widthUs` (one bucket 0 without it): whole minutes of the
 * range from `event_minutes`, the partial minutes at its ends from the events. Undefined when the range lies
 * within one minute (then counting the events is as cheap).
 */
async function minuteCounts(db: Db, q: EventQuery, widthUs?: number): Promise<Map<number, number> | undefined> {
  const startUs = q.start === undefined ? undefined : Math.ceil(q.start) * 1000;
  const endUs = q.end === undefined ? undefined : Math.floor(q.end) * 1000 + 999;
  // whole minutes inside the range
  const lo = startUs === undefined ? undefined : Math.ceil(startUs / MINUTE_US);
  const hi = endUs === undefined ? undefined : Math.floor((endUs + 1) / MINUTE_US) - 1;
  if (lo !== undefined && hi !== undefined && lo > hi) return undefined;
  const p = new Params();
  const bucket = (col: string) => (widthUs === undefined ? '0' : `div(${col}, ${p.add(widthUs)}::bigint)`);
  const mConds: string[] = [];
  if (lo !== undefined) mConds.push(`m.minute >= ${p.add(lo)}::bigint`);
  if (hi !== undefined) mConds.push(`m.minute <= ${p.add(hi)}::bigint`);
  let sql = `SELECT ${bucket(`m.minute * ${MINUTE_US}`)} AS b, sum(m.n) AS n FROM event_minutes m
    WHERE ${mConds.length > 0 ? mConds.join(' AND ') : 'true'} GROUP BY 1`;
  if (lo !== undefined || hi !== undefined) {
    const eConds = [buildWhere({ start: q.start, end: q.end }, p)];
    const inside: string[] = [];
    if (lo !== undefined) inside.push(`e.received >= ${p.add(lo * MINUTE_US)}::bigint`);
    if (hi !== undefined) inside.push(`e.received < ${p.add((hi + 1) * MINUTE_US)}::bigint`);
    eConds.push(`NOT (${inside.join(' AND ')})`);
    sql += ` UNION ALL SELECT ${bucket('e.received')} AS b, count(*) AS n FROM events e WHERE ${eConds.join(' AND ')} GROUP BY 1`;
  }
  const r = await db.read<{ b: string; n: string }>(sql, p.values);
  const out = new Map<number, number>();
  for (const row of r.rows) {
    const b = Number(row.b);
    out.set(b, (out.get(b) ?? 0) + Number(row.n));
  }
  return out;
}

async function countOf(db: Db, q: EventQuery, where: string, values: unknown[]): Promise<number> {
  if (countsFromMinutes(q)) {
    const m = await minuteCounts(db, q);
    if (m) return m.get(0) ?? 0;
  }
  return Number((await db.read<{ n: string }>(`SELECT count(*) AS n FROM events e WHERE ${where}`, values)).rows[0]!.n);
}

export async function queryPage(db: Db, q: EventQuery, page: PageRequest): Promise<Page> {
  checkQuery(q);
  checkPage(page);
  const p = new Params();
  const where = buildWhere(q, p, await termMatches(db, q));
  // a copy: the page's own parameters are added to `p` below while this query may still be queued
  const count = countOf(db, q, where, [...p.values]);
  if (page.size === 0) return { total: await count, items: [] };
  const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
  // the cursor's time within the exact JS integers, also for a far row an older version stored (year 9999)
  let sql = `SELECT e.id, LEAST(GREATEST(e.received, -${MAX_STORED_MICROS}), ${MAX_STORED_MICROS}) AS received, e.body
    FROM events e WHERE ${where}`;
  if (page.after !== undefined) {
    const c = decodeCursor(page.after);
    sql += ` AND (e.received, e.id) ${page.sort === 'asc' ? '>' : '<'} (${p.add(c.received)}::bigint, ${p.add(c.id)}::bigint)`;
  }
  sql += ` ORDER BY e.received ${dir}, e.id ${dir} LIMIT ${p.add(page.size + 1)} OFFSET ${p.add(page.from ?? 0)}`;
  const [total, rows] = await Promise.all([
    count,
    db.read<{ id: string; received: string; body: string }>(sql, p.values),
  ]);
  const list = rows.rows;
  const more = list.length > page.size;
  if (more) list.pop();
  const items = list.map((r) => withId(r.id, r.body));
  const last = list[list.length - 1];
  const n = total;
  return more && last ? { total: n, items, next: encodeCursor(Number(last.received), last.id) } : { total: n, items };
}

export async function histogram(db: Db, q: EventQuery, intervalMs: number, maxBuckets: number): Promise<Histogram> {
  checkQuery(q);
  if (!Number.isInteger(intervalMs) || intervalMs <= 0)
    throw new QueryError(`interval must be a positive whole number of milliseconds, not ${intervalMs}`);
  // per-minute counts answer buckets of whole minutes when only time constrains the query
  const minutes =
    countsFromMinutes(q) && intervalMs % 60_000 === 0 ? await minuteCounts(db, q, intervalMs * 1000) : undefined;
  let rows: { b: number; n: number }[];
  if (minutes) {
    rows = [...minutes].filter(([, n]) => n > 0).map(([b, n]) => ({ b, n }));
    rows.sort((x, y) => x.b - y.b);
  } else {
    const p = new Params();
    const width = p.add(intervalMs * 1000);
    const where = buildWhere(q, p, await termMatches(db, q));
    const r = await db.read<{ b: string; n: string }>(
      `SELECT div(e.received, ${width}::bigint) AS b, count(*) AS n FROM events e WHERE ${where} GROUP BY 1 ORDER BY 1`,
      p.values,
    );
    rows = r.rows.map((x) => ({ b: Number(x.b), n: Number(x.n) }));
  }
  const buckets: { time: number; count: number }[] = [];
  let total = 0;
  if (rows.length > 0) {
    // Empty buckets between the first and the last are included (as Elasticsearch's date_histogram does).
    const first = rows[0]!.b;
    const last = rows[rows.length - 1]!.b;
    if (last - first + 1 > maxBuckets)
      throw new QueryError(
        `a histogram with interval ${intervalMs} ms over this range has ${last - first + 1} buckets (at most ${maxBuckets}): use a larger interval or a shorter range`,
      );
    let i = 0;
    for (let b = first; b <= last; b++) {
      const row = rows[i];
      let count = 0;
      if (row && row.b === b) {
        count = row.n;
        i++;
      }
      total += count;
      buckets.push({ time: b * intervalMs, count });
    }
  }
  return { total, buckets };
}

export async function stats(
  db: Db,
  q: EventQuery,
  by: StatsField,
  limit: number,
): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }> {
  checkQuery(q);
  if (!(STATS_FIELDS as readonly string[]).includes(by)) throw new QueryError(`cannot count by "${by}"`);
  const col = COLUMN[by];
  if (!Number.isInteger(limit) || limit < 0) throw new QueryError(`limit must be a non-negative integer, not ${limit}`);
  const p = new Params();
  const where = buildWhere(q, p, await termMatches(db, q));
  const head = db.read<{ n: string; a: string }>(
    `SELECT count(*) AS n, count(DISTINCT e.audit_id) AS a FROM events e WHERE ${where}`,
    [...p.values],
  );
  let top: { key: string; count: number }[] = [];
  if (limit > 0) {
    const lim = `$${p.values.length + 1}`;
    const sql = fieldSpec(by).list
      ? `SELECT v AS k, count(*) AS n FROM events e CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.${col}) AS v) ips
           WHERE ${where} GROUP BY v ORDER BY n DESC, v COLLATE "C" LIMIT ${lim}`
      : fieldSpec(by).code
        ? `SELECT e.${col} AS k, count(*) AS n FROM events e WHERE ${where} AND e.${col} IS NOT NULL
             GROUP BY e.${col} ORDER BY n DESC, k LIMIT ${lim}`
        : `SELECT e.${col} AS k, count(*) AS n FROM events e WHERE ${where} AND e.${col} <> ''
             GROUP BY e.${col} ORDER BY n DESC, e.${col} COLLATE "C" LIMIT ${lim}`;
    const rows = await db.read<{ k: string | number; n: string }>(sql, [...p.values, limit]);
    top = rows.rows.map((r) => ({ key: String(r.k), count: Number(r.n) }));
  }
  const h = (await head).rows[0]!;
  return { total: Number(h.n), auditIDs: Number(h.a), top };
}
