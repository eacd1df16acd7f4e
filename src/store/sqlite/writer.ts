// The write half of the SQLite store: appends (group-committed), retention deletes and the planner statistics, on
// one connection. For a database file it runs on a worker thread (src/store/sqlite/worker.ts), so that building B-tree
// pages and waiting for fsync never block the collector's event loop, and batches that arrive while a commit is in
// progress are committed together by the next one (fewer dirty index pages per event). `:memory:` databases, which a
// second thread cannot open, run it on the caller's connection.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import {
  chainHash,
  EMPTY_BODY_HASH,
  OP_DELETE,
  OP_GENESIS,
  OP_INSERT,
  OP_REPLACE,
  ZERO_HASH,
} from '../../integrity/chain.ts';
import { stageRank } from '../semantics.ts';
import type { WriterJob, WriterOutcome, WriterResult } from './jobs.ts';
import { Packer } from './packer.ts';
import {
  DICT_COLUMNS,
  DICT_FIELDS,
  DICT_POS,
  EVENTS_STORED_SQL,
  INDEXED_DICT,
  LIST_FIELDS,
  MAX_TERM,
  MINUTE_US,
  placeholders,
  STATS_EVERY,
  TERM_CACHE,
  unavailable,
} from './schema.ts';

/** Dictionary columns per event in a job's `dict`. */
const DICT_WIDTH = DICT_FIELDS.length;
/** `event_values` rows one statement inserts at most (an event's groups and source IPs are a handful). */
const VALUES_PER_INSERT = 8;

