// The SQLite store's schema and row encoding, shared by the reading side (src/store/sqlite/store.ts) and the writer
// (src/store/sqlite/writer.ts, run on a worker thread for file databases).
import type { DatabaseSync } from 'node:sqlite';
import { type AuditEvent, matchedRules, RULE_RECORDS } from '../../event/model.ts';
import { chainHash, EMPTY_BODY_HASH, OP_GENESIS, ZERO_HASH } from '../../integrity/chain.ts';
import { FIELDS, type FieldName } from '../fields.ts';
import { StoreUnavailableError } from '../types.ts';
import { BODIES_SCHEMA } from './bodies.ts';

/**
 * 2: the hash chain (`chain_log`, `checkpoints`) and the per-minute counts (`event_minutes`); a version-1 database is
 * chained from its upgrade on and its minutes are counted once from its events.
 * 3: no indexes on the low-cardinality fields (level, status, cluster, source); upgrading drops them.
 * 4: the verb and resource ride along in the indexes of the fields they are combined with (RESHAPED_INDEXES);
 * upgrading rebuilds those indexes.
 * 5: the rules that matched an event (the field `rule`, list term 18) are `event_values` rows; upgrading reads them
 * from the stored bodies that hold a record of matched rules (backfillRules).
 * 6: the audit ID index `events_audit` (audit_id, stage) replaces the unique (received, audit_id, stage) key: lookups by
 * audit ID are indexed, and an event is a repeat of any stored event with its auditID and stage, whatever its received
 * time (the writer looks before it inserts); bodies in compressed blocks (./bodies.ts: `body_blocks`, `body_dicts`,
 * `events.block`, packed in the background); the trigram index `terms_fts` without positions (detail = 'none').
 * 7: forwarding cursors (`forward_cursors`, src/forward); created by SCHEMA, so any older version gets it as is.
 */
export const SCHEMA_VERSION = 7;

/**
 * Indexes earlier versions had. A (value, received) index on a field of a handful of values selects a large share of
 * the events, so it barely speeds a query up, and every insert lands in the middle of the tree, splitting pages: the
 * four of them took about a third of the store's CPU per appended event.
 */
export const DROPPED_INDEXES = ['events_level', 'events_status', 'events_cluster', 'events_source'];

/**
 * Indexes whose columns schema 4 changed. A filter on verb or resource alone selects a large share of the events
 * (a handful of verbs, a few dozen resources), so "verb = get AND resource = pods" counted its total by reading the
 * table row of every event of one of them (≈ 125 000 row lookups at 1 M events, 70–90 ms); with the other column in
 * the index the count never leaves the index (≈ 8 ms). Users, namespaces and workspaces carry both, as their
 * combinations with verb and resource are the usual audit questions and a few of them (system users, kube-system)
 * account for most events. Appended after `received`: the order by time, which paging and histograms walk, stays.
 */
export const RESHAPED_INDEXES = [
  'events_verb',
  'events_resource',
  'events_username',
  'events_namespace',
  'events_workspace',
];

/** Events stored, from the per-minute counts (one row per minute instead of an index entry per event). */
export const EVENTS_STORED_SQL = 'SELECT coalesce(sum(n), 0) AS n FROM event_minutes';

/** Microseconds per minute: the granularity of `event_minutes`. */
export const MINUTE_US = 60_000_000;

/** A field whose values are in the `terms` dictionary (./fields.ts: `sqlite.term`). */
export interface TermField {
  name: FieldName;
  /** Its `terms.field` number. */
  term: number;
  /** Free text searches it. */
  text: boolean;
  get: (e: AuditEvent) => unknown;
}
/** A dictionary column: `events.<column>` holds the term id of the event's value. */
export interface DictField extends TermField {
  column: string;
  /** It has a (column, received…) index in SCHEMA. */
  indexed: boolean;
}

const termFields = FIELDS.flatMap((f): (TermField & { column?: string; indexed: boolean })[] =>
  'term' in f.sqlite
    ? [{ ...f.sqlite, name: f.name, text: 'text' in f, get: f.get, indexed: 'indexed' in f.sqlite }]
    : [],
).sort((a, b) => a.term - b.term);

/**
 * Dictionary columns in term order: their order in a new store's `events` (an upgrade adds a new one at the end) and
 * in a job's `dict` (per event).
 */
