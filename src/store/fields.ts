// The fields queries filter, search and count by: one entry per field, holding everything that differs from field to
// field. Nothing else lists them; each user derives what it needs from this table:
//   name      the field in EventQuery (`exact`/`fuzzy`) and stats; stored too, as PostgreSQL's `terms.field`
//   get/list  its value in an event, or with `list` its values (groups, source IPs, rules) → fieldValues (the live tail's
//             matcher, PostgreSQL's dictionary), searchableValues, both stores' rows
//   params    KubeSphere's query parameters, `*_filter` exact and `*_search` fuzzy → query/params.ts's FILTER_PARAMS
//             and JSON schemas; a field without them is no filter (only free text searches it): not in FilterField.
//             Every `*_filter` has its `*_exclude` (excludeParam: the same exact values, negated) → FIELD_PARAMS
//   text      free text (`q`) searches it → searchableValues, SQLite's text columns, PostgreSQL's dictionary/`search`
//   stats     `/stats?by=NAME` counts by it → query/params.ts's STATS_BY, STATS_FIELDS, both stores' stats
//   oneOf     its only values: a fuzzy term becomes an exact match on those containing it (PostgreSQL)
//   code      an HTTP status code: exact values that are not integers match nothing, a fuzzy term matches the codes
//             whose digits contain it
//   sqlite    `term` N: its values are in SQLite's `terms` dictionary as field N (stored: never renumber), with
//             `column` the `events` column holding the term id, or without a column one `event_values` row per
//             value; `column` alone: the value itself in that column; `indexed`: it has a (column, received…) index
//             (SCHEMA's statement, src/store/sqlite/schema.ts), so retention may drop its unused dictionary values
//   postgres  its `column` in `events`; `terms`: its values are kept in the `terms` dictionary, where fuzzy and free
//             text look first; `search` N: it is line N of the `search` text (stored: never reorder)
//   console   in the console's filter list (web/src/query.ts), in this table's order: label, placeholder, and
//             `suggest: false` where the filter editor suggests no values from /stats
//   cli       the `vigil query` flag that filters on it exactly → CLI_FILTERS
//   label     how people call it where the console has no filter for it (else its console label): FREE_TEXT's list,
//             the console's pivots
// So a new filterable field is one entry here plus what is genuinely new: its column in each store and the schema
// migrations that add it to existing stores (SQLite: SCHEMA_VERSION and `upgrade` in src/store/sqlite/schema.ts,
// with its index statement if indexed; PostgreSQL: a migration in src/store/postgres/migrations.ts).
// Pure data and small functions, no node: imports: the console's bundle imports this file too.
import { type AuditEvent, eventNamespace, LEVELS, matchedRules, SOURCES, STAGES } from '../event/model.ts';

export type SqliteStorage =
  | { readonly term: number; readonly column: string; readonly indexed?: true }
  | { readonly term: number }
  | { readonly column: string; readonly indexed?: true };

export interface PostgresStorage {
  readonly column?: string;
  readonly terms?: true;
  readonly search?: number;
}

export interface FieldSpec {
  readonly name: string;
  readonly get: (e: AuditEvent) => unknown;
  readonly list?: true;
  readonly params?: { readonly exact: string; readonly fuzzy?: string };
  readonly text?: true;
  readonly stats?: string;
  readonly oneOf?: readonly string[];
  readonly code?: true;
  readonly sqlite: SqliteStorage;
  readonly postgres: PostgresStorage;
  readonly console?: { readonly label: string; readonly placeholder?: string; readonly suggest?: false };
  readonly cli?: { readonly flag: string; readonly short?: string };
  readonly label?: string;
}

