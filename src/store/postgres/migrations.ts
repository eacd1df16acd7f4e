// The PostgreSQL schema as ordered, versioned migrations. Each runs once, in its own transaction, recorded in
// `vigil_migrations`; the whole run holds an advisory lock so that collectors starting together do not race.
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  /** SQL run with `search_path` set to Vigil's schema; `{{ext}}` is the schema that holds pg_trgm and btree_gin. */
  sql: string;
}

// Design (see docs/scaling.md):
// - `events` is range-partitioned by `received` (requestReceivedTimestamp, epoch µs) in UTC days, so retention
//   drops whole partitions; a DEFAULT partition takes events outside the pre-created days.
// - Idempotency on (auditID, stage): the insert looks for the key received within a day (REPEAT_WINDOW_US in
//   ./append.ts) through the (audit_id, stage, received) index of the partitions in that window; the unique index
//   (it must contain the partition key) settles concurrent inserts of the same bytes. Dropping a partition drops
//   its keys too. (A global (audit_id, stage) key would need a non-partitioned key table whose rows retention must
//   delete one by one.) The same index answers lookups by audit ID.
// - Filter fields are plain columns ('' for a missing string, so an exact '' finds events without the field and
//   every btree stays total); lists are text[] with GIN indexes; `search` is the '\n'-joined lower-cased text of
//   the fields free text searches, with a trigram GIN index that also prefilters fuzzy searches on those fields.
// - `body` (1–3 KB of JSON) is compressed (lz4) and moved out of line already above 256 bytes per row
//   (`toast_tuple_target` on each partition): the heap then holds only the filter columns, so counts, histograms
//   and bitmap scans read a fraction of the pages; a page of results fetches its 50 bodies from TOAST.
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'events partitioned by day, batches',
    sql: `
CREATE SEQUENCE event_ids;
CREATE TABLE events (
  id bigint NOT NULL,
  received bigint NOT NULL,
  audit_id text NOT NULL,
  stage text NOT NULL,
  verb text NOT NULL,
  level text NOT NULL,
  username text NOT NULL,
  namespace text NOT NULL,
  workspace text NOT NULL,
  cluster text NOT NULL,
  devops text NOT NULL,
  resource text NOT NULL,
  subresource text NOT NULL,
  name text NOT NULL,
  code integer,
  status text NOT NULL,
  source text NOT NULL,
  groups text[] NOT NULL,
  source_ips text[] NOT NULL,
  search text NOT NULL,
  body text COMPRESSION lz4 NOT NULL
) PARTITION BY RANGE (received);
CREATE TABLE events_default PARTITION OF events DEFAULT WITH (toast_tuple_target = 256);
CREATE INDEX events_received ON events (received, id);
CREATE INDEX events_id ON events (id);
CREATE UNIQUE INDEX events_key ON events (audit_id, stage, received);
CREATE INDEX events_workspace ON events (workspace, received);
CREATE INDEX events_namespace ON events (namespace, received);
CREATE INDEX events_resource ON events (resource, received);
CREATE INDEX events_name ON events (name, received);
CREATE INDEX events_verb ON events (verb, received);
CREATE INDEX events_username ON events (username, received);
CREATE INDEX events_code ON events (code, received);
-- the low-cardinality fields share one GIN (btree_gin): a btree each costs as much per insert as a selective one,
-- and a filter on them alone selects a large share anyway; GIN's pending list batches their index work
CREATE INDEX events_enums ON events USING gin (
  level {{ext}}.text_ops, stage {{ext}}.text_ops, source {{ext}}.text_ops, status {{ext}}.text_ops,
  cluster {{ext}}.text_ops, devops {{ext}}.text_ops, subresource {{ext}}.text_ops);
CREATE INDEX events_groups ON events USING gin (groups);
CREATE INDEX events_source_ips ON events USING gin (source_ips);
CREATE INDEX events_search ON events USING gin (search {{ext}}.gin_trgm_ops);

CREATE TABLE batches (
  key text PRIMARY KEY,
  stored bigint NOT NULL
);
CREATE INDEX batches_stored ON batches (stored);

-- Events per minute, kept by the append statement itself: histograms and totals constrained only by time sum these
-- rows instead of counting events. Each append adds to one of 16 shards (chosen at random), so that concurrent
-- appends — of one collector or several — rarely wait on the same counter row; reads sum the shards.
CREATE TABLE event_minutes (
  minute bigint NOT NULL,
  shard smallint NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (minute, shard)
);

-- vigil migrate-data: how far the copy from each source got (its keyset cursor), so that a rerun resumes
CREATE TABLE data_imports (
  source text PRIMARY KEY,
  cursor text NOT NULL,
  copied bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

`,
  },
  {
    version: 2,
    name: 'alerts and their pending deliveries',
    // Next to the events so that every collector of the database shares them (src/alerts/postgres.ts). The unique
    // key stores one event's alert once even when two collectors raise it; times are epoch milliseconds.
    sql: `
CREATE TABLE alerts (
  id bigserial PRIMARY KEY,
  key text NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  rule text NOT NULL,
  priority text NOT NULL,
  message text NOT NULL,
  event_id text NOT NULL,
  audit_id text NOT NULL,
  workspace text,
  namespace text,
  labels jsonb NOT NULL,
  annotations jsonb NOT NULL,
  fingerprint text NOT NULL,
  grouped_with bigint,
  repeats integer NOT NULL DEFAULT 0
);
CREATE INDEX alerts_created ON alerts (created_at);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint, created_at);
CREATE INDEX alerts_event ON alerts (event_id);
CREATE TABLE alert_deliveries (
  id bigserial PRIMARY KEY,
  alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  receiver text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_at bigint NOT NULL,
  lease_until bigint NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_at);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);
`,
  },
  {
    version: 3,
    name: 'hash chain and signed checkpoints',
    // Tamper evidence (src/integrity/chain.ts, docs/integrity.md): every insert, collapse, retention delete and
    // partition drop is a chain entry written in the same transaction as the change. The entries of one transaction
    // are stored as one `chain_blocks` row (arrays and packed 32-byte hashes): the row is written while the chain
    // head is locked, and one row instead of one per event keeps that short; `chain_step` does it server-side. `chain_log` shows the entries one per
    // row, as SQLite's table of that name. `chain_head` is the chain's end, updated by the same transactions: its row
    // lock orders the writers' chain steps, and checkpoints read it without counting the events. Events stored
    // before this version stay unchained: the genesis entry records the last id handed out then.
    sql: `
CREATE TABLE chain_blocks (
  seq bigint PRIMARY KEY,              -- the block's first entry: it holds entries seq .. seq + n - 1 (1 = genesis)
  ops smallint[] NOT NULL,             -- 0 genesis, 1 insert, 2 replace, 3 retention delete, 4 partition drop
  event_ids bigint[] NOT NULL,         -- genesis: last unchained id; drop: number of chained events dropped
  days integer[] NOT NULL,             -- UTC day (received µs / 86 400 000 000) of the event, or of the day dropped
  body_hashes bytea NOT NULL,          -- 32 bytes per entry: sha256 of the stored JSON; zeros for genesis and
                                       -- delete; a drop's DropDigest
  hashes bytea NOT NULL                -- 32 bytes per entry: the chain hash through it
);
CREATE VIEW chain_log AS
  SELECT b.seq + i - 1 AS seq, b.ops[i] AS op, b.event_ids[i] AS event_id, b.days[i] AS day,
    substr(b.body_hashes, 32 * i - 31, 32) AS body_hash, substr(b.hashes, 32 * i - 31, 32) AS hash
  FROM chain_blocks b CROSS JOIN LATERAL generate_subscripts(b.ops, 1) AS i;
-- The chain step, run in one message with COMMIT (src/store/postgres/chain.ts): locks the head, hashes the entries
-- onto it as src/integrity/chain.ts does (sha256(prev ‖ 'vigil-chain/1' ‖ op ‖ seq ‖ event id ‖ body hash)), stores
-- them as one block and moves the head. Server-side, so that the lock is never held across a round trip.
CREATE FUNCTION chain_step(p_ops smallint[], p_ids bigint[], p_days integer[], p_bodies bytea, p_delta bigint)
RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$
DECLARE
  tag constant bytea := convert_to('vigil-chain/1', 'UTF8');
  one_byte constant bytea := decode('00', 'hex');
  first bigint;
  prev bytea;
  all_hashes bytea := ''::bytea;
BEGIN
  SELECT seq + 1, hash INTO first, prev FROM chain_head FOR UPDATE;
  FOR i IN 1 .. cardinality(p_ops) LOOP
    prev := sha256(prev || tag || set_byte(one_byte, 0, p_ops[i]) || int8send(first + i - 1) || int8send(p_ids[i])
      || substr(p_bodies, 32 * i - 31, 32));
    all_hashes := all_hashes || prev;
  END LOOP;
  INSERT INTO chain_blocks (seq, ops, event_ids, days, body_hashes, hashes)
    VALUES (first, p_ops, p_ids, p_days, p_bodies, all_hashes);
  UPDATE chain_head SET seq = first + cardinality(p_ops) - 1, hash = prev, count = count + p_delta;
END
$f$;
CREATE TABLE chain_head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq bigint NOT NULL,
  hash bytea NOT NULL,
  count bigint NOT NULL                -- chained events stored (inserts minus deletes and drops)
);
CREATE TABLE checkpoints (
  seq integer PRIMARY KEY,
  at bigint NOT NULL,                  -- epoch ms
  last_seq bigint NOT NULL,            -- chain entry the head is the hash of
  count bigint NOT NULL,               -- chained events stored at that point
  head bytea NOT NULL,
  signature bytea NOT NULL,            -- Ed25519 over checkpointMessage() (src/integrity/checkpoint.ts)
  key_id text NOT NULL
);
WITH g AS (
  SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS id, decode(repeat('00', 32), 'hex') AS zero FROM event_ids
),
h AS (
  SELECT g.id, g.zero,
    sha256(g.zero || convert_to('vigil-chain/1', 'UTF8') || decode('00', 'hex') || int8send(1::bigint) || int8send(g.id) || g.zero) AS hash
  FROM g
),
ins AS (
  INSERT INTO chain_blocks (seq, ops, event_ids, days, body_hashes, hashes)
  SELECT 1, ARRAY[0]::smallint[], ARRAY[id], ARRAY[0], zero, hash FROM h
)
INSERT INTO chain_head (seq, hash, count) SELECT 1, hash, 0 FROM h;
`,
  },
  {
    version: 4,
    name: 'verb and resource included in the indexes they are combined with',
    // A filter on a user, namespace, workspace, verb or resource combined with a verb or resource ("user-7's
    // deletes", "get on pods") counted its total by visiting the heap row of every event of the first filter. With
    // the other columns included, the count is an index-only scan (on partitions the visibility map shows as
    // all-visible, i.e. every day but the current one once autovacuum has passed). Rebuilds five indexes once.
    sql: `
DROP INDEX events_verb;
CREATE INDEX events_verb ON events (verb, received) INCLUDE (resource);
DROP INDEX events_resource;
CREATE INDEX events_resource ON events (resource, received) INCLUDE (verb);
DROP INDEX events_username;
CREATE INDEX events_username ON events (username, received) INCLUDE (verb, resource);
DROP INDEX events_namespace;
CREATE INDEX events_namespace ON events (namespace, received) INCLUDE (verb, resource);
DROP INDEX events_workspace;
CREATE INDEX events_workspace ON events (workspace, received) INCLUDE (verb, resource);
`,
  },
  {
    version: 5,
    name: 'dictionary of distinct values for fuzzy and free-text search',
    // The trigram index over every event's `search` text was a third of PostgreSQL's CPU per appended event. Values
    // of the columns with their own index (and of the lists) are now looked up once each in `terms`, and the
    // matching values select events through those indexes; `search` keeps only what has no column (request URI,
    // user agent) and the status. Older rows keep their longer `search` text, which only ever matches more of what
    // the dictionary already finds. Fills the dictionary from the stored events once (one pass over them).
    // Retention removes values no append has brought since well before its cutoff and no stored event holds.
    sql: `
-- (value, field): with the field first the planner ANDs a scan of all of a field's values (a million source IPs)
-- with the trigram lookup instead of filtering the few values that lookup finds
CREATE TABLE terms (
  field text NOT NULL,
  value text NOT NULL,
  seen bigint NOT NULL,                -- epoch ms an append last brought the value (renewed at most hourly)
  PRIMARY KEY (value, field)
);
-- the field in the same GIN as the value's trigrams: a lookup reads the postings of one field's values only
CREATE INDEX terms_search ON terms USING gin (field {{ext}}.text_ops, value {{ext}}.gin_trgm_ops);
CREATE INDEX terms_seen ON terms (seen);
INSERT INTO terms (field, value, seen)
SELECT x.field, x.value, (extract(epoch FROM now()) * 1000)::bigint FROM (
SELECT DISTINCT x.field, x.value
FROM events e, LATERAL (VALUES ('user', e.username), ('verb', e.verb), ('resource', e.resource), ('name', e.name),
  ('namespace', e.namespace), ('workspace', e.workspace)) AS x(field, value)
WHERE x.value <> ''
UNION SELECT 'group', g FROM events e, unnest(e.groups) AS g WHERE g <> ''
UNION SELECT 'sourceIP', ip FROM events e, unnest(e.source_ips) AS ip WHERE ip <> '') AS x;
`,
  },
  {
    version: 6,
    name: 'several clusters: cluster in the dictionary; the rules that matched an event',
    // The cluster joins the dictionary (its fuzzy search finds the few cluster names there, then the events through
    // events_enums). `rules`: the names of the rules that matched an event (the field `rule`), from the engine's
    // records on the event (src/event/model.ts, matchedRules), with a GIN as the other lists; events stored before are
    // read once for it (only bodies that mention the record; a body that is not valid jsonb, e.g. one holding
    // \u0000, keeps no rules rather than failing the migration).
    sql: `
ALTER TABLE events ADD COLUMN rules text[] NOT NULL DEFAULT '{}';
CREATE FUNCTION pg_temp.matched_rules(body text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  annotations jsonb;
  names text[] := '{}';
  key text;
  record jsonb;
BEGIN
  annotations := body::jsonb -> 'annotations';
  FOREACH key IN ARRAY ARRAY['vigil.dev/kubesphere-rules', 'vigil.dev/falco-rules'] LOOP
    BEGIN
      record := (annotations ->> key)::jsonb;
    EXCEPTION WHEN others THEN
      record := NULL;
    END;
    IF jsonb_typeof(record) = 'array' THEN
      names := names || ARRAY(SELECT r ->> 'rule' FROM jsonb_array_elements(record) AS r
        WHERE jsonb_typeof(r) = 'object' AND jsonb_typeof(r -> 'rule') = 'string' AND r ->> 'rule' <> '');
    END IF;
  END LOOP;
  RETURN ARRAY(SELECT DISTINCT x FROM unnest(names) AS x);
EXCEPTION WHEN others THEN
  RETURN '{}';
END
$f$;
UPDATE events SET rules = pg_temp.matched_rules(body)
  WHERE body LIKE '%"vigil.dev/falco-rules"%' OR body LIKE '%"vigil.dev/kubesphere-rules"%';
-- after the backfill: built once over the result instead of updated row by row
CREATE INDEX events_rules ON events USING gin (rules);
INSERT INTO terms (field, value, seen)
SELECT DISTINCT 'cluster', cluster, (extract(epoch FROM now()) * 1000)::bigint FROM events WHERE cluster <> ''
ON CONFLICT DO NOTHING;
`,
  },
  // 7 is allocated to another change (storage); each runs once whatever the order it arrives in.
  {
    version: 8,
    name: 'forwarding cursors',
    // Each forwarding destination's last delivered position in the append log (the hash chain's entries, in commit
    // order), shared by the collectors so that whichever drives a destination resumes where the last one stopped.
    sql: `
CREATE TABLE forward_cursors (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated bigint NOT NULL              -- epoch ms
);
`,
  },
];