export const DICT_FIELDS: readonly DictField[] = termFields.filter((f): f is DictField => f.column !== undefined);
/** List fields: each value is an `event_values` row (term, event). */
export const LIST_FIELDS: readonly TermField[] = termFields.filter((f) => f.column === undefined);
termFields.forEach((f, i) => {
  if (!Number.isInteger(f.term) || f.term < 1 || f.term === termFields[i - 1]?.term)
    throw new Error(`fields.ts: ${f.name}: SQLite term numbers are distinct positive integers, not ${f.term}`);
});
/** A dictionary field's position in DICT_FIELDS (and in each event's run of a job's `dict`). */
export const DICT_POS = Object.fromEntries(DICT_FIELDS.map((f, i) => [f.name, i])) as Record<FieldName, number>;
export const FIELD_NO = Object.fromEntries(termFields.map((f) => [f.name, f.term])) as Record<FieldName, number>;
/** The `events` column of each field stored in one (a dictionary column or the value itself). */
export const COLUMN = Object.fromEntries(
  FIELDS.flatMap((f) => ('column' in f.sqlite ? [[f.name, f.sqlite.column]] : [])),
) as Record<FieldName, string>;
/** The highest term number. */
export const MAX_TERM = termFields[termFields.length - 1]?.term ?? 0;

/** Dictionary columns free text searches (with the list fields: TEXT_FIELD_NOS). */
export const TEXT_DICT: readonly DictField[] = DICT_FIELDS.filter((f) => f.text);

/** Term numbers free text searches. */
export const TEXT_FIELD_NOS: number[] = termFields.filter((f) => f.text).map((f) => f.term);

/** Term numbers of the list fields free text searches. */
export const TEXT_LIST_NOS: number[] = LIST_FIELDS.filter((f) => f.text).map((f) => f.term);

/**
 * Where a field is kept: `dict`, the term id of its value in `events.<column>`; `list`, `event_values` rows of
 * term ids; `code`, the HTTP status code in `events.<column>` (an integer); `value`, the text itself (audit IDs).
 */
export type Storage =
  | { kind: 'dict'; term: number; column: string }
  | { kind: 'list'; term: number }
  | { kind: 'code'; column: string }
  | { kind: 'value'; column: string };

export const STORAGE = Object.fromEntries(
  FIELDS.map((f): [FieldName, Storage] => {
    const s: { term?: number; column?: string } = f.sqlite;
    if (s.term !== undefined)
      return [
        f.name,
        s.column === undefined ? { kind: 'list', term: s.term } : { kind: 'dict', term: s.term, column: s.column },
      ];
    return [f.name, 'code' in f ? { kind: 'code', column: s.column! } : { kind: 'value', column: s.column! }];
  }),
) as Record<FieldName, Storage>;

/** Dictionary columns with a (column, received) index: the selective ones (see DROPPED_INDEXES). */
export const INDEXED_DICT: readonly DictField[] = DICT_FIELDS.filter((f) => f.indexed);