// In the order of KubeSphere's Auditing Operating console, then the fields the console does not offer.
export const FIELDS = [
  {
    // the cluster an event came from: the ingest token's or client certificate's binding, else the producer's claim
    // (KubeSphere's `Cluster`, `vigil ship --cluster`); see docs/collector.md "Several clusters"
    name: 'cluster',
    get: (e) => e.cluster,
    params: { exact: 'cluster_filter', fuzzy: 'cluster_search' },
    stats: 'cluster',
    sqlite: { term: 7, column: 'cluster' },
    postgres: { column: 'cluster', terms: true },
    console: { label: 'Cluster' },
    cli: { flag: 'cluster' },
  },
  {
    name: 'workspace',
    get: (e) => e.workspace,
    params: { exact: 'workspace_filter', fuzzy: 'workspace_search' },
    text: true,
    stats: 'workspace',
    sqlite: { term: 6, column: 'workspace', indexed: true },
    postgres: { column: 'workspace', terms: true },
    console: { label: 'Workspace', suggest: false },
    cli: { flag: 'workspace' },
  },
  {
    name: 'namespace',
    get: eventNamespace,
    params: { exact: 'objectref_namespace_filter', fuzzy: 'objectref_namespace_search' },
    text: true,
    stats: 'namespace',
    sqlite: { term: 5, column: 'namespace', indexed: true },
    postgres: { column: 'namespace', terms: true },
    console: { label: 'Project' },
    cli: { flag: 'namespace', short: 'n' },
  },
  {
    name: 'resource',
    get: (e) => e.objectRef?.resource,
    params: { exact: 'objectref_resource_filter', fuzzy: 'objectref_resource_search' },
    text: true,
    stats: 'resource',
    sqlite: { term: 9, column: 'resource', indexed: true },
    postgres: { column: 'resource', terms: true },
    console: { label: 'Resource type', placeholder: 'pods' },
    cli: { flag: 'resource' },
  },
  {
    name: 'name',
    get: (e) => e.objectRef?.name,
    params: { exact: 'objectref_name_filter', fuzzy: 'objectref_name_search' },
    text: true,
    sqlite: { term: 11, column: 'name', indexed: true },
    postgres: { column: 'name', terms: true },
    console: { label: 'Resource name' },
  },
  {
    name: 'subresource',
    get: (e) => e.objectRef?.subresource,
    params: { exact: 'objectref_subresource_filter' },
    sqlite: { term: 10, column: 'subresource' },
    postgres: { column: 'subresource' },
    console: { label: 'Subresource', placeholder: 'exec' },
  },
  {
    name: 'verb',
    get: (e) => e.verb,
    params: { exact: 'verb_filter' },
    text: true,
    stats: 'verb',
    sqlite: { term: 2, column: 'verb', indexed: true },
    postgres: { column: 'verb', terms: true },
    console: { label: 'Verb', placeholder: 'delete' },
    cli: { flag: 'verb' },
  },
  {
    name: 'code',
    get: (e) => e.responseStatus?.code,
    params: { exact: 'response_code_filter' },
    stats: 'code',
    code: true,
    sqlite: { column: 'code', indexed: true },
    postgres: { column: 'code' },
    console: { label: 'Status code', placeholder: '403' },
  },
  {
    name: 'status',
    get: (e) => e.responseStatus?.status,
    params: { exact: 'response_status_filter' },
    text: true,
    sqlite: { term: 12, column: 'status' },
    postgres: { column: 'status', search: 2 },
    console: { label: 'Status', placeholder: 'Failure' },
  },
  {
    name: 'user',
    get: (e) => e.user?.username,
    params: { exact: 'user_filter', fuzzy: 'user_search' },
    text: true,
    stats: 'user',
    sqlite: { term: 4, column: 'username', indexed: true },
    postgres: { column: 'username', terms: true },
    console: { label: 'Operator' },
    cli: { flag: 'user' },
  },
  {
    name: 'group',
    get: (e) => e.user?.groups,
    list: true,
    params: { exact: 'group_filter', fuzzy: 'group_search' },
    text: true,
    sqlite: { term: 16 },
    postgres: { column: 'groups', terms: true },
    console: { label: 'Group' },
  },
  {
    name: 'sourceIP',
    get: (e) => e.sourceIPs,
    list: true,
    params: { exact: 'source_ip_filter', fuzzy: 'source_ip_search' },
    text: true,
    stats: 'sourceip',
    sqlite: { term: 17 },
    postgres: { column: 'source_ips', terms: true },
    console: { label: 'Source IP', placeholder: '10.0.' },
  },
  {
    // the rules that matched the event, by name: the engine's record on the event (src/event/model.ts, matchedRules)
    name: 'rule',
    get: matchedRules,
    list: true,
    params: { exact: 'rule_filter' },
    stats: 'rule',
    sqlite: { term: 18 },
    postgres: { column: 'rules' },
    console: { label: 'Rule', placeholder: 'Create Privileged Pod' },
    cli: { flag: 'rule' },
  },
  {
    name: 'level',
    get: (e) => e.level,
    params: { exact: 'level_filter' },
    oneOf: LEVELS,
    sqlite: { term: 3, column: 'level' },
    postgres: { column: 'level' },
    console: { label: 'Level', placeholder: 'RequestResponse' },
  },
  {
    name: 'source',
    get: (e) => e.source,
    params: { exact: 'source_filter' },
    oneOf: SOURCES,
    sqlite: { term: 13, column: 'source' },
    postgres: { column: 'source' },
    console: { label: 'Source system', placeholder: 'kubernetes' },
  },
  {
    name: 'devops',
    get: (e) => e.devops,
    params: { exact: 'devops_filter' },
    sqlite: { term: 8, column: 'devops' },
    postgres: { column: 'devops' },
  },
  {
    name: 'stage',
    get: (e) => e.stage,
    params: { exact: 'stage_filter' },
    oneOf: STAGES,
    sqlite: { term: 1, column: 'stage' },
    postgres: { column: 'stage' },
  },
  {
    name: 'auditID',
    get: (e) => e.auditID,
    params: { exact: 'audit_id_filter' },
    sqlite: { column: 'audit_id' },
    postgres: { column: 'audit_id' },
  },
  {
    // exact only: on PostgreSQL it is a line of the `search` text, not a column (see postgres/where.ts, searchLine)
    name: 'requestURI',
    get: (e) => e.requestURI,
    params: { exact: 'request_uri_filter' },
    text: true,
    sqlite: { term: 14, column: 'request_uri', indexed: true },
    postgres: { search: 1 },
    label: 'Request URI',
  },
  {
    name: 'userAgent',
    get: (e) => e.userAgent,
    params: { exact: 'user_agent_filter' },
    text: true,
    sqlite: { term: 15, column: 'user_agent', indexed: true },
    postgres: { search: 3 },
    label: 'User agent',
  },
] as const satisfies readonly FieldSpec[];

