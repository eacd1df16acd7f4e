// The SQLite store's counts: histograms (from the per-minute counts, one indexed count per bucket, or one GROUP BY,
// whichever the query allows) and the top values of a field (stats).
import { STATS_FIELDS, type StatsField } from '../fields.ts';
import { checkQuery, MAX_STORED_MICROS, QueryError } from '../semantics.ts';
import type { EventQuery, Histogram } from '../types.ts';
import type { Reader } from './reader.ts';
import { MINUTE_US, STORAGE } from './schema.ts';

/** Most buckets a histogram counts one range at a time (beyond, one GROUP BY query counts them all). */
const PER_BUCKET_MAX = 2000;

/**
 * The stored events' time range within the query's (epoch µs, [$1, $2]); two subqueries: min() and max() together
 * would not use the index. Never the whole table's: its extreme rows may be far times an older version stored,
 * beyond the exact JS integers.
 */
const TIME_RANGE = `SELECT (SELECT min(received) FROM events WHERE received >= ?) AS lo,
  (SELECT max(received) FROM events WHERE received <= ?) AS hi`;

/** The query's time bounds in epoch µs (inclusive), within what a store keeps. */
function bounds(q: EventQuery): [number, number] {
  return [
    q.start === undefined ? 0 : Math.max(0, Math.ceil(q.start) * 1000),
    q.end === undefined ? MAX_STORED_MICROS : Math.min(MAX_STORED_MICROS, Math.floor(q.end) * 1000 + 999),
  ];
}

/** The stored events' time range within the query's, or undefined when none is stored there. */
function timeRange(r: Reader, q: EventQuery): { lo: number; hi: number } | undefined {
  const [from, to] = bounds(q);
  const range = r.prepare(TIME_RANGE).get(from, to) as { lo: number | null; hi: number | null };
  if (range.lo === null || range.hi === null || range.lo > range.hi) return undefined;
  return { lo: Math.max(range.lo, from), hi: Math.min(range.hi, to) };
}

export function histogram(r: Reader, q: EventQuery, intervalMs: number, maxBuckets: number): Histogram {
  checkQuery(q);
  if (!Number.isInteger(intervalMs) || intervalMs <= 0)
    throw new QueryError(`interval must be a positive whole number of milliseconds, not ${intervalMs}`);
  const width = intervalMs * 1000;
  let counts = minuteCounts(r, q, intervalMs, maxBuckets) ?? bucketCounts(r, q, width);
  if (!counts) {
    const w = r.where(q);
    // node:sqlite binds JS numbers as REAL: the CAST keeps the division integral
    const rows = r
      .prepare(
        `SELECT e.received / CAST(? AS INTEGER) AS b, count(*) AS n FROM events e WHERE ${w.sql} GROUP BY b ORDER BY b`,
      )
      .all(width, ...w.params) as { b: number; n: number }[];
    counts = rows.length === 0 ? { first: 0, n: [] } : { first: rows[0]!.b, n: [] };
    for (const r of rows) {
      const i = r.b - counts.first;
      if (i >= maxBuckets)
        throw new QueryError(
          `a histogram with interval ${intervalMs} ms over this range has more than ${maxBuckets} buckets: use a larger interval or a shorter range`,
        );
      while (counts.n.length < i) counts.n.push(0); // empty buckets between the first and the last are included
      counts.n.push(r.n);
    }
  }
  // From the first to the last non-empty bucket, gaps included (as Elasticsearch's date_histogram does).
  let lo = 0;
  let hi = counts.n.length - 1;
  while (lo <= hi && counts.n[lo] === 0) lo++;
  while (hi >= lo && counts.n[hi] === 0) hi--;
  const buckets: { time: number; count: number }[] = [];
  let total = 0;
  for (let i = lo; i <= hi; i++) {
    total += counts.n[i]!;
    buckets.push({ time: (counts.first + i) * intervalMs, count: counts.n[i]! });
  }
  return { total, buckets };
}

/**
 * Histogram from the per-minute counts: for queries with no condition but a time range, and buckets of whole
 * minutes (every minute then falls in one bucket). Minutes the range cuts are counted from the events.
 */
