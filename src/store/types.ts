// The storage contract. SQLite (embedded) and PostgreSQL implement it and pass one shared test suite.
import type { AuditEvent } from '../event/model.ts';
import type { CheckpointTarget } from '../integrity/checkpoint.ts';
import type { FilterField, StatsField } from './fields.ts';

/** An event as stored: the canonical event plus Vigil's own id. */
export interface StoredEvent extends AuditEvent {
  id: string;
}

/**
 * What a tenant may see: events of these workspaces or of these namespaces, nothing else; with `clusters`, only
 * events of those clusters (and then, if it lists no workspace or namespace, every event of those clusters).
 */
export interface TenantScope {
  workspaces: string[];
  namespaces: string[];
  clusters?: string[];
}

/**
 * A query over stored events. Values of one field are OR'ed, fields are AND'ed.
 * `exact`: whole value, case-sensitive (for `code` also classes and ranges: semantics.ts's codeRange).
 * `fuzzy`: case-insensitive substring.
 * `exclude`: not the events having one of these exact values (a list field: any of its values; `code`: classes and
 * ranges too). An event without the field is not excluded: the value it lacks is none of those excluded.
 */
export interface EventQuery {
  exact?: Partial<Record<FilterField, string[]>>;
  fuzzy?: Partial<Record<FilterField, string[]>>;
  exclude?: Partial<Record<FilterField, string[]>>;
  /** Free text: case-insensitive substring anywhere in the event's searchable text; OR'ed. */
  text?: string[];
  /** Epoch milliseconds, inclusive, on requestReceivedTimestamp. */
  start?: number;
  end?: number;
  /** Set by the server from the caller's token, never from query parameters. */
  scope?: TenantScope;
}

export interface PageRequest {
  sort: 'asc' | 'desc';
  size: number;
  /** Offset paging. */
  from?: number;
  /** Keyset paging: the `next` cursor of the previous page. */
  after?: string;
}

export interface Page {
  /** Exact count of events matching the query (not capped). */
  total: number;
  items: StoredEvent[];
  /** Cursor for the next page, absent on the last page. */
  next?: string;
}

export interface AppendOptions {
  /**
   * A delivery's identities (OpenFaaS: its `X-Openfaas-Delivery` id and the hash of its signed body): a batch any of
   * whose keys was already stored (within the retention window) is not stored again.
   */
  batchKey?: string | readonly string[];
  /**
   * Collapse the stages of one call into one stored event (CADF request + response): an event replaces a stored
   * event of the same source, auditID and requestReceivedTimestamp when its stage is later.
   */
  collapseStages?: boolean;
}

export interface AppendResult {
  inserted: number;
  duplicates: number;
  /**
   * The stored event of each appended event, by position (also of a duplicate: the event stored before), so that a
   * caller can link to it without a lookup; undefined only where that event is gone again (retention raced it).
   */
  ids: (string | undefined)[];
}

export interface Histogram {
  total: number;
  buckets: { time: number; count: number }[];
}

/**
 * One entry of the append log: the hash chain's inserts and in-place replacements, in commit order (src/forward
 * reads it). `event` is absent when the event was deleted since (retention ran before it was read).
 */
export interface LogEntry {
  position: number;
  event?: StoredEvent;
  /** The event was stored before and replaced in place by a later stage of its call (collapseStages). */
  replaced?: true;
}

export interface LogRead {
  /** Inserts and replacements after the position asked for, oldest first (at most the limit). */
  entries: LogEntry[];
  /** The last position read (entries that are no events, as deletions, move it too); `after` when nothing was. */
  upTo: number;
  /** Positions between `after` and the first one read that the log no longer holds (pruned with their events). */
  skipped: number;
  /** The newest position of the log now. */
  head: number;
}

/** A forwarding destination's durable cursor: the last log position it has delivered. */
export interface ForwardCursor {
  name: string;
  position: number;
  /** Epoch ms of the last move. */
  updated: number;
}

/**
 * The append log and the forwarding cursors kept beside the events, so that forwarding (src/forward) survives
 * restarts and needs no state of its own. Positions are those of the hash chain, whose entries are written in
 * commit order in both stores (PostgreSQL's event ids are not: concurrent appends commit out of id order).
 */