type Entry = (typeof FIELDS)[number];
export type FieldName = Entry['name'];
/** Fields the query API filters on (exactly or fuzzily). */
export type FilterField = Extract<Entry, { params: object }>['name'];
/** Fields stats count by. */
export type StatsField = Extract<Entry, { stats: string }>['name'];

export const FILTER_FIELDS: readonly FilterField[] = FIELDS.flatMap((f) => ('params' in f ? [f.name] : []));
export const STATS_FIELDS: readonly StatsField[] = FIELDS.flatMap((f) => ('stats' in f ? [f.name] : []));

/** A field's exclusion parameter: its `*_filter` with `_exclude` instead (`user_exclude`, `response_code_exclude`). */
export function excludeParam(filterParam: string): string {
  return filterParam.replace(/_filter$/, '_exclude');
}

/** The query parameters of each filterable field: exact, fuzzy where it has one, exclusion. */
export const FIELD_PARAMS: readonly { field: FilterField; filter: string; search?: string; exclude: string }[] =
  FIELDS.flatMap((f) => {
    if (!('params' in f)) return [];
    const { exact, fuzzy } = f.params as { exact: string; fuzzy?: string };
    return [{ field: f.name, filter: exact, ...(fuzzy ? { search: fuzzy } : {}), exclude: excludeParam(exact) }];
  });

const BY_NAME = new Map<string, FieldSpec>(FIELDS.map((f) => [f.name, f]));

/** The table's entry of a field. */
export function fieldSpec(name: FieldName): FieldSpec {
  return BY_NAME.get(name)!;
}

/** The values an event has for a field: none for a missing or empty value, several for a list field. */
export function fieldValues(e: AuditEvent, field: FieldName): string[] {
  const f = BY_NAME.get(field)!;
  const v = f.get(e);
  if (f.list) return (v as string[] | undefined) ?? [];
  return v === undefined || v === null || v === '' ? [] : [String(v)];
}

const TEXT_FIELDS: readonly FieldSpec[] = FIELDS.filter((f) => 'text' in f);

/** The values free text (`q`) looks through, lower-cased, each tested on its own (as the stores do). */
export function searchableValues(e: AuditEvent): string[] {
  const out: string[] = [];
  for (const f of TEXT_FIELDS) {
    const v = f.get(e);
    if (!f.list) {
      if (v) out.push((v as string).toLowerCase());
    } else if (v) for (const x of v as string[]) if (x) out.push(x.toLowerCase());
  }
  return out;
}

/**
 * What free text (`q`) searches, for the console's search box and the API's description: a case-insensitive
 * substring of any of these fields' values (each value tested on its own), looked up in the stores' dictionaries.
 * Not the request and response bodies, the status message or reason, nor annotations: searching those is a scan of
 * every stored body (bench/RESULTS.md: "body scan"), which a dictionary lookup avoids.
 */
export const FREE_TEXT: {
  readonly fields: readonly { readonly name: FieldName; readonly label: string }[];
  /** One line saying it, for a label or a tooltip: "Searches Workspace, Project, … and User agent". */
  readonly description: string;
} = (() => {
  const fields = TEXT_FIELDS.map((f) => ({ name: f.name as FieldName, label: f.console?.label ?? f.label ?? f.name }));
  const labels = fields.map((f) => f.label);
  const list = `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
  return {
    fields,
    description: `Searches ${list} (any part, any case); not bodies, status messages or annotations`,
  };
})();

/** The `vigil query` flags: each filters exactly on its field through the field's `*_filter` parameter. */
export const CLI_FILTERS: readonly { flag: string; short?: string; param: string }[] = FIELDS.flatMap((f) =>
  'cli' in f ? [{ ...f.cli, param: f.params.exact }] : [],
);
