// The shared store: PostgreSQL through `pg`, for several collectors writing and reading one database. Events live
// in a table range-partitioned by received day; every append is one transaction; live tail crosses instances
// through LISTEN/NOTIFY; periodic jobs run once across collectors through advisory locks (`runExclusive`).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { AuditEvent } from '../../event/model.ts';
import { bodyHash, DAY_US, EMPTY_BODY_HASH, OP_DELETE, OP_INSERT, OP_REPLACE } from '../../integrity/chain.ts';
import type { Checkpoint } from '../../integrity/checkpoint.ts';
import type { SigningKey } from '../../integrity/keys.ts';
import { FIELDS, type FieldSpec, type FilterField, fieldValues, STATS_FIELDS, type StatsField } from '../fields.ts';
import { bodyOf, withId } from '../rows.ts';
import {
  checkPage,
  checkQuery,
  codeMatches,
  decodeCursor,
  encodeCursor,
  exactCodes,
  MAX_HISTOGRAM_BUCKETS,
  QueryError,
  scopeLists,
  stageRank,
  toMicros,
} from '../semantics.ts';
import type {
  AppendOptions,
  AppendResult,
  EventQuery,
  Histogram,
  Page,
  PageRequest,
  Store,
  StoredEvent,
  TenantScope,
} from '../types.ts';
import { StoreUnavailableError } from '../types.ts';
import {
  type ChainOp,
  chainStepSql,
  cutChain,
  type DropRead,
  dayOf,
  dropOp,
  dropStillHolds,
  genesisId,
} from './chain.ts';
import { checkpointPostgres } from './checkpoints.ts';
import { checkSchemaName, ident, migrate } from './migrations.ts';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database` (any libpq-style URL `pg` accepts). */
  url: string;
  /** Schema holding Vigil's tables (created and migrated on open). Default `vigil`. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** `application_name` of the connections, as `pg_stat_activity` shows it. Default `vigil`. */
  applicationName?: string;
  /** Days of partitions created ahead of today (and kept behind it). Default 3 ahead, 1 behind. */
  partitionsAhead?: number;
  /** Most buckets a histogram answer may have (default MAX_HISTOGRAM_BUCKETS). */
  maxHistogramBuckets?: number;
}

const MINUTE_US = 60_000_000;
/** Counter rows per minute in `event_minutes` (see the migration). */
const MINUTE_SHARDS = 16;
const PARTITION_JOB_MS = 3_600_000;
/** NOTIFY payloads are limited to 8000 bytes: ids are sent in chunks below that. */
const NOTIFY_CHUNK = 7_000;

/** A field's column in `events` (./fields.ts `postgres.column`). */
const COLUMN = Object.fromEntries(
  FIELDS.flatMap((f) => ('column' in f.postgres ? [[f.name, f.postgres.column]] : [])),
) as Record<FilterField, string>;

/**
 * Fields whose distinct values are kept in `terms` (migration 5): fuzzy and free-text search find the matching values
 * there, through its trigram index, and the events through the field's own index (a btree, or the list's GIN).
 */
const IN_TERMS = FIELDS.flatMap((f) => ('terms' in f.postgres ? [f.name] : [])) as readonly FilterField[];
const TERM_FIELDS = new Set<FilterField>(IN_TERMS);
const SPEC = Object.fromEntries(FIELDS.map((f) => [f.name, f as FieldSpec])) as Record<FilterField, FieldSpec>;
/** Most dictionary values an append remembers as stored per field (beyond, it forgets them and asks again). */
const KNOWN_TERMS = 50_000;
/**
 * How long an append trusts that a remembered value is still in `terms`; each stored value's `seen` is renewed
 * (at most every TERMS_SEEN_MS) when an append brings it again. Retention removes only values not seen for a day
 * past its cutoff, far longer than any collector remembers them, so no append skips a value retention removed.
 */
const TERMS_CACHE_MS = 3_600_000;
const TERMS_SEEN_MS = 3_600_000;

/** Fields whose events hold a list (searched with the list's GIN, `&&` / `@>`), not one value. */
function isList(field: FilterField): boolean {
  return SPEC[field].list === true;
}

/** Retention's step over the dictionary: values not seen since `$1` (epoch ms) that no stored event holds. */
const PRUNE_TERMS_SQL = `
DELETE FROM terms t USING (SELECT value, field FROM terms WHERE seen < $1::bigint ORDER BY seen LIMIT $2) v
WHERE t.value = v.value AND t.field = v.field AND NOT (${IN_TERMS.map(
  (f) =>
    `(t.field = '${f}' AND EXISTS (SELECT 1 FROM events e WHERE e.${COLUMN[f]} ${isList(f) ? '@> ARRAY[t.value]' : '= t.value'}))`,
).join(' OR ')})`;

/**
 * The dictionary entries of a batch's events not in `known` (field → values stored), as parallel field and value
 * lists for INSERT … unnest.
 */
function newTerms(
  events: Iterable<AuditEvent>,
  known: Map<string, Set<string>>,
): { fields: string[]; values: string[] } {
  const fields: string[] = [];
  const values: string[] = [];
  const seen = new Map<string, Set<string>>();
  for (const e of events) {
    for (const field of IN_TERMS) {
      for (const raw of fieldValues(e, field)) {
        const v = pgText(raw);
        if (known.get(field)?.has(v)) continue;
        let s = seen.get(field);
        if (!s) {
          s = new Set();
          seen.set(field, s);
        }
        if (s.has(v)) continue;
        s.add(v);
        fields.push(field);
        values.push(v);
      }
    }
  }
  return { fields, values };
}

/** Most dictionary values a condition lists itself; beyond, it selects them with a subquery. */
const INLINE_TERMS = 1000;

/**
 * The dictionary values matching a query's fuzzy terms (by field) and free-text terms (by field; undefined when more
 * than INLINE_TERMS matched), looked up before the query so that the planner sees the lists it searches the column
 * indexes for (given subqueries it guesses their sizes and may scan every event of the time range instead).
 */
interface TermMatches {
  fuzzy: Map<string, string[]>;
  text?: Map<string, string[]>;
}

/**
 * Events whose `field` holds one of `values` (a parameter reference to a text[]), or, given ILIKE `patterns`, one of
 * the dictionary values matching them (a subquery computed once per query).
 */
function termCondition(field: FilterField, values: { list: string } | { patterns: string[] }): string {
  const set =
    'list' in values
      ? `${values.list}::text[]`
      : `ARRAY(SELECT value FROM terms WHERE field = '${field}' AND (${values.patterns.map((pat) => `value ILIKE ${pat}`).join(' OR ')}))`;
  return isList(field) ? `e.${COLUMN[field]} && ${set}` : `e.${COLUMN[field]} = ANY(${set})`;
}

/**
 * A value as PostgreSQL text holds it: text cannot hold U+0000, so the columns' copies of a value (the body keeps it,
 * escaped) have U+FFFD in its place, and so do the values queries compare them with.
 */
function pgText(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

function str(v: unknown): string {
  return typeof v === 'string' ? pgText(v) : '';
}

/** ILIKE pattern for a case-insensitive substring: the term's own %, _ and \ are literal. */
function contains(term: string): string {
  return `%${pgText(term).replace(/[\\%_]/g, '\\$&')}%`;
}

/** Values of an enumerated field (`oneOf`) containing `term` case-insensitively: fuzzy search on it becomes exact. */
function enumMatches(all: readonly string[], term: string): string[] {
  const t = term.toLowerCase();
  return all.filter((v) => v.toLowerCase().includes(t));
}

/** Query parameters collected while the SQL is built. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** The WHERE clause (over `events e`) of a query: values of one field OR'ed, fields AND'ed. */
function buildWhere(q: EventQuery, p: Params, matches?: TermMatches): string {
  const conds: string[] = [];
  // One value as `=`, not `= ANY(array)`: PostgreSQL 15 then walks a (column, received) index in time order for a
  // page (`ORDER BY received DESC LIMIT n` stops after n), where with ANY it fetched and sorted every match (a user
  // and a verb at 10 M events: ~90 ms instead of ~10).
  const eq = (col: string, values: (string | number)[], type: 'text' | 'int') => {
    const v = values.map((x) => (typeof x === 'string' ? pgText(x) : x));
    return v.length === 1 ? `${col} = ${p.add(v[0])}::${type}` : `${col} = ANY(${p.add(v)}::${type}[])`;
  };
  for (const [field, values] of Object.entries(q.exact ?? {}) as [FilterField, string[]][]) {
    if (!values || values.length === 0) continue;
    const col = `e.${COLUMN[field]}`;
    if (isList(field)) conds.push(`${col} && ${p.add(values.map(pgText))}::text[]`);
    else if (SPEC[field].code) {
      const codes = exactCodes(values);
      conds.push(codes.length === 0 ? 'false' : eq(col, codes, 'int'));
    } else conds.push(eq(col, values, 'text'));
  }
  for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
    if (!values || values.length === 0) continue;
    const spec = SPEC[field];
    const col = `e.${COLUMN[field]}`;
    if (spec.oneOf) {
      const all = spec.oneOf;
      const matches = [...new Set(values.flatMap((v) => enumMatches(all, v)))];
      conds.push(matches.length === 0 ? 'false' : eq(col, matches, 'text'));
      continue;
    }
    if (spec.code) {
      const codes = [...new Set(values.flatMap(codeMatches))];
      conds.push(codes.length === 0 ? 'false' : eq(col, codes, 'int'));
      continue;
    }
    if (values.includes('')) continue; // the empty string is a substring of everything
    if (TERM_FIELDS.has(field)) {
      const found = matches?.fuzzy.get(field);
      if (found?.length === 0) conds.push('false');
      else if (found?.length === 1 && !isList(field)) conds.push(eq(col, found, 'text'));
      else if (found) conds.push(termCondition(field, { list: p.add(found) }));
      else conds.push(termCondition(field, { patterns: values.map((v) => p.add(contains(v))) }));
      continue;
    }
    const patterns = values.map((v) => p.add(contains(v)));
    // a field that is also in `search` (the status): its trigram index narrows the rows the column test runs on
    const ors = patterns.map((pat) =>
      spec.postgres.search ? `(e.search ILIKE ${pat} AND ${col} ILIKE ${pat})` : `${col} ILIKE ${pat}`,
    );
    conds.push(`(${ors.join(' OR ')})`);
  }
  if (q.text && q.text.length > 0 && !q.text.includes('')) {
    const patterns = q.text.map((t) => p.add(contains(t)));
    const ors = patterns.map((pat) => `e.search ILIKE ${pat}`);
    const found = matches?.text;
    for (const f of IN_TERMS) {
      if (!found) ors.push(termCondition(f, { patterns }));
      else if (found.has(f)) ors.push(termCondition(f, { list: p.add(found.get(f)) }));
    }
    conds.push(`(${ors.join(' OR ')})`);
  }
  if (q.start !== undefined) conds.push(`e.received >= ${p.add(Math.ceil(q.start) * 1000)}::bigint`);
  // inclusive to the end of the millisecond
  if (q.end !== undefined) conds.push(`e.received <= ${p.add(Math.floor(q.end) * 1000 + 999)}::bigint`);
  if (q.scope) {
    const { workspaces, namespaces } = scopeLists(q.scope);
    const parts: string[] = [];
    if (workspaces.length > 0) parts.push(eq('e.workspace', workspaces, 'text'));
    if (namespaces.length > 0) parts.push(eq('e.namespace', namespaces, 'text'));
    conds.push(parts.length === 0 ? 'false' : `(${parts.join(' OR ')})`);
  }
  return conds.length === 0 ? 'true' : conds.join(' AND ');
}

/**
 * Whether a query constrains only the time: its counts can come from `event_minutes`. (A tenant scope is left to
 * the workspace and namespace indexes: it selects a small share of the events.)
 */
function countsFromMinutes(q: EventQuery): boolean {
  if (q.scope) return false;
  const none = (m?: Partial<Record<FilterField, string[]>>) =>
    !m || Object.values(m).every((v) => !v || v.length === 0);
  return none(q.exact) && none(q.fuzzy) && (!q.text || q.text.length === 0);
}

/**
 * The `events` columns an append writes: each field's own column (./fields.ts `postgres.column`), then the received
 * time, the `search` text and the body. `list` and `body` columns travel as one JSON array of the JSON texts they
 * already are (see Rows.insertParams), the others as arrays of their type.
 */
interface Column {
  name: string;
  type: 'text' | 'int' | 'bigint' | 'list' | 'body';
}
const FIELD_COLUMNS = FIELDS.flatMap((f) =>
  'column' in f.postgres
    ? [
        {
          spec: f as FieldSpec,
          name: f.postgres.column,
          type: 'list' in f ? 'list' : 'code' in f ? 'int' : 'text',
        } as const,
      ]
    : [],
);
/** The fields free text finds through `search` (those without a dictionary), one line each, in their stored order. */
const SEARCH_FIELDS: readonly FieldSpec[] = FIELDS.flatMap((f) =>
  'search' in f.postgres ? [f as FieldSpec] : [],
).sort((a, b) => a.postgres.search! - b.postgres.search!);
const COLUMNS: readonly Column[] = [
  ...FIELD_COLUMNS,
  { name: 'received', type: 'bigint' },
  { name: 'search', type: 'text' },
  { name: 'body', type: 'body' },
];
/** The call key's text columns keep their values as given: append checked them, and looks duplicates up by them. */
const AS_GIVEN = new Set<string>(['auditID', 'stage']);

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

/** The key that finds an appended event's stored row: its call (auditID, stage, received), or collapsing, (auditID,
 * received, source). */
function callKey(e: AuditEvent, collapse: boolean): string {
  const received = toMicros(e.requestReceivedTimestamp);
  return collapse
    ? `${e.auditID}\u0000${received}\u0000${str(e.source)}`
    : `${e.auditID}\u0000${e.stage}\u0000${received}`;
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
  FROM input i JOIN numbered n USING (ord) ORDER BY i.audit_id, i.stage, i.received
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

/** Partition of one UTC day: `events_p20260301` holds received ∈ [day start, next day start). */
function partitionName(dayStartUs: number): string {
  return `events_p${new Date(dayStartUs / 1000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function partitionStart(name: string): number | undefined {
  const m = /^events_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) * 1000 : undefined;
}

function isConnectionError(err: unknown): boolean {
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
function unavailable(err: unknown): StoreUnavailableError | undefined {
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

/** Pooled connections that already have an error listener of their own. */
const guarded = new WeakSet<pg.PoolClient>();

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const schema = opts.schema ?? 'vigil';
  checkSchemaName(schema);
  const store = new PostgresStore(opts, schema);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

/** Applies the migrations to the database at `url` (the `vigil migrate` command); returns the versions applied. */
export async function migratePostgres(url: string, schema = 'vigil'): Promise<number[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'vigil migrate' });
  await client.connect();
  try {
    return await migrate(client, schema);
  } finally {
    await client.end();
  }
}

export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #opts: PostgresStoreOptions;
  readonly #channel: string;
  /** Tells this instance's NOTIFYs from other collectors' ones. */
  readonly #instance = randomUUID();
  readonly #listeners = new Set<(events: StoredEvent[]) => void>();
  #listenClient: pg.Client | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  #listenReady = false;
  readonly #readyWaiters: (() => void)[] = [];
  #partitionTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Events with ids up to this one were stored before the hash chain existed (an upgraded schema). */
  #genesis = 0;
  readonly #maxBuckets: number;
  /** Dictionary values known to be in `terms`, by field: most batches add none. */
  readonly #knownTerms = new Map<string, Set<string>>();
  /** When #knownTerms was last emptied (see TERMS_CACHE_MS). */
  #knownSince = Date.now();

  constructor(opts: PostgresStoreOptions, schema: string) {
    this.#opts = opts;
    this.#schema = schema;
    this.#channel = `vigil_events:${schema}`;
    this.#maxBuckets = opts.maxHistogramBuckets ?? MAX_HISTOGRAM_BUCKETS;
    this.#pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      application_name: opts.applicationName ?? 'vigil',
      options: `-c search_path=${ident(schema)}`,
    });
    // An idle connection whose backend dies emits here; without a listener it would crash the process. The pool
    // drops the connection and opens a new one when needed.
    this.#pool.on('error', () => {});
  }

  async init(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await migrate(client, this.#schema);
      this.#genesis = await genesisId(client);
    } finally {
      client.release();
    }
    await this.ensurePartitions();
    this.#partitionTimer = setInterval(() => {
      this.ensurePartitions().catch((err) =>
        process.emitWarning(`vigil: creating partitions failed: ${(err as Error)?.message ?? err}`),
      );
    }, PARTITION_JOB_MS);
    this.#partitionTimer.unref();
  }

  #open(): void {
    if (this.#closed) throw new Error('the store is closed');
  }

  /** The dictionary values the query's fuzzy and free-text terms match (see TermMatches). */
  async #termMatches(q: EventQuery): Promise<TermMatches> {
    const out: TermMatches = { fuzzy: new Map() };
    const find = async (fields: readonly string[], terms: string[]) => {
      const patterns = terms.map(contains);
      const r = await this.#read<{ field: string; value: string }>(
        `SELECT field, value FROM terms WHERE field = ANY($1::text[])
           AND (${patterns.map((_, i) => `value ILIKE $${i + 2}`).join(' OR ')}) LIMIT ${INLINE_TERMS + 1}`,
        [fields, ...patterns],
      );
      if (r.rows.length > INLINE_TERMS) return undefined;
      const by = new Map<string, string[]>();
      for (const { field, value } of r.rows) {
        const list = by.get(field);
        if (list) list.push(value);
        else by.set(field, [value]);
      }
      return by;
    };
    const lookups: Promise<void>[] = [];
    for (const [field, values] of Object.entries(q.fuzzy ?? {}) as [FilterField, string[]][]) {
      if (!values?.length || values.includes('') || !TERM_FIELDS.has(field)) continue;
      lookups.push(
        find([field], values).then((m) => {
          if (m) out.fuzzy.set(field, m.get(field) ?? []);
        }),
      );
    }
    if (q.text?.length && !q.text.includes(''))
      lookups.push(
        find(IN_TERMS, q.text).then((m) => {
          out.text = m;
        }),
      );
    await Promise.all(lookups);
    return out;
  }

  /**
   * A read on any pooled connection, retried on a connection that turns out dead (PostgreSQL restarted, the
   * backend was killed, a failover): the pool may hand out an idle connection before it has noticed. Reads are
   * safe to repeat; appends are not retried here — their caller's retry is (idempotent).
   */
  async #read<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#pool.query<R>(sql, values);
      } catch (err) {
        if (!isConnectionError(err) || this.#closed || attempt >= (this.#opts.poolSize ?? 10))
          throw unavailable(err) ?? err;
      }
    }
  }

  /**
   * A pooled connection that survives its backend dying while checked out between two queries: the pool listens
   * for errors on idle connections only, and an 'error' nobody listens to would crash the process. The next query
   * on it fails instead, and the connection is discarded on release.
   */
  async #connect(): Promise<pg.PoolClient> {
    const client = await this.#pool.connect();
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on('error', () => {});
    }
    return client;
  }

  /**
   * A pooled connection with a transaction begun. A connection found dead at BEGIN (killed while idle, before the
   * pool noticed) is discarded and another one tried: nothing of the caller's work was sent on it yet.
   */
  async #begin(): Promise<pg.PoolClient> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.#connect();
      try {
        await client.query('BEGIN');
        return client;
      } catch (err) {
        client.release(err as Error);
        if (!isConnectionError(err) || attempt >= (this.#opts.poolSize ?? 10)) throw err;
      }
    }
  }

  /**
   * Runs `fn` in a transaction on one pooled connection; a connection that failed is discarded, not reused. SQL that
   * `fn` passes to `atCommit` is sent in one message with the COMMIT, so the server runs it and commits back to back
   * (the hash chain step, which holds the chain head's lock until the commit).
   */
  async #tx<T>(fn: (c: pg.PoolClient, atCommit: (sql: string) => void) => Promise<T>): Promise<T> {
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

  /** Partitions for yesterday … today+ahead exist (moving any of their rows out of the DEFAULT partition). */
  async ensurePartitions(now = Date.now()): Promise<void> {
    const today = Math.floor(now / 86_400_000) * 86_400_000 * 1000;
    const ahead = this.#opts.partitionsAhead ?? 3;
    await this.createPartitions(today - DAY_US, today + ahead * DAY_US);
  }

  /** Creates the daily partitions covering [fromUs, toUs] that do not exist yet. */
  async createPartitions(fromUs: number, toUs: number): Promise<void> {
    const first = Math.floor(fromUs / DAY_US) * DAY_US;
    const existing = new Set(await this.#partitionStarts());
    for (let day = first; day <= toUs; day += DAY_US) {
      if (existing.has(day)) continue;
      await this.#tx(async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${this.#schema}:partitions`]);
        const name = partitionName(day);
        if ((await c.query('SELECT to_regclass($1) AS r', [name])).rows[0].r) return; // another collector made it
        // Build it detached, move the day's rows from DEFAULT into it, then attach: attaching a range that DEFAULT
        // still holds rows of would fail.
        await c.query(
          `CREATE TABLE ${name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION)
           WITH (toast_tuple_target = 256)`,
        );
        await c.query(
          `WITH moved AS (DELETE FROM events_default WHERE received >= $1 AND received < $2 RETURNING *)
           INSERT INTO ${name} SELECT * FROM moved`,
          [day, day + DAY_US],
        );
        await c.query(`ALTER TABLE events ATTACH PARTITION ${name} FOR VALUES FROM (${day}) TO (${day + DAY_US})`);
      });
    }
  }

  async #partitionStarts(client: pg.ClientBase | pg.Pool = this.#pool): Promise<number[]> {
    const r = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relname = 'events' AND n.nspname = $1`,
      [this.#schema],
    );
    return r.rows.map((x) => partitionStart(x.relname)).filter((x) => x !== undefined);
  }

  async append(events: AuditEvent[], opts: AppendOptions = {}): Promise<AppendResult> {
    this.#open();
    // Validate and dedupe within the batch before touching the database: a bad event stores nothing.
    const seen = new Set<string>();
    const batch: { e: AuditEvent; received: number }[] = [];
    /** Each event's call key, by position: the answer's ids are looked up by it. */
    const keys: string[] = [];
    for (const e of events) {
      const received = toMicros(e.requestReceivedTimestamp);
      if (Number.isNaN(received))
        throw new QueryError(
          `event ${e.auditID}: requestReceivedTimestamp ${JSON.stringify(e.requestReceivedTimestamp)} is not an RFC 3339 time`,
        );
      if (typeof e.auditID !== 'string' || typeof e.stage !== 'string')
        throw new QueryError('every event needs a string auditID and stage');
      if (e.auditID.includes('\u0000'))
        throw new QueryError(
          `event auditID ${JSON.stringify(e.auditID)} contains U+0000, which PostgreSQL cannot store`,
        );
      const key = `${e.auditID}\u0000${e.stage}\u0000${received}`;
      keys.push(opts.collapseStages ? callKey(e, true) : key);
      if (seen.has(key)) continue;
      seen.add(key);
      batch.push({ e, received });
    }
    const ids = new Map<string, string>();
    const now = Date.now();
    if (now - this.#knownSince > TERMS_CACHE_MS) {
      this.#knownTerms.clear();
      this.#knownSince = now;
    }
    const fresh = newTerms(
      batch.map((b) => b.e),
      this.#knownTerms,
    );
    const stored = await this.#tx(async (c, atCommit) => {
      if (opts.batchKey !== undefined) {
        const r = await c.query('INSERT INTO batches (key, stored) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
          opts.batchKey,
          Date.now(),
        ]);
        if (r.rowCount === 0) {
          await this.#storedIds(c, batch, opts.collapseStages === true, ids);
          return [];
        }
      }
      if (fresh.values.length > 0) {
        // in one order in every collector, so that two inserting the same new values wait instead of deadlocking
        await c.query(
          `INSERT INTO terms (field, value, seen) SELECT f, v, $3::bigint FROM unnest($1::text[], $2::text[]) AS u(f, v)
           ORDER BY 1, 2
           ON CONFLICT (value, field) DO UPDATE SET seen = EXCLUDED.seen WHERE terms.seen < $4::bigint`,
          [fresh.fields, fresh.values, now, now - TERMS_SEEN_MS],
        );
      }
      const chain: ChainOp[] = [];
      const out = opts.collapseStages
        ? await this.#appendCollapsing(c, batch, chain)
        : await this.#insert(c, batch, chain);
      for (const { id, e } of out) ids.set(callKey(e, opts.collapseStages === true), id);
      if (out.length < batch.length) await this.#storedIds(c, batch, opts.collapseStages === true, ids);
      if (out.length > 0) {
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
        // delivered on commit, only if the transaction commits
        await c.query('SELECT pg_notify($1, $2 || $3 || x) FROM unnest($4::text[]) AS x', [
          this.#channel,
          this.#instance,
          ' ',
          chunks,
        ]);
      }
      const step = chainStepSql(chain, this.#genesis);
      if (step) atCommit(step);
      return out;
    }).catch((err) => {
      throw unavailable(err) ?? err;
    });
    for (let i = 0; i < fresh.values.length; i++) {
      const field = fresh.fields[i]!;
      let known = this.#knownTerms.get(field);
      if (!known || known.size >= KNOWN_TERMS) {
        known = new Set();
        this.#knownTerms.set(field, known);
      }
      known.add(fresh.values[i]!);
    }
    if (stored.length > 0 && this.#listeners.size > 0) {
      this.#emit(stored.map(({ id, e }) => ({ ...e, id })));
    }
    return { inserted: stored.length, duplicates: events.length - stored.length, ids: keys.map((k) => ids.get(k)) };
  }

  /**
   * The ids of the batch's events stored before (duplicates) that `ids` lacks, in one query by their call keys;
   * collapsing, by (auditID, received, source), the first row of the call.
   */
  async #storedIds(
    c: pg.ClientBase,
    batch: { e: AuditEvent; received: number }[],
    collapse: boolean,
    ids: Map<string, string>,
  ): Promise<void> {
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
          `SELECT e.id, e.audit_id, e.received, e.stage
           FROM events e JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS k(audit_id, stage, received)
             ON e.audit_id = k.audit_id AND e.stage = k.stage AND e.received = k.received`,
          [a, missing.map(({ e }) => e.stage), r],
        );
    for (const row of rows.rows) {
      const key = collapse
        ? `${row.audit_id}\u0000${row.received}\u0000${(row as { source: string }).source}`
        : `${row.audit_id}\u0000${(row as { stage: string }).stage}\u0000${row.received}`;
      ids.set(key, row.id);
    }
  }

  /** Inserts the batch's new events; their chain entries are added to `chain`. */
  async #insert(
    c: pg.ClientBase,
    batch: { e: AuditEvent; received: number }[],
    chain: ChainOp[],
  ): Promise<{ id: string; e: AuditEvent }[]> {
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
  async #appendCollapsing(
    c: pg.ClientBase,
    batch: { e: AuditEvent; received: number }[],
    chain: ChainOp[],
  ): Promise<{ id: string; e: AuditEvent }[]> {
    // per auditID (not per source): the stage change below must not race another source's insert of the same key
    const locks = [...new Set(batch.map(({ e }) => JSON.stringify([this.#schema, e.auditID])))].sort();
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
        out.push(...(await this.#insert(c, [item], chain)));
        continue;
      }
      const rank = stageRank(e.stage);
      if (old.some((r) => stageRank(r.stage) >= rank)) continue;
      // the new stage's key taken by another source's event of this call: a duplicate, as an insert would be
      const taken = await c.query('SELECT 1 FROM events WHERE audit_id = $1 AND stage = $2 AND received = $3', [
        e.auditID,
        e.stage,
        received,
      ]);
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

  #emit(events: StoredEvent[]): void {
    for (const l of this.#listeners) {
      try {
        l(events);
      } catch (err) {
        // A failing live-tail consumer must not fail an append that is already committed.
        process.emitWarning(`store subscriber failed: ${(err as Error)?.message ?? err}`);
      }
    }
  }

  async get(id: string, scope?: TenantScope): Promise<StoredEvent | undefined> {
    this.#open();
    if (!/^[1-9]\d{0,17}$/.test(id)) return undefined;
    const p = new Params();
    const idParam = p.add(id);
    const where = scope ? buildWhere({ scope }, p) : 'true';
    const r = await this.#read<{ body: string }>(
      `SELECT e.body FROM events e WHERE e.id = ${idParam}::bigint AND ${where}`,
      p.values,
    );
    const row = r.rows[0];
    return row ? withId(id, row.body) : undefined;
  }

  /**
   * Counts of a time-only query per bucket of `widthUs` (one bucket 0 without it): whole minutes of the
   * range from `event_minutes`, the partial minutes at its ends from the events. Undefined when the range lies
   * within one minute (then counting the events is as cheap).
   */
  async #minuteCounts(q: EventQuery, widthUs?: number): Promise<Map<number, number> | undefined> {
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
    const r = await this.#read<{ b: string; n: string }>(sql, p.values);
    const out = new Map<number, number>();
    for (const row of r.rows) {
      const b = Number(row.b);
      out.set(b, (out.get(b) ?? 0) + Number(row.n));
    }
    return out;
  }

  async #total(q: EventQuery, where: string, values: unknown[]): Promise<number> {
    if (countsFromMinutes(q)) {
      const m = await this.#minuteCounts(q);
      if (m) return m.get(0) ?? 0;
    }
    return Number(
      (await this.#read<{ n: string }>(`SELECT count(*) AS n FROM events e WHERE ${where}`, values)).rows[0]!.n,
    );
  }

  async query(q: EventQuery, page: PageRequest): Promise<Page> {
    this.#open();
    checkQuery(q);
    checkPage(page);
    const p = new Params();
    const where = buildWhere(q, p, await this.#termMatches(q));
    // a copy: the page's own parameters are added to `p` below while this query may still be queued
    const count = this.#total(q, where, [...p.values]);
    if (page.size === 0) return { total: await count, items: [] };
    const dir = page.sort === 'asc' ? 'ASC' : 'DESC';
    let sql = `SELECT e.id, e.received, e.body FROM events e WHERE ${where}`;
    if (page.after !== undefined) {
      const c = decodeCursor(page.after);
      sql += ` AND (e.received, e.id) ${page.sort === 'asc' ? '>' : '<'} (${p.add(c.received)}::bigint, ${p.add(c.id)}::bigint)`;
    }
    sql += ` ORDER BY e.received ${dir}, e.id ${dir} LIMIT ${p.add(page.size + 1)} OFFSET ${p.add(page.from ?? 0)}`;
    const [total, rows] = await Promise.all([
      count,
      this.#read<{ id: string; received: string; body: string }>(sql, p.values),
    ]);
    const list = rows.rows;
    const more = list.length > page.size;
    if (more) list.pop();
    const items = list.map((r) => withId(r.id, r.body));
    const last = list[list.length - 1];
    const n = total;
    return more && last ? { total: n, items, next: encodeCursor(Number(last.received), last.id) } : { total: n, items };
  }

  async histogram(q: EventQuery, intervalMs: number): Promise<Histogram> {
    this.#open();
    checkQuery(q);
    if (!Number.isInteger(intervalMs) || intervalMs <= 0)
      throw new QueryError(`interval must be a positive whole number of milliseconds, not ${intervalMs}`);
    // per-minute counts answer buckets of whole minutes when only time constrains the query
    const minutes =
      countsFromMinutes(q) && intervalMs % 60_000 === 0 ? await this.#minuteCounts(q, intervalMs * 1000) : undefined;
    let rows: { b: number; n: number }[];
    if (minutes) {
      rows = [...minutes].filter(([, n]) => n > 0).map(([b, n]) => ({ b, n }));
      rows.sort((x, y) => x.b - y.b);
    } else {
      const p = new Params();
      const width = p.add(intervalMs * 1000);
      const where = buildWhere(q, p, await this.#termMatches(q));
      const r = await this.#read<{ b: string; n: string }>(
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
      if (last - first + 1 > this.#maxBuckets)
        throw new QueryError(
          `a histogram with interval ${intervalMs} ms over this range has ${last - first + 1} buckets (at most ${this.#maxBuckets}): use a larger interval or a shorter range`,
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

  async stats(
    q: EventQuery,
    by: StatsField,
    limit: number,
  ): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }> {
    this.#open();
    checkQuery(q);
    if (!(STATS_FIELDS as readonly string[]).includes(by)) throw new QueryError(`cannot count by "${by}"`);
    const col = COLUMN[by];
    if (!Number.isInteger(limit) || limit < 0)
      throw new QueryError(`limit must be a non-negative integer, not ${limit}`);
    const p = new Params();
    const where = buildWhere(q, p, await this.#termMatches(q));
    const head = this.#read<{ n: string; a: string }>(
      `SELECT count(*) AS n, count(DISTINCT e.audit_id) AS a FROM events e WHERE ${where}`,
      [...p.values],
    );
    let top: { key: string; count: number }[] = [];
    if (limit > 0) {
      const lim = `$${p.values.length + 1}`;
      const sql = SPEC[by].list
        ? `SELECT v AS k, count(*) AS n FROM events e CROSS JOIN LATERAL (SELECT DISTINCT unnest(e.${col}) AS v) ips
             WHERE ${where} GROUP BY v ORDER BY n DESC, v COLLATE "C" LIMIT ${lim}`
        : SPEC[by].code
          ? `SELECT e.${col} AS k, count(*) AS n FROM events e WHERE ${where} AND e.${col} IS NOT NULL
               GROUP BY e.${col} ORDER BY n DESC, k LIMIT ${lim}`
          : `SELECT e.${col} AS k, count(*) AS n FROM events e WHERE ${where} AND e.${col} <> ''
               GROUP BY e.${col} ORDER BY n DESC, e.${col} COLLATE "C" LIMIT ${lim}`;
      const rows = await this.#read<{ k: string | number; n: string }>(sql, [...p.values, limit]);
      top = rows.rows.map((r) => ({ key: String(r.k), count: Number(r.n) }));
    }
    const h = (await head).rows[0]!;
    return { total: Number(h.n), auditIDs: Number(h.a), top };
  }

  /**
   * One retention step. Daily partitions entirely before the cutoff are dropped whole (their events are counted,
   * so the step may return more than `limit`: dropping costs the same for any number of events); then at most
   * `limit` events of the boundary day (or the DEFAULT partition) are deleted row by row, and old delivery ids
   * age out. Then the hash chain's prefix is cut at a signed checkpoint (`cutChain`).
   */
  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    this.#open();
    if (!Number.isFinite(cutoff)) throw new QueryError(`cutoff must be epoch milliseconds, not ${cutoff}`);
    if (!Number.isInteger(limit) || limit <= 0) throw new QueryError(`limit must be a positive integer, not ${limit}`);
    const cutoffUs = Math.ceil(cutoff) * 1000;
    const deleted = await this.#tx(async (c, atCommit) => {
      await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${this.#schema}:partitions`]);
      let deleted = 0;
      const chain: ChainOp[] = [];
      const old = (await this.#partitionStarts(c)).filter((start) => start + DAY_US <= cutoffUs).sort((x, y) => x - y);
      // The drop's chain entry vouches for the ids the partition holds: nothing may be written to it between reading
      // them and dropping it. The ids are read and hashed first, under no lock that stops anyone (plain reads), and
      // only confirmed under ACCESS EXCLUSIVE (which DROP takes anyway): appends and queries wait for a count, not
      // the digest. (A lock that blocks the partition's writers while reading, upgraded later, could deadlock with an
      // append of a late event: it holds `events` while it waits to write the partition.)
      const reads = new Map<number, DropRead>();
      for (const start of old) reads.set(start, await dropOp(c, partitionName(start), dayOf(start), this.#genesis));
      if (old.length > 0) await c.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      for (const start of old) {
        const name = partitionName(start);
        let drop = reads.get(start)!;
        // late events written to it since: read again, now that nothing can change it
        if (!(await dropStillHolds(c, name, drop, this.#genesis)))
          drop = await dropOp(c, name, dayOf(start), this.#genesis);
        deleted += drop.events;
        chain.push(drop.op);
        await c.query(`DROP TABLE ${name}`);
        await c.query('DELETE FROM event_minutes WHERE minute >= $1 AND minute < $2', [
          start / MINUTE_US,
          (start + DAY_US) / MINUTE_US,
        ]);
      }
      const rows = await c.query<{ id: string; received: string }>(
        `WITH victims AS (SELECT id, received FROM events WHERE received < $1 ORDER BY received LIMIT $2),
         d AS (DELETE FROM events e USING victims v WHERE e.id = v.id AND e.received = v.received
               RETURNING e.id, e.received),
         -- subtracted in shard 0, rows in key order as appends take them (no deadlock); reads sum the shards
         u AS (INSERT INTO event_minutes AS m (minute, shard, n)
               SELECT div(received, ${MINUTE_US}), 0, -count(*) FROM d GROUP BY 1 ORDER BY 1
               ON CONFLICT (minute, shard) DO UPDATE SET n = m.n + EXCLUDED.n)
         SELECT id, received FROM d ORDER BY id`,
        [cutoffUs, limit],
      );
      deleted += rows.rows.length;
      for (const r of rows.rows)
        chain.push({ op: OP_DELETE, id: Number(r.id), day: dayOf(Number(r.received)), bodyHash: EMPTY_BODY_HASH });
      // Delivery ids are only needed while their sender may still retry; they age out with the events.
      await c.query(
        'DELETE FROM batches WHERE key IN (SELECT key FROM batches WHERE stored < $1 ORDER BY stored LIMIT $2)',
        [cutoff, limit],
      );
      const step = chainStepSql(chain, this.#genesis);
      if (step) atCommit(step);
      return deleted;
    });
    // the chain's prefix no stored event needs any more goes too, in a transaction of its own: no lock on `events`
    if (deleted > 0)
      await this.#tx((c) => cutChain(c, `${this.#schema}:chain-cut`, this.#genesis, 4 * (deleted + limit)));
    await this.#read(PRUNE_TERMS_SQL, [cutoff - 86_400_000, limit]);
    return deleted;
  }

  /** Where a `vigil migrate-data` copy from `source` stopped (its cursor over the source), if it started. */
  async importPosition(source: string): Promise<{ cursor: string; copied: number } | undefined> {
    this.#open();
    const r = await this.#read<{ cursor: string; copied: string }>(
      'SELECT cursor, copied FROM data_imports WHERE source = $1',
      [source],
    );
    const row = r.rows[0];
    return row && { cursor: row.cursor, copied: Number(row.copied) };
  }

  async saveImportPosition(source: string, cursor: string, copied: number): Promise<void> {
    this.#open();
    await this.#tx((c) =>
      c.query(
        `INSERT INTO data_imports (source, cursor, copied) VALUES ($1, $2, $3)
         ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, copied = EXCLUDED.copied, updated_at = now()`,
        [source, cursor, copied],
      ),
    );
  }

  async size(): Promise<{ events: number; bytes: number }> {
    this.#open();
    const r = await this.#read<{ n: string; bytes: string }>(
      `SELECT (SELECT count(*) FROM events) AS n,
              (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'S')) AS bytes`,
      [this.#schema],
    );
    return { events: Number(r.rows[0]!.n), bytes: Number(r.rows[0]!.bytes) };
  }

  subscribe(listener: (events: StoredEvent[]) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#listenClient && !this.#listenRetry) this.#listen(0);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves once this instance listens for other collectors' appends (live tail across instances). */
  listening(): Promise<void> {
    if (this.#listenReady || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** One dedicated connection LISTENs; it reconnects (with backoff) when PostgreSQL restarts or kills it. */
  #listen(attempt: number): void {
    this.#listenRetry = undefined;
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#opts.url,
      application_name: this.#opts.applicationName ?? 'vigil',
      options: `-c search_path=${ident(this.#schema)}`,
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
      if (m.channel !== this.#channel || !m.payload) return;
      const sp = m.payload.indexOf(' ');
      if (m.payload.slice(0, sp) === this.#instance) return; // already emitted by append
      const ids = m.payload
        .slice(sp + 1)
        .split(',')
        .filter(Boolean);
      if (ids.length === 0 || this.#listeners.size === 0) return;
      this.#read<{ id: string; body: string }>('SELECT id, body FROM events WHERE id = ANY($1::bigint[]) ORDER BY id', [
        ids,
      ])
        .then((r) => {
          if (r.rows.length > 0) this.#emit(r.rows.map((x) => withId(x.id, x.body)));
        })
        .catch((err) => process.emitWarning(`vigil: live tail fetch failed: ${(err as Error)?.message ?? err}`));
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${ident(this.#channel)}`))
      .then(() => {
        this.#listenReady = true;
        for (const w of this.#readyWaiters.splice(0)) w();
        attempt = 0;
      })
      .catch(retry);
  }

  /**
   * Runs `fn` only if no other collector of this database runs a job of the same name (a session advisory lock
   * held on one connection for the job's duration); `ran` is false when another one holds it.
   */
  async runExclusive<T>(name: string, fn: () => Promise<T>): Promise<{ ran: boolean; value?: T }> {
    this.#open();
    const client = await this.#connect();
    let broken: Error | undefined;
    const key = `${this.#schema}:job:${name}`;
    try {
      const got = (await client.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [key])).rows[0]
        .ok as boolean;
      if (!got) return { ran: false };
      try {
        return { ran: true, value: await fn() };
      } finally {
        await client
          .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
          .catch((e: Error) => (broken = e));
      }
    } catch (err) {
      if (isConnectionError(err)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken ?? false);
    }
  }

  /** Every collector of the store signs with the same key; an advisory lock keeps their numbering in order. */
  async checkpoint(key: SigningKey, o: { force?: boolean; freshMs?: number } = {}): Promise<Checkpoint | undefined> {
    this.#open();
    const client = await this.#connect();
    let broken: Error | undefined;
    try {
      return await checkpointPostgres(client, this.#schema, key, o);
    } catch (err) {
      // a connection whose backend died is discarded, not handed to the next caller
      if (isConnectionError(err)) broken = err as Error;
      throw unavailable(err) ?? err;
    } finally {
      client.release(broken ?? false);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    for (const w of this.#readyWaiters.splice(0)) w();
    if (this.#partitionTimer) clearInterval(this.#partitionTimer);
    if (this.#listenRetry) clearTimeout(this.#listenRetry);
    const l = this.#listenClient;
    this.#listenClient = undefined;
    await Promise.all([l?.end().catch(() => {}), this.#pool.end()]);
  }
}