/** Quotes an identifier Vigil accepts for its schema (checked by `checkSchemaName`). */
export function ident(name: string): string {
  return `"${name}"`;
}

export function checkSchemaName(schema: string): void {
  // at most 48: the live-tail channel `vigil_events:<schema>` must stay within PostgreSQL's 63-byte identifiers
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema))
    throw new Error(`schema name "${schema}" must be lower-case letters, digits and _ (at most 48), not a digit first`);
}

/** One lock for all migrations of the database: CREATE EXTENSION is database-wide, so schemas serialize too. */
const MIGRATION_LOCK = "hashtextextended('vigil migrate', 0)";

/** Brings `schema` to the newest version; returns the versions applied by this call. */
export async function migrate(client: pg.ClientBase, schema: string): Promise<number[]> {
  checkSchemaName(schema);
  const s = ident(schema);
  await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
  try {
    // in public, not in Vigil's schema: dropping that schema must not drop extensions other schemas use
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public');
    await client.query('CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public');
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.vigil_migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const ext = await client.query<{ extname: string; nspname: string }>(
      `SELECT x.extname, n.nspname FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
       WHERE x.extname IN ('pg_trgm', 'btree_gin')`,
    );
    const extSchemas = new Set(ext.rows.map((r) => r.nspname));
    if (extSchemas.size !== 1)
      throw new Error('pg_trgm and btree_gin must be installed in one schema (Vigil installs both in public)');
    const extSchema = [...extSchemas][0]!;
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM ${s}.vigil_migrations`)).rows.map((r) => r.version),
    );
    const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    const unknown = [...done].filter((v) => v > newest);
    if (unknown.length > 0)
      throw new Error(
        `schema ${schema} is at version ${Math.max(...unknown)}, newer than this Vigil knows (${newest}): upgrade Vigil`,
      );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path TO ${s}`);
        await client.query(m.sql.replaceAll('{{ext}}', ident(extSchema)));
        await client.query(`INSERT INTO ${s}.vigil_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => {});
  }
}