export const DICT_COLUMNS = DICT_FIELDS.map((f) => f.column).join(', ');

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS terms (
  id INTEGER PRIMARY KEY,              -- 0 is never stored: it stands for the empty or missing value
  field INTEGER NOT NULL,
  value TEXT NOT NULL,
  UNIQUE (field, value)
);
CREATE VIRTUAL TABLE IF NOT EXISTS terms_fts USING fts5(
  value, content = 'terms', content_rowid = 'id', tokenize = 'trigram', detail = 'none'
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- Vigil's id; AUTOINCREMENT: never reused, even after retention empties the table
  received INTEGER NOT NULL,           -- requestReceivedTimestamp, epoch microseconds
  audit_id TEXT NOT NULL,
  ${DICT_FIELDS.map((f) => `${f.column} INTEGER NOT NULL,`).join('\n  ')}
  code INTEGER,
  multi TEXT NOT NULL,                 -- term ids of the event's event_values rows, comma-separated
  block INTEGER                        -- body_blocks row holding its body; NULL: an event_bodies row (./bodies.ts)
);
-- Lookups by audit ID (users paste Kubernetes' Audit-Id header), idempotency on (auditID, stage) (the writer looks
-- here before it inserts: not UNIQUE, as stores before version 6 may hold a call twice at received times apart)
-- and the stage lookup of collapseStages.
CREATE INDEX IF NOT EXISTS events_audit ON events (audit_id, stage);
CREATE INDEX IF NOT EXISTS events_received ON events (received); -- (received, id) order for sorting and keyset paging
CREATE INDEX IF NOT EXISTS events_workspace ON events (workspace, received, verb, resource);
CREATE INDEX IF NOT EXISTS events_namespace ON events (namespace, received, verb, resource);
CREATE INDEX IF NOT EXISTS events_username ON events (username, received, verb, resource);
CREATE INDEX IF NOT EXISTS events_resource ON events (resource, received, verb);
CREATE INDEX IF NOT EXISTS events_name ON events (name, received);
CREATE INDEX IF NOT EXISTS events_verb ON events (verb, received, resource);
CREATE INDEX IF NOT EXISTS events_code ON events (code, received);
CREATE INDEX IF NOT EXISTS events_request_uri ON events (request_uri, received);
CREATE INDEX IF NOT EXISTS events_user_agent ON events (user_agent, received);
CREATE TABLE IF NOT EXISTS event_values (
  term INTEGER NOT NULL,               -- a group or source IP
  event_id INTEGER NOT NULL,
  PRIMARY KEY (term, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_bodies (
  id INTEGER PRIMARY KEY,
  body TEXT NOT NULL                   -- the event as JSON, until packed into a block
);
${BODIES_SCHEMA}
CREATE TABLE IF NOT EXISTS event_minutes (
  minute INTEGER PRIMARY KEY,          -- received / 60 s
  n INTEGER NOT NULL                   -- events stored with a received time in that minute
);
CREATE TABLE IF NOT EXISTS batches (
  key TEXT PRIMARY KEY,                -- delivery id (OpenFaaS X-Openfaas-Delivery)
  stored INTEGER NOT NULL              -- epoch ms
);
CREATE INDEX IF NOT EXISTS batches_stored ON batches (stored);
CREATE TABLE IF NOT EXISTS chain_log (
  seq INTEGER PRIMARY KEY,             -- position in the chain, 1 = genesis
  op INTEGER NOT NULL,                 -- 0 genesis (event_id: last unchained id), 1 insert, 2 replace, 3 retention delete
  event_id INTEGER NOT NULL,
  body_hash BLOB NOT NULL,             -- sha256 of the stored JSON (zeros for genesis and delete)
  hash BLOB NOT NULL                   -- chain hash through this entry
);
CREATE INDEX IF NOT EXISTS chain_log_event ON chain_log (event_id, seq); -- verify: the latest entry of each event
CREATE TABLE IF NOT EXISTS forward_cursors (
  name TEXT PRIMARY KEY,               -- the forwarding destination (forward[].name)
  position INTEGER NOT NULL,           -- the chain_log entry it has delivered last
  updated INTEGER NOT NULL             -- epoch ms
);
CREATE TABLE IF NOT EXISTS checkpoints (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,                 -- epoch ms
  last_seq INTEGER NOT NULL,           -- chain entry the head is the hash of
  count INTEGER NOT NULL,              -- chained events stored at that point
  head BLOB NOT NULL,
  signature BLOB NOT NULL,             -- Ed25519 over checkpointMessage() (src/integrity/checkpoint.ts)
  key_id TEXT NOT NULL
);
`;

/**
 * Brings the database to SCHEMA_VERSION (in one transaction; `name` for messages), starting its hash chain where it has
 * none. A newer version is refused: this Vigil would not know its layout.
 */
export function upgrade(db: DatabaseSync, name: string): void {
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version > SCHEMA_VERSION)
    throw new Error(`${name}: schema version ${version} is newer than this Vigil supports (${SCHEMA_VERSION})`);
  // Version 1 had no per-minute counts: they are counted once from the events when the table is added.
  const backfill =
    version === 1
      ? 'INSERT OR REPLACE INTO event_minutes (minute, n) SELECT CASE WHEN received >= 0 THEN received / 60000000 ELSE (received + 1) / 60000000 - 1 END, count(*) FROM events GROUP BY 1;'
      : '';
  const drops = version < 3 ? DROPPED_INDEXES.map((ix) => `DROP INDEX IF EXISTS ${ix};`).join(' ') : '';
  // dropped before SCHEMA creates them in their new shape (a rebuild: seconds per million events, once)
  const reshape =
    version > 0 && version < 4 ? RESHAPED_INDEXES.map((ix) => `DROP INDEX IF EXISTS ${ix};`).join(' ') : '';
  // events_audit (in SCHEMA) takes over the call key's work: built once on upgrade (seconds per million events)
  // and bodies move to blocks: the store's events are packed in the background (./packer.ts), not here
  const blockless = version > 0 && !db.prepare(`SELECT 1 FROM pragma_table_info('events') WHERE name = 'block'`).get();
  const callKey = `${version > 0 && version < 6 ? 'DROP INDEX IF EXISTS events_call; DROP TABLE IF EXISTS terms_fts;' : ''} ${
    blockless ? 'ALTER TABLE events ADD COLUMN block INTEGER;' : ''
  }`;
  // the trigram index without positions (detail none: a third of its size), rebuilt from the dictionary once
  const rebuild = version > 0 && version < 6 ? `INSERT INTO terms_fts (terms_fts) VALUES ('rebuild');` : '';
  db.exec(
    `BEGIN IMMEDIATE; ${reshape} ${callKey} ${SCHEMA} ${rebuild} ${backfill} ${drops} PRAGMA user_version = ${SCHEMA_VERSION}`,
  );
  try {
    if (version > 0 && version < 5) backfillRules(db);
    if (!db.prepare('SELECT 1 FROM chain_log LIMIT 1').get()) {
      // Events stored before the chain existed (schema 1) stay unchained: genesis records the last of their ids.
      const last = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).get() as
        | { seq: number }
        | undefined;
      const id = last?.seq ?? 0;
      db.prepare('INSERT INTO chain_log (seq, op, event_id, body_hash, hash) VALUES (1, ?, ?, ?, ?)').run(
        OP_GENESIS,
        id,
        EMPTY_BODY_HASH,
        chainHash(ZERO_HASH, OP_GENESIS, 1, id, EMPTY_BODY_HASH),
      );
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/**
 * Schema 5: the `rule` values of the events stored before it, from their bodies' records of matched rules (only
 * bodies that mention one are parsed), added as the writer adds them: dictionary term, `event_values` row, `multi`.
 */
function backfillRules(db: DatabaseSync): void {
  const term = FIELD_NO.rule;
  const find = db.prepare('SELECT id FROM terms WHERE field = ? AND value = ?');
  const addTerm = db.prepare('INSERT INTO terms (field, value) VALUES (?, ?)');
  const addFts = db.prepare('INSERT INTO terms_fts (rowid, value) VALUES (?, ?)');
  const addValue = db.prepare('INSERT OR IGNORE INTO event_values (term, event_id) VALUES (?, ?)');
  const setMulti = db.prepare('UPDATE events SET multi = ? WHERE id = ?');
  const ids = new Map<string, number>();
  const termId = (value: string): number => {
    let id = ids.get(value) ?? (find.get(term, value) as { id: number } | undefined)?.id;
    if (id === undefined) {
      id = Number(addTerm.run(term, value).lastInsertRowid);
      addFts.run(id, value);
    }
    ids.set(value, id);
    return id;
  };
  const rows = db
    .prepare(
      `SELECT e.id, e.multi, b.body FROM events e JOIN event_bodies b ON b.id = e.id
       WHERE ${RULE_RECORDS.map(() => 'b.body LIKE ?').join(' OR ')} ORDER BY e.id`,
    )
    .iterate(...RULE_RECORDS.map((a) => `%${JSON.stringify(a)}%`)) as Iterable<{
    id: number;
    multi: string;
    body: string;
  }>;
  // read first, written after: rows are not updated under the statement that reads them
  const found: { id: number; multi: string; names: string[] }[] = [];
  for (const r of rows) {
    let names: string[] | undefined;
    try {
      names = matchedRules(JSON.parse(r.body) as AuditEvent);
    } catch {
      continue; // not JSON: nothing to read a rule from (the body itself is left as it is)
    }
    if (names?.length) found.push({ id: r.id, multi: r.multi, names });
  }
  for (const r of found) {
    const multi = r.multi ? r.multi.split(',') : [];
    for (const name of r.names) {
      const id = termId(name);
      if (addValue.run(id, r.id).changes > 0) multi.push(String(id));
    }
    setMulti.run(multi.join(','), r.id);
  }
}

/** Events appended between two refreshes of the planner's statistics. */
export const STATS_EVERY = 100_000;
/** SQLite primary result codes that mean "cannot write now, may later" (extended codes keep them in the low byte). */
const UNAVAILABLE: Record<number, string> = { 5: 'busy', 6: 'busy', 10: 'io', 13: 'full', 14: 'io' };

/** A node:sqlite error of a full disk, an I/O failure or a lock, as the contract's StoreUnavailableError. */
export function unavailable(err: unknown): StoreUnavailableError | undefined {
  const e = err as { code?: string; errcode?: number; errstr?: string; message?: string };
  if (e?.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') return undefined;
  const reason = UNAVAILABLE[e.errcode & 0xff];
  if (!reason) return undefined;
  return new StoreUnavailableError(`store unavailable: ${e.errstr ?? e.message}`, reason, 5, err);
}

/** Per-field dictionary cache size; past it the field's cache starts over (lookups then go to the database). */
export const TERM_CACHE = 200_000;

export function placeholders(n: number): string {
  return n === 1 ? '?' : `?${',?'.repeat(n - 1)}`;
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

const DICT_GET = DICT_FIELDS.map((f) => f.get);
const DICT_TERM = DICT_FIELDS.map((f) => f.term);
const LIST_GET = LIST_FIELDS.map((f) => f.get);
const LIST_TERM = LIST_FIELDS.map((f) => f.term);

/**
 * A batch's dictionary and list values, each distinct (field, value) once: what crosses to the writer thread and what
 * the writer looks up in the dictionary, once per batch instead of once per event and field (a batch repeats its
 * verbs, users, namespaces and groups in most events; as strings per event they were most of the thread crossing's
 * cost). Plain loops over the getters: once per event.
 */
export interface BatchTerms {
  /** The distinct values: `terms[i]` is a value of field number `termFields[i]`. */
  terms: string[];
  termFields: number[];
  /** Per event, DICT_FIELDS.length positions in `terms` in DICT_FIELDS order; -1 for a missing or empty value. */
  dict: Int32Array;
  /** Event i's list values are the positions `lists[listStart[i]]`…`lists[listStart[i + 1] - 1]` in `terms`. */
  listStart: Int32Array;
  lists: Int32Array;
}

export function batchTerms(events: readonly AuditEvent[]): BatchTerms {
  const terms: string[] = [];
  const termFields: number[] = [];
  const seen: Map<string, number>[] = Array.from({ length: MAX_TERM + 1 }, () => new Map());
  const intern = (field: number, v: string): number => {
    const m = seen[field]!;
    let i = m.get(v);
    if (i === undefined) {
      i = terms.length;
      terms.push(v);
      termFields.push(field);
      m.set(v, i);
    }
    return i;
  };
  const dict = new Int32Array(events.length * DICT_GET.length);
  const listStart = new Int32Array(events.length + 1);
  const lists: number[] = [];
  const lastValue: (string | undefined)[] = new Array(DICT_GET.length);
  const lastIndex = new Int32Array(DICT_GET.length);
  let d = 0;
  for (let n = 0; n < events.length; n++) {
    const e = events[n]!;
    for (let i = 0; i < DICT_GET.length; i++) {
      const v = DICT_GET[i]!(e);
      if (typeof v !== 'string' || v === '') dict[d++] = -1;
      // neighbouring events often share a column's value (verb, user, namespace): one comparison, no lookup
      else if (v === lastValue[i]) dict[d++] = lastIndex[i]!;
      else {
        const t = intern(DICT_TERM[i]!, v);
        lastValue[i] = v;
        lastIndex[i] = t;
        dict[d++] = t;
      }
    }
    for (let i = 0; i < LIST_GET.length; i++) {
      const list = LIST_GET[i]!(e) as unknown[] | undefined;
      if (list)
        for (let j = 0; j < list.length; j++) {
          const v = list[j];
          if (typeof v === 'string' && v !== '') lists.push(intern(LIST_TERM[i]!, v));
        }
    }
    listStart[n + 1] = lists.length;
  }
  return { terms, termFields, dict, listStart, lists: Int32Array.from(lists) };
}

/**
 * Page cache of the write connection, MiB (`storage.cacheMiB`; the query connection gets a quarter). It is most of
 * the collector's memory beyond V8's heap. 256 MiB bought no ingest speed: appends to a 3.2 GB store of 1 M varied
 * events ran as fast with 64, 32 or 16 MiB (ratios 1.05–1.12 to 256, `npm run bench store`), the OS's file cache
 * serving the pages; and it took a 10-minute soak's first minutes to fill, which read as growth.
 */
export const DEFAULT_CACHE_MIB = 32;

/** Connection settings every connection to a store file uses (the reader's and the writer's). */
export function configure(db: DatabaseSync, cacheMiB = DEFAULT_CACHE_MIB): void {
  // WAL: readers never block the writer. synchronous=FULL: in WAL mode NORMAL may lose the last commits on
  // power loss, and an append answers only after its events are durable.
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  // Checkpoint every ~40 MiB of WAL instead of 4 MiB: index pages dirtied by many commits reach the database
  // file once per checkpoint, so fewer checkpoints write fewer pages.
  db.exec('PRAGMA wal_autocheckpoint = 10000');
  db.exec('PRAGMA journal_size_limit = 67108864');
  db.exec(`PRAGMA cache_size = ${-1024 * Math.max(2, Math.floor(cacheMiB))}`);
  db.exec('PRAGMA temp_store = MEMORY');
}