export class SqliteWriter {
  readonly #db: DatabaseSync;
  readonly #s: Record<
    | 'insert'
    | 'insertTerm'
    | 'insertTermFts'
    | 'findTerm'
    | 'termValue'
    | 'insertBatch'
    | 'findCall'
    | 'findCollapse'
    | 'update'
    | 'deleteValue'
    | 'deleteEvent'
    | 'deleteBody'
    | 'oldest'
    | 'addMinute'
    | 'subMinute'
    | 'deleteBatches'
    | 'nextTerms'
    | 'deleteTerm'
    | 'deleteTermFts'
    | 'chainHead'
    | 'chainAdd',
    StatementSync
  >;
  /** Dictionary cache per field number: value → term id. */
  readonly #terms: Map<string, number>[] = Array.from({ length: MAX_TERM + 1 }, () => new Map());
  /** Terms cached during the open transaction, forgotten again if it rolls back. */
  #newTerms: [number, string][] = [];
  /** Chain head inside the open transaction (read at BEGIN, restored from a savepoint's mark on rollback). */
  #chainSeq = 0;
  #chainHead: Uint8Array = ZERO_HASH;
  /** Dictionary retention: the term id after which the next step looks, and per field how to tell a term in use. */
  #pruneAfter = 0;
  readonly #termUsed: (StatementSync | undefined)[] = [];
  #sinceStats = 0;
  /** Bodies: blocks, plain rows, and the ids handed out in the open transaction. */
  readonly packer: Packer;
  /** `INSERT … VALUES` of n rows into event_values, by n, prepared when first needed. */
  readonly #insertValuesOf: (StatementSync | undefined)[] = [];
  /**
   * Distinct values per field number, for the planner statistics: counted once, then kept up to date as terms are
   * added and pruned (approximate across rollbacks and other processes, which statistics may be).
   */
  #termCounts: number[] | undefined;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.packer = new Packer(db);
    const p = (sql: string) => db.prepare(sql);
    for (const f of INDEXED_DICT) this.#termUsed[f.term] = p(`SELECT 1 FROM events WHERE ${f.column} = ? LIMIT 1`);
    const listUsed = p('SELECT 1 FROM event_values WHERE term = ? LIMIT 1');
    for (const f of LIST_FIELDS) this.#termUsed[f.term] = listUsed;
    const dictCount = DICT_FIELDS.length;
    this.#s = {
      insert: p(
        `INSERT INTO events (id, received, audit_id, ${DICT_COLUMNS}, code, multi, block)
         VALUES (${placeholders(dictCount + 6)})`,
      ),
      insertTerm: p('INSERT INTO terms (field, value) VALUES (?, ?) ON CONFLICT (field, value) DO NOTHING'),
      insertTermFts: p('INSERT INTO terms_fts (rowid, value) VALUES (?, ?)'),
      findTerm: p('SELECT id FROM terms WHERE field = ? AND value = ?'),
      termValue: p('SELECT value FROM terms WHERE id = ?'),
      insertBatch: p('INSERT INTO batches (key, stored) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
      findCall: p('SELECT id FROM events WHERE audit_id = ? AND stage = ? ORDER BY id LIMIT 1'),
      findCollapse: p(
        'SELECT id, stage, multi FROM events WHERE audit_id = ? AND received = ? AND source = ? ORDER BY id',
      ),
      update: p(
        `UPDATE events SET (received, audit_id, ${DICT_COLUMNS}, code, multi) = (${placeholders(dictCount + 4)})
         , block = NULL WHERE id = ?`,
      ),
      deleteValue: p('DELETE FROM event_values WHERE term = ? AND event_id = ?'),
      deleteEvent: p('DELETE FROM events WHERE id = ?'),
      deleteBody: p('DELETE FROM event_bodies WHERE id = ?'),
      // The minute (floor division, also before 1970) computed here: a row an older version stored with a time beyond
      // the exact JS integers (year 0000) cannot be read as a number, and retention must delete it like any other.
      oldest: p(
        `SELECT id, CASE WHEN received >= 0 THEN received / ${MINUTE_US} ELSE (received + 1) / ${MINUTE_US} - 1 END AS minute,
           multi, block FROM events WHERE received < ? ORDER BY received LIMIT ?`,
      ),
      addMinute: p(
        'INSERT INTO event_minutes (minute, n) VALUES (?, ?) ON CONFLICT (minute) DO UPDATE SET n = n + excluded.n',
      ),
      subMinute: p('UPDATE event_minutes SET n = n - ? WHERE minute = ?'),
      deleteBatches: p(
        'DELETE FROM batches WHERE rowid IN (SELECT rowid FROM batches WHERE stored < ? ORDER BY stored LIMIT ?)',
      ),
      nextTerms: p('SELECT id, field, value FROM terms WHERE id > ? ORDER BY id LIMIT ?'),
      deleteTerm: p('DELETE FROM terms WHERE id = ?'),
      deleteTermFts: p(`INSERT INTO terms_fts (terms_fts, rowid, value) VALUES ('delete', ?, ?)`),
      chainHead: p('SELECT seq, hash FROM chain_log ORDER BY seq DESC LIMIT 1'),
      chainAdd: p('INSERT INTO chain_log (seq, op, event_id, body_hash, hash) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  /**
   * Stores the jobs in one transaction, each in its own savepoint so that a bad batch fails alone and every batch
   * stays atomic. `statsRefreshed`: the planner statistics were rewritten (readers reload them).
   */
  append(jobs: WriterJob[]): { outcomes: WriterOutcome[]; statsRefreshed: boolean } {
    const db = this.#db;
    const outcomes: WriterOutcome[] = [];
    try {
      this.#begin();
      for (const job of jobs) {
        const mark = this.#newTerms.length;
        const chainMark = [this.#chainSeq, this.#chainHead] as const;
        const idMark = this.packer.mark();
        db.exec('SAVEPOINT batch');
        try {
          const result = this.#appendBatch(job);
          this.packer.flush();
          db.exec('RELEASE batch');
          outcomes.push({ ok: true, result });
        } catch (error) {
          db.exec('ROLLBACK TO batch; RELEASE batch');
          this.#forgetTerms(mark);
          [this.#chainSeq, this.#chainHead] = chainMark;
          this.packer.restore(idMark);
          outcomes.push({ ok: false, error: unavailable(error) ?? error });
        }
      }
      this.#commit();
    } catch (err) {
      try {
        this.#rollback();
      } catch {
        // A full disk can fail the rollback too; SQLite rolls back a failed transaction by itself.
      }
      this.#forgetTerms(0);
      const error = unavailable(err) ?? err;
      return { outcomes: jobs.map(() => ({ ok: false, error })), statsRefreshed: false };
    }
    for (const o of outcomes) if (o.ok) this.#sinceStats += o.result.inserted;
    if (this.#sinceStats < STATS_EVERY) return { outcomes, statsRefreshed: false };
    try {
      this.refreshStats();
    } catch (err) {
      // The events are committed; stale statistics only make plans worse until the next refresh.
      process.emitWarning(`refreshing the planner statistics failed: ${(err as Error)?.message ?? err}`);
      return { outcomes, statsRefreshed: false };
    }
    return { outcomes, statsRefreshed: true };
  }

  /** The term id of a value, added to the dictionary if new (inside the append transaction). */
  #termId(field: number, value: string): number {
    if (value === '') return 0;
    const cache = this.#terms[field]!;
    let id = cache.get(value);
    if (id !== undefined) return id;
    const s = this.#s;
    const r = s.insertTerm.run(field, value);
    if (r.changes > 0) {
      id = Number(r.lastInsertRowid);
      s.insertTermFts.run(id, value);
      if (this.#termCounts) this.#termCounts[field] = (this.#termCounts[field] ?? 0) + 1;
    } else {
      id = (s.findTerm.get(field, value) as { id: number }).id; // added by another process
    }
    if (cache.size >= TERM_CACHE) cache.clear();
    cache.set(value, id);
    this.#newTerms.push([field, value]);
    return id;
  }

  #begin(): void {
    this.#db.exec('BEGIN IMMEDIATE');
    this.#newTerms = [];
    this.packer.begin();
    // One read per transaction (not per event): another process may have extended the chain since.
    const h = this.#s.chainHead.get() as { seq: number; hash: Uint8Array };
    this.#chainSeq = h.seq;
    this.#chainHead = h.hash;
  }

  /** Adds one entry to the hash chain inside the open transaction (`bh`: the body's hash, or a deletion's zeros). */
  #chain(op: number, id: number | bigint, bh: Uint8Array): void {
    const seq = ++this.#chainSeq;
    const hash = chainHash(this.#chainHead, op, seq, Number(id), bh);
    this.#s.chainAdd.run(seq, op, id, bh, hash);
    this.#chainHead = hash;
  }

  #commit(): void {
    this.#db.exec('COMMIT');
    this.#newTerms = [];
  }

  #rollback(): void {
    if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
    this.#forgetTerms(0);
  }

  /** Drops the terms cached since `mark` from the cache: their rows were rolled back. */
  #forgetTerms(mark: number): void {
    for (let i = mark; i < this.#newTerms.length; i++) {
      const [field, value] = this.#newTerms[i]!;
      this.#terms[field]!.delete(value);
    }
    this.#newTerms.length = mark;
  }

  /** The term ids of a job's distinct values (`job.terms`), looked up or added once per batch. */
  #termIds(job: WriterJob): number[] {
    const ids = new Array<number>(job.terms.length);
    for (let i = 0; i < ids.length; i++) ids[i] = this.#termId(job.termFields[i]!, job.terms[i]!);
    return ids;
  }