function minuteCounts(
  r: Reader,
  q: EventQuery,
  intervalMs: number,
  maxBuckets: number,
): { first: number; n: number[] } | undefined {
  if (intervalMs % 60_000 !== 0 || r.where({ ...q, start: undefined, end: undefined }).sql !== '1') return undefined;
  const per = intervalMs / 60_000; // minutes per bucket
  const range = timeRange(r, q);
  if (!range) return { first: 0, n: [] };
  const { lo, hi } = range;
  const first = Math.floor(lo / (per * MINUTE_US));
  const last = Math.floor(hi / (per * MINUTE_US));
  if (last - first + 1 > maxBuckets)
    throw new QueryError(
      `a histogram with interval ${intervalMs} ms over this range has more than ${maxBuckets} buckets: use a larger interval or a shorter range`,
    );
  const n = new Array<number>(last - first + 1).fill(0);
  // whole minutes in [lo, hi]: from the first minute starting at or after lo to the last ending at or before hi
  const m0 = Math.ceil(lo / MINUTE_US);
  const m1 = Math.floor((hi + 1) / MINUTE_US); // exclusive
  const countRange = r.prepare('SELECT count(*) AS n FROM events WHERE received >= ? AND received < ?');
  const edge = (from: number, to: number) => {
    if (from >= to) return;
    n[Math.floor(from / (per * MINUTE_US)) - first]! += (countRange.get(from, to) as { n: number }).n;
  };
  if (m0 >= m1) edge(lo, hi + 1);
  else {
    edge(lo, m0 * MINUTE_US);
    // Summed per bucket in SQL (a row object per minute costs more than the sum). Floor division, also for
    // minutes before 1970; node:sqlite binds JS numbers as REAL, the CAST keeps the arithmetic integral.
    const rows = r
      .prepare(
        `SELECT (minute - ((minute % p + p) % p)) / p AS b, sum(n) AS n
       FROM event_minutes, (SELECT CAST(? AS INTEGER) AS p) WHERE minute >= ? AND minute < ? GROUP BY b`,
      )
      .all(per, m0, m1) as { b: number; n: number }[];
    for (const r of rows) n[r.b - first]! += r.n;
    edge(m1 * MINUTE_US, hi + 1);
  }
  return { first, n };
}

/**
 * Histogram by one indexed range count per bucket: scans each matching index entry once and sorts nothing, where
 * GROUP BY over an expression would sort every matching row. Used when the buckets are few and the conditions are
 * cheap to evaluate again for each bucket (no subqueries); returns undefined otherwise.
 */
function bucketCounts(r: Reader, q: EventQuery, width: number): { first: number; n: number[] } | undefined {
  // The query's own time bounds become the first and last bucket's bounds: given both, the planner would pick one
  // lower and one upper bound without knowing which is tighter.
  const w = r.where({ ...q, start: undefined, end: undefined });
  if (w.sql.includes('SELECT')) return undefined;
  const range = timeRange(r, q);
  if (!range) return { first: 0, n: [] };
  const { lo, hi } = range;
  const first = Math.floor(lo / width);
  const last = Math.floor(hi / width);
  if (last - first + 1 > PER_BUCKET_MAX) return undefined;
  const count = r.prepare(`SELECT count(*) AS n FROM events e WHERE ${w.sql} AND e.received >= ? AND e.received < ?`);
  const n: number[] = [];
  for (let b = first; b <= last; b++) {
    const from = Math.max(b * width, lo);
    const to = Math.min((b + 1) * width, hi + 1);
    n.push((count.get(...w.params, from, to) as { n: number }).n);
  }
  return { first, n };
}

export function stats(
  r: Reader,
  q: EventQuery,
  by: StatsField,
  limit: number,
): { total: number; auditIDs: number; top: { key: string; count: number }[] } {
  checkQuery(q);
  if (!Number.isInteger(limit) || limit < 0) throw new QueryError(`limit must be a non-negative integer, not ${limit}`);
  if (!(STATS_FIELDS as readonly string[]).includes(by)) throw new QueryError(`cannot count by "${by}"`);
  const f = STORAGE[by];
  const w = r.where(q);
  const head = r
    .prepare(`SELECT count(*) AS n, count(DISTINCT e.audit_id) AS a FROM events e WHERE ${w.sql}`)
    .get(...w.params) as { n: number; a: number };
  if (limit === 0 || head.n === 0) return { total: head.n, auditIDs: head.a, top: [] };
  let sql: string;
  if (f.kind === 'list')
    sql = `SELECT t.value AS k, g.n AS n FROM (
             SELECT v.term AS term, count(*) AS n FROM events e JOIN event_values v ON v.event_id = e.id
             WHERE ${w.sql} GROUP BY v.term) g
           JOIN terms t ON t.id = g.term AND t.field = ${f.term} ORDER BY n DESC, k LIMIT ?`;
  else if (f.kind === 'dict')
    sql = `SELECT t.value AS k, g.n AS n FROM (
             SELECT e.${f.column} AS term, count(*) AS n FROM events e WHERE ${w.sql} AND e.${f.column} <> 0
             GROUP BY e.${f.column}) g
           JOIN terms t ON t.id = g.term ORDER BY n DESC, k LIMIT ?`;
  else
    sql = `SELECT e.${f.column} AS k, count(*) AS n FROM events e WHERE ${w.sql} AND e.${f.column} IS NOT NULL
           GROUP BY e.${f.column} ORDER BY n DESC, k LIMIT ?`;
  const rows = r.prepare(sql).all(...w.params, limit) as { k: string | number; n: number }[];
  return { total: head.n, auditIDs: head.a, top: rows.map((r) => ({ key: String(r.k), count: r.n })) };
}