export interface AppendLog {
  /** Reads up to `limit` entries after `after`; without `after`, from the log's oldest entry. */
  readLog(after: number | undefined, limit: number): Promise<LogRead>;
  /** The position just before the first event received at or after `time` (epoch ms): a cursor replaying from it. */
  logPositionAt(time: number): Promise<number>;
  forwardCursors(): Promise<ForwardCursor[]>;
  /**
   * Moves a cursor to `position`. With `expected` (a position, or null for "no cursor yet") only if the cursor is
   * still there, so that a reset made meanwhile (by `vigil forward reset`, or another collector) is not overwritten;
   * returns whether it moved.
   */
  saveForwardCursor(name: string, position: number, expected?: number | null): Promise<boolean>;
}

/** Every store also signs checkpoints over its hash chain (CheckpointTarget, src/integrity). */
export interface Store extends CheckpointTarget, AppendLog {
  /**
   * Stores a batch atomically and durably (committed before the promise resolves). Idempotent on (auditID, stage),
   * whatever the requestReceivedTimestamp (PostgreSQL: within a day of the stored one; docs/scaling.md).
   */
  append(events: AuditEvent[], opts?: AppendOptions): Promise<AppendResult>;
  get(id: string, scope?: TenantScope): Promise<StoredEvent | undefined>;
  query(q: EventQuery, page: PageRequest): Promise<Page>;
  /** Counts per time bucket of `intervalMs`, bucket times aligned to multiples of the interval (epoch ms). */
  histogram(q: EventQuery, intervalMs: number): Promise<Histogram>;
  /** Top values of a field with their counts, plus the total and the number of distinct audit IDs. */
  stats(
    q: EventQuery,
    by: StatsField,
    limit: number,
  ): Promise<{ total: number; auditIDs: number; top: { key: string; count: number }[] }>;
  /**
   * One retention step: deletes at most `limit` events received before `cutoff` (epoch ms); returns how many.
   * A store that keeps events in time partitions may drop whole partitions older than the cutoff in one step and
   * return more than `limit` (dropping costs the same for any number of events).
   */
  deleteBefore(cutoff: number, limit: number): Promise<number>;
  /**
   * One bounded step of the store's background compaction (SQLite: plain bodies packed into compressed blocks);
   * returns how many events it compressed, 0 when nothing is left. Optional: PostgreSQL compresses as it stores.
   */
  compact?(limit?: number): Promise<number>;
  /** Number of events and bytes used, for metrics. */
  size(): Promise<{ events: number; bytes: number }>;
  /**
   * The stored events with ids above `afterId`, in id order, at most `limit`: what a live tail resuming from
   * `Last-Event-ID` replays (the caller filters them).
   */
  storedAfter(afterId: number, limit: number): Promise<StoredEvent[]>;
  /** Calls `listener` with each batch of newly stored events (live tail); returns the unsubscribe function. */
  subscribe(listener: (events: StoredEvent[]) => void): () => void;
  /**
   * Runs `fn` only if no other process sharing this storage runs a job of the same `name` (retention, partition
   * upkeep…), so that periodic jobs of several collectors run once; `ran` is false when another one holds it.
   * Optional: a store only one process can open needs no such lock (see `runExclusive` in ./exclusive.ts).
   */
  runExclusive?<T>(name: string, fn: () => Promise<T>): Promise<{ ran: boolean; value?: T }>;
  /** The V8 heap of a thread the store writes on, if it has one (SQLite's writer), for /metrics. */
  writerHeap?(): Promise<{ used: number; total: number } | undefined>;
  close(): Promise<void>;
}

/**
 * The store cannot write now (disk full, I/O error, locked, database unreachable) but may later: the server
 * answers 503 with `Retry-After`, so senders keep the events (spool, retry) instead of dropping them. Reads may
 * still work.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  /** `full`, `io`, `busy`, `unreachable` (PostgreSQL down): what kind of trouble, for logs and metrics. */
  readonly reason: string;
  /** Seconds a sender should wait before trying again. */
  readonly retryAfterSeconds: number;
  constructor(message: string, reason: string, retryAfterSeconds = 5, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