  /** Column values of event `n` of a job in `insert`/`update` order, and the term ids of its list values. */
  #row(job: WriterJob, n: number, termIds: number[]): { values: SQLInputValue[]; multi: number[] } {
    const e = job.events[n]!;
    const values: SQLInputValue[] = [e.received, e.auditID];
    const dict = job.dict;
    for (let i = n * DICT_WIDTH, end = i + DICT_WIDTH; i < end; i++) {
      const t = dict[i]!;
      values.push(t < 0 ? 0 : termIds[t]!);
    }
    const multi: number[] = [];
    for (let i = job.listStart[n]!, end = job.listStart[n + 1]!; i < end; i++) multi.push(termIds[job.lists[i]!]!);
    values.push(e.code, multi.join(','));
    return { values, multi };
  }

  /** An event's list values, up to VALUES_PER_INSERT rows per statement (one run instead of one per value). */
  #addValues(id: number | bigint, multi: number[]): void {
    for (let from = 0; from < multi.length; from += VALUES_PER_INSERT) {
      const n = Math.min(VALUES_PER_INSERT, multi.length - from);
      const args: SQLInputValue[] = [];
      for (let i = from; i < from + n; i++) args.push(multi[i]!, id);
      this.#insertValues(n).run(...args);
    }
  }

  #insertValues(n: number): StatementSync {
    let s = this.#insertValuesOf[n];
    if (!s) {
      s = this.#db.prepare(
        `INSERT OR IGNORE INTO event_values (term, event_id) VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')}`,
      );
      this.#insertValuesOf[n] = s;
    }
    return s;
  }

  #removeValues(id: number | bigint, multi: string): void {
    if (multi) for (const t of multi.split(',')) this.#s.deleteValue.run(Number(t), id);
  }

  /** The stored row an event repeats (same audit ID and stage, whatever its received time), or 0. */
  #existing(values: SQLInputValue[]): number {
    return (this.#s.findCall.get(values[1]!, values[2 + DICT_POS.stage]!) as { id: number } | undefined)?.id ?? 0;
  }

  /** Stores one batch inside the open transaction. */
  #appendBatch(job: WriterJob): WriterResult {
    const s = this.#s;
    const { events } = job;
    const termIds = this.#termIds(job);
    const ids: number[] = new Array(events.length).fill(0);
    const stored: number[] = [];
    let inserted = 0;
    let duplicates = 0;
    if (job.batchKey !== undefined && !newBatch(job.batchKey, (k, at) => s.insertBatch.run(k, at).changes > 0)) {
      for (let i = 0; i < events.length; i++) ids[i] = this.#existing(this.#row(job, i, termIds).values);
      return { inserted: 0, duplicates: events.length, ids, stored };
    }
    // New events per minute, added to event_minutes once per batch (a collapsed stage keeps its received time)
    const minutes = new Map<number, number>();
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const { values, multi } = this.#row(job, i, termIds);
      if (job.collapseStages) {
        const rows = s.findCollapse.all(e.auditID, values[0]!, values[2 + DICT_POS.source]!) as {
          id: number;
          stage: number;
          multi: string;
        }[];
        if (rows.length > 0) {
          const stage = job.dict[i * DICT_WIDTH + DICT_POS.stage]!;
          const rank = stageRank(stage < 0 ? '' : job.terms[stage]!);
          const later = rows.every(
            (r) => stageRank((s.termValue.get(r.stage) as { value: string } | undefined)?.value ?? '') < rank,
          );
          const old = rows[0]!;
          ids[i] = old.id;
          // the later stage already stored (by another source's event of this call): a repeat, as an insert would be
          if (!later || this.#existing(values) !== 0 || s.update.run(...values, old.id).changes === 0) {
            duplicates++;
            continue;
          }
          this.packer.replace(old.id, e.body);
          this.#chain(OP_REPLACE, old.id, e.bodyHash);
          this.#removeValues(old.id, old.multi);
          this.#addValues(old.id, multi);
          inserted++;
          stored.push(i);
          continue;
        }
      }
      const existing = this.#existing(values);
      if (existing !== 0) {
        duplicates++;
        ids[i] = existing;
        continue;
      }
      const { id, block } = this.packer.next();
      s.insert.run(id, ...values, block);
      ids[i] = id;
      this.packer.add(id, block, e.body);
      this.#chain(OP_INSERT, id, e.bodyHash);
      this.#addValues(id, multi);
      const minute = Math.floor(e.received / MINUTE_US);
      minutes.set(minute, (minutes.get(minute) ?? 0) + 1);
      inserted++;
      stored.push(i);
    }
    for (const [minute, n] of minutes) s.addMinute.run(minute, n);
    return { inserted, duplicates, ids, stored };
  }

  /** Retention: deletes up to `limit` events received before `cutoff` (epoch ms), oldest first. */
  deleteBefore(cutoff: number, limit: number): number {
    const s = this.#s;
    this.#begin();
    try {
      const rows = s.oldest.all(Math.ceil(cutoff) * 1000, limit) as {
        id: number;
        minute: number;
        multi: string;
        block: number | null;
      }[];
      const minutes = new Map<number, number>();
      const blocks = new Set<number>();
      for (const r of rows) {
        if (r.block !== null) blocks.add(r.block);
        this.#removeValues(r.id, r.multi);
        s.deleteBody.run(r.id);
        s.deleteEvent.run(r.id);
        this.#chain(OP_DELETE, r.id, EMPTY_BODY_HASH);
        const minute = r.minute;
        minutes.set(minute, (minutes.get(minute) ?? 0) + 1);
      }
      for (const [minute, n] of minutes) s.subMinute.run(n, minute);
      this.packer.dropUnused(blocks);
      if (minutes.size > 0) this.#db.exec('DELETE FROM event_minutes WHERE n <= 0');
      // Delivery ids are only needed while their sender may still retry; they age out with the events.
      s.deleteBatches.run(cutoff, limit);
      if (rows.length > 0 || this.#pruneAfter > 0) this.#pruneTerms(2 * limit);
      if (rows.length > 0) this.#pruneChain(4 * limit);
      this.#commit();
      return rows.length;
    } catch (err) {
      this.#rollback();
      throw unavailable(err) ?? err;
    }
  }

  /**
   * Retention of the dictionary: examines the next `budget` terms (a cursor walks the whole dictionary over
   * successive steps) and deletes those no stored event uses any more, so that high-cardinality values (request
   * URIs, object names, client IPs) do not outlive their events. Fields without an index (stage, devops, level, status, cluster, source,
   * subresource) have few values and are kept.
   */
  #pruneTerms(budget: number): void {
    const s = this.#s;
    const terms = s.nextTerms.all(this.#pruneAfter, budget) as { id: number; field: number; value: string }[];
    this.#pruneAfter = terms.length < budget ? 0 : terms[terms.length - 1]!.id;
    for (const t of terms) {
      const used = this.#termUsed[t.field];
      if (!used || used.get(t.id)) continue;
      s.deleteTerm.run(t.id);
      s.deleteTermFts.run(t.id, t.value);
      if (this.#termCounts) this.#termCounts[t.field] = (this.#termCounts[t.field] ?? 1) - 1;
      this.#terms[t.field]!.delete(t.value);
    }
  }

  /**
   * Retention of the hash chain: once every event an entry concerns is gone, the entry only links the chain, and a
   * signed checkpoint can stand in for the prefix up to it — as `vigil verify --since` starts from one. The prefix
   * is cut at the newest checkpoint before the insert entry of the oldest stored event (inserts are chained in id
   * order, so every earlier entry concerns an older id, all deleted), at most about `budget` entries a step; verify
   * then anchors at that checkpoint (src/integrity/verify.ts). Without this the chain would grow by two entries per
   * event forever, whatever the retention.
   */
  #pruneChain(budget: number): void {
    const db = this.#db;
    const first = (db.prepare('SELECT min(seq) AS seq FROM chain_log').get() as { seq: number | null }).seq;
    if (first === null) return;
    const oldest = (db.prepare('SELECT min(id) AS id FROM events').get() as { id: number | null }).id;
    let bound: number;
    let floor = 0;
    if (oldest === null)
      bound = this.#chainSeq; // the head entry stays: the next transaction links to it
    else {
      // events stored before the chain existed (schema 1) are vouched for by the genesis entry's id: keep it
      const g = db.prepare(`SELECT event_id FROM chain_log WHERE seq = 1 AND op = ${OP_GENESIS}`).get() as
        | { event_id: number }
        | undefined;
      if (g && oldest <= g.event_id) return;
      // Nor before their deletions: a walk from the cut, which no longer knows the genesis, would count them as
      // chained events leaving.
      if (g)
        floor =
          (
            db
              .prepare(`SELECT max(seq) AS seq FROM chain_log WHERE event_id <= ? AND op = ${OP_DELETE}`)
              .get(g.event_id) as { seq: number | null }
          ).seq ?? 0;
      const ins = db
        .prepare(`SELECT min(seq) AS seq FROM chain_log WHERE event_id = ? AND op = ${OP_INSERT}`)
        .get(oldest) as { seq: number | null };
      if (ins.seq === null) return;
      bound = ins.seq;
    }
    const lo = Math.max(first, floor);
    const cut = (
      db
        .prepare(
          `SELECT coalesce(
           (SELECT max(last_seq) FROM checkpoints WHERE last_seq >= ? AND last_seq < ? AND last_seq < ?),
           (SELECT min(last_seq) FROM checkpoints WHERE last_seq >= ? AND last_seq < ?)) AS seq`,
        )
        .get(lo, bound, first + budget, lo, bound) as { seq: number | null }
    ).seq;
    if (cut !== null) db.prepare('DELETE FROM chain_log WHERE seq <= ?').run(cut);
  }

  /**
   * Planner statistics, written rather than measured: the dictionary knows how many distinct values each column has,
   * so rows per value = events / distinct values, at the cost of a few counts. ANALYZE would read every index (seconds
   * at millions of events, blocking ingest), and its sampling variant (analysis_limit) sees only the first values of
   * each index and rates every column alike, so that the planner picked `verb = ?` over a selective namespace list.
   */
  refreshStats(): void {
    this.#sinceStats = 0;
    const db = this.#db;
    // No full count: at 10⁸ events counting events or event_values took seconds on every refresh, stalling ingest
    // and reading the tables through the page cache.
    const events = (db.prepare(EVENTS_STORED_SQL).get() as { n: number }).n;
    if (events === 0) return;
    if (!this.#termCounts) {
      this.#termCounts = [];
      for (const r of db.prepare('SELECT field, count(*) AS n FROM terms GROUP BY field').all() as {
        field: number;
        n: number;
      }[])
        this.#termCounts[r.field] = r.n;
    }
    const distinct = this.#termCounts;
    const per = (d: number) => Math.max(1, Math.round(events / Math.max(1, d)));
    const rows: [string, string][] = [
      ['events_audit', `${events} 1 1`],
      ['events_received', `${events} 1`],
      ['events_code', `${events} ${per(20)} 1`],
    ];
    // (value, received, …): past the value, each column makes an entry all but unique
    const columns = db.prepare('SELECT count(*) AS n FROM pragma_index_info(?)');
    for (const f of INDEXED_DICT) {
      const idx = `events_${f.column}`;
      const rest = (columns.get(idx) as { n: number }).n - 1;
      rows.push([idx, `${events} ${per(distinct[f.term] || 1)}${' 1'.repeat(rest)}`]);
    }
    // list values per event, from the newest events' `multi` lists
    const perEvent = (
      db
        .prepare(
          `SELECT coalesce(avg(CASE WHEN multi = '' THEN 0 ELSE length(multi) - length(replace(multi, ',', '')) + 1 END), 0)
             AS a FROM (SELECT multi FROM events ORDER BY id DESC LIMIT 2000)`,
        )
        .get() as { a: number }
    ).a;
    const values = Math.round(events * perEvent);
    let valueTerms = 0;
    for (const f of LIST_FIELDS) valueTerms += distinct[f.term] || 0;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec('ANALYZE sqlite_schema'); // creates sqlite_stat1 if missing
      db.exec(`DELETE FROM sqlite_stat1 WHERE tbl IN ('events', 'event_values')`);
      const ins = db.prepare('INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)');
      ins.run('events', null, String(events));
      for (const [idx, stat] of rows) ins.run('events', idx, stat);
      if (values > 0)
        ins.run(
          'event_values',
          'event_values',
          `${values} ${Math.max(1, Math.round(values / Math.max(1, valueTerms)))} 1`,
        );
      db.exec('COMMIT');
      db.exec('ANALYZE sqlite_schema'); // loads the statistics into the planner
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
}

/**
 * Group commit: jobs arriving while the writer is busy or in the same turn of the event loop (concurrent deliveries)
 * share one transaction and one fsync. The same queue serves the worker thread and the inline writer.
 */
export class CommitQueue {
  readonly #writer: SqliteWriter;
  #queue: { job: WriterJob; done: (o: WriterOutcome, statsRefreshed: boolean) => void }[] = [];
  #flushing: NodeJS.Immediate | undefined;
  /** The next background packing step (./packer.ts), while plain bodies wait. */
  #packing: NodeJS.Timeout | undefined;
  #stopped: boolean;

  constructor(writer: SqliteWriter, packInBackground = true) {
    this.#writer = writer;
    this.#stopped = !packInBackground;
    this.schedulePack();
  }

  push(job: WriterJob, done: (o: WriterOutcome, statsRefreshed: boolean) => void): void {
    this.#queue.push({ job, done });
    if (!this.#flushing) this.#flushing = setImmediate(() => this.flush());
  }

  /** Commits what is queued now (also called on close, so that accepted appends are committed first). */
  flush(): void {
    if (this.#flushing) clearImmediate(this.#flushing);
    this.#flushing = undefined;
    const queued = this.#queue;
    this.#queue = [];
    if (queued.length === 0) return;
    const { outcomes, statsRefreshed } = this.#writer.append(queued.map((q) => q.job));
    for (let i = 0; i < queued.length; i++) queued[i]!.done(outcomes[i]!, statsRefreshed);
    this.schedulePack();
  }

  /**
   * Packs plain bodies into blocks between appends, one bounded step at a time (PACK_STEP events, a short
   * transaction), while any wait: a store before schema 6, or the events stored before the first dictionary.
   */
  schedulePack(delayMs = PACK_DELAY_MS): void {
    if (this.#packing || this.#stopped || !this.#writer.packer.pending) return;
    this.#packing = setTimeout(() => {
      this.#packing = undefined;
      if (this.#stopped) return;
      try {
        this.#writer.packer.step();
        this.schedulePack();
      } catch (err) {
        // a full disk or a lock: the bodies stay plain rows until a later step
        process.emitWarning(`packing event bodies failed: ${(err as Error)?.message ?? err}`);
        this.schedulePack(PACK_RETRY_MS);
      }
    }, delayMs);
    this.#packing.unref();
  }

  /** Before the connection closes: no further packing step. */
  stop(): void {
    this.#stopped = true;
    if (this.#packing) clearTimeout(this.#packing);
    this.#packing = undefined;
  }
}

/** Pause between packing steps, so appends and queries get the connection in between. */
const PACK_DELAY_MS = 20;
const PACK_RETRY_MS = 5_000;

/** Records every key of a batch; false when any was recorded before (the batch is a duplicate). */
function newBatch(key: string | readonly string[], insert: (key: string, at: number) => boolean): boolean {
  const now = Date.now();
  let fresh = true;
  for (const k of typeof key === 'string' ? [key] : key) if (!insert(k, now)) fresh = false;
  return fresh;
}
