// Verification of a store's trail: the chain is recomputed entry by entry, every checkpoint's signature is checked
// and the chain must pass through each checkpoint's head at its lastSeq; then every stored event must match the
// body hash of its latest chain entry. Retention deletions are chain entries, so they do not read as tampering.
import type { KeyObject } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import {
  bodyHash,
  chainHash,
  OP_DELETE,
  OP_DROP,
  OP_GENESIS,
  OP_INSERT,
  OP_NAMES,
  OP_REPLACE,
  ZERO_HASH,
} from './chain.ts';
import { type Checkpoint, checkpointBefore, checkpointSignatureValid, rowToCheckpoint } from './checkpoint.ts';

export type BreakKind = 'changed' | 'removed' | 'inserted' | 'reordered' | 'bad-checkpoint';

export interface Break {
  kind: BreakKind;
  /** The event concerned, when one is. */
  eventId?: number;
  /** The chain entry concerned, when one is. */
  seq?: number;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  /** The first break (lowest event id, then chain position), undefined when the trail is intact. */
  first?: Break;
  breaks: Break[];
  entries: number;
  events: number;
  checkpoints: number;
  /** Events stored before the chain existed (an upgraded database): not verifiable. */
  unchained: number;
  /** Chain entries after the last checkpoint: hashes check, but no signature vouches for them yet. */
  unsigned: number;
}

export interface ChainEntry {
  seq: number;
  op: number;
  eventId: number;
  bodyHash: Buffer;
  hash: Buffer;
}

/** Most breaks kept in a report (the first is what matters; the rest give an idea of the extent). */
const MAX_BREAKS = 1000;

/**
 * Walks chain entries in seq order from an anchor (the hash and live-event count before the first entry) and checks
 * them against the checkpoints. Shared by the store and the offline export verification.
 */
export class ChainWalker {
  readonly breaks: Break[] = [];
  #prev: Buffer;
  #seq: number;
  #count: number;
  #genesisId = 0;
  #cps: Checkpoint[];
  #cpi = 0;
  entries = 0;
  #lastCheckpointSeq: number;

  constructor(
    anchor: { seq: number; hash: Buffer; count: number; genesisId?: number },
    checkpoints: Checkpoint[],
    publicKey: KeyObject,
  ) {
    this.#genesisId = anchor.genesisId ?? 0;
    this.#prev = anchor.hash;
    this.#seq = anchor.seq;
    this.#count = anchor.count;
    this.#lastCheckpointSeq = anchor.seq;
    let prevSeq: number | undefined;
    let prevLast = 0;
    const valid: Checkpoint[] = [];
    for (const c of checkpoints) {
      if (!checkpointSignatureValid(c, publicKey))
        this.add({ kind: 'bad-checkpoint', seq: c.lastSeq, detail: `checkpoint ${c.seq}: signature does not verify` });
      else if (c.lastSeq < prevLast)
        this.add({ kind: 'bad-checkpoint', seq: c.lastSeq, detail: `checkpoint ${c.seq}: goes back in the chain` });
      else valid.push(c);
      if (prevSeq !== undefined && c.seq !== prevSeq + 1)
        this.add({ kind: 'bad-checkpoint', detail: `checkpoints ${prevSeq + 1}..${c.seq - 1} are missing` });
      prevSeq = c.seq;
      prevLast = Math.max(prevLast, c.lastSeq);
    }
    this.#cps = valid.filter((c) => c.lastSeq > anchor.seq);
  }

  add(b: Break): void {
    if (this.breaks.length < MAX_BREAKS) this.breaks.push(b);
  }

  get genesisId(): number {
    return this.#genesisId;
  }

  /** Chained events stored, by the entries walked so far (from the anchor's count). */
  get count(): number {
    return this.#count;
  }

  entry(e: ChainEntry): void {
    this.entries++;
    if (e.seq !== this.#seq + 1) {
      this.add({
        kind: 'removed',
        seq: this.#seq + 1,
        detail: `chain entries ${this.#seq + 1}..${e.seq - 1} are missing`,
      });
      // The hash of a missing entry is unknown: continue from the stored one so later breaks still show.
    } else if (e.op === OP_GENESIS && e.seq !== 1) {
      this.add({ kind: 'inserted', seq: e.seq, detail: `chain entry ${e.seq}: a genesis entry inside the chain` });
    }
    if (e.op === OP_GENESIS) this.#genesisId = e.eventId;
    const expected = chainHash(this.#prev, e.op, e.seq, e.eventId, e.bodyHash);
    if (!expected.equals(e.hash) && e.seq === this.#seq + 1)
      this.add({
        kind: 'changed',
        eventId: e.op === OP_GENESIS ? undefined : e.eventId,
        seq: e.seq,
        detail: `chain entry ${e.seq} (${OP_NAMES[e.op] ?? `op ${e.op}`} of event ${e.eventId}) does not hash to its stored value`,
      });
    if (e.op === OP_INSERT) this.#count++;
    else if (e.op === OP_DELETE && e.eventId > this.#genesisId) this.#count--;
    else if (e.op === OP_DROP) this.#count -= e.eventId; // a drop's event id field is the number it dropped
    this.#prev = e.hash;
    this.#seq = e.seq;
    while (this.#cpi < this.#cps.length && this.#cps[this.#cpi]!.lastSeq <= e.seq) {
      const c = this.#cps[this.#cpi++]!;
      if (c.lastSeq !== e.seq) continue; // its entry is missing: reported as removed
      this.#lastCheckpointSeq = c.lastSeq;
      if (!c.head.equals(e.hash))
        this.add({
          kind: 'bad-checkpoint',
          eventId: e.eventId,
          seq: e.seq,
          detail: `checkpoint ${c.seq}: the chain does not pass through its head at entry ${c.lastSeq}`,
        });
      else if (c.count !== this.#count)
        this.add({
          kind: 'bad-checkpoint',
          seq: e.seq,
          detail: `checkpoint ${c.seq}: counts ${c.count} events, the chain ${this.#count}`,
        });
    }
  }

  /** Ends the walk: checkpoints beyond the last entry mean the chain's tail was removed. */
  finish(): { unsigned: number; checkpoints: number } {
    for (; this.#cpi < this.#cps.length; this.#cpi++) {
      const c = this.#cps[this.#cpi]!;
      this.add({
        kind: 'removed',
        seq: this.#seq + 1,
        detail: `checkpoint ${c.seq} covers chain entries up to ${c.lastSeq}, the chain ends at ${this.#seq}`,
      });
    }
    return { unsigned: this.#seq - this.#lastCheckpointSeq, checkpoints: this.#cps.length };
  }
}

/** The report from the breaks found, first break = lowest event id (breaks without one come after, by seq). */
export function report(breaks: Break[], counts: Omit<VerifyReport, 'ok' | 'first' | 'breaks'>): VerifyReport {
  const key = (b: Break) => [b.eventId ?? Number.MAX_SAFE_INTEGER, b.seq ?? Number.MAX_SAFE_INTEGER] as const;
  const sorted = [...breaks].sort((a, b) => {
    const [a1, a2] = key(a);
    const [b1, b2] = key(b);
    return a1 - b1 || a2 - b2;
  });
  return { ok: sorted.length === 0, first: sorted[0], breaks: sorted, ...counts };
}

/**
 * The second half of a store's verification: each chained event against the latest chain entry of its id, fed in
 * any order. Body mismatches are classified together at `finish` (a swap shows as two mismatches).
 */
export class EventCheck {
  events = 0;
  /** Events whose latest entry says they are stored (found or not). */
  vouched = 0;
  readonly #add: (b: Break) => void;
  readonly #mismatches: { id: number; seq: number; actual: Buffer; expected: Buffer }[] = [];
  constructor(add: (b: Break) => void) {
    this.#add = add;
  }

  /**
   * An event whose latest entry is an insert or replace: it must be stored with that body. `body` is the stored
   * JSON (null when missing); `row` whether the rest of its record (the SQLite index row) is there.
   */
  live(id: number, seq: number, expected: Buffer, body: string | null, row = body !== null): void {
    this.vouched++;
    if (body === null || !row) {
      this.#add({ kind: 'removed', eventId: id, seq, detail: `event ${id} is missing` });
      return;
    }
    this.events++;
    const actual = bodyHash(body);
    if (!actual.equals(expected)) this.#mismatches.push({ id, seq, actual, expected });
  }

  /** An event retention deleted (`how`: by which entry): nothing of it may be stored. */
  gone(id: number, seq: number, stored: boolean, how = 'deleted by retention'): void {
    if (stored) this.#add({ kind: 'inserted', eventId: id, seq, detail: `event ${id} was ${how} but is stored` });
  }

  finish(): void {
    classifyMismatches(this.#mismatches, this.#add);
  }
}

/** Body mismatches become `reordered` when an event holds the body another event's chain entry vouches for. */
export function classifyMismatches(
  mismatches: { id: number; seq: number; actual: Buffer; expected: Buffer }[],
  add: (b: Break) => void,
): void {
  const owner = new Map<string, number>();
  for (const m of mismatches) owner.set(m.expected.toString('hex'), m.id);
  for (const m of mismatches) {
    const other = owner.get(m.actual.toString('hex'));
    if (other !== undefined && other !== m.id)
      add({ kind: 'reordered', eventId: m.id, seq: m.seq, detail: `event ${m.id} holds the body of event ${other}` });
    else add({ kind: 'changed', eventId: m.id, seq: m.seq, detail: `event ${m.id} differs from its chain entry` });
  }
}

const PAGE = 10_000;

/**
 * The anchor of a chain whose prefix retention cut (src/store/sqlite/writer.ts): the signed checkpoint at the entry
 * before its first. Undefined for a whole chain (or one cut at no valid checkpoint: the walk reports the gap).
 */
export function prunedAnchor(
  db: DatabaseSync,
  checkpoints: Checkpoint[],
  publicKey: KeyObject,
): { seq: number; hash: Buffer; count: number; genesisId: number } | undefined {
  const first = (db.prepare('SELECT min(seq) AS s FROM chain_log').get() as { s: number | null }).s;
  // an empty chain_log: cut at its head, the newest checkpoint
  const at = first === null ? Math.max(0, ...checkpoints.map((c) => c.lastSeq)) : first - 1;
  if (at <= 0) return undefined;
  const cp = checkpoints.find((c) => c.lastSeq === at && checkpointSignatureValid(c, publicKey));
  return cp && { seq: cp.lastSeq, hash: cp.head, count: cp.count, genesisId: 0 };
}

export interface VerifyStoreOptions {
  publicKey: KeyObject;
  /** Epoch ms: verify events received from then on (from the last checkpoint before them). */
  since?: number;
}

/** Verifies the SQLite store at `dbPath` (opened read-only). */
export function verifySqlite(dbPath: string, o: VerifyStoreOptions): VerifyReport {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    db.exec('BEGIN'); // one snapshot for the whole walk
    const hasChain = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'chain_log'`).get();
    if (!hasChain) throw new Error(`${dbPath}: no hash chain in this store (open it with this Vigil to upgrade it)`);
    const checkpoints = (db.prepare('SELECT * FROM checkpoints ORDER BY seq').all() as Record<string, unknown>[]).map(
      rowToCheckpoint,
    );
    const genesis = db.prepare('SELECT seq, op, event_id, body_hash, hash FROM chain_log WHERE seq = 1').get() as
      | Record<string, unknown>
      | undefined;
    const genesisId = genesis && Number(genesis.op) === OP_GENESIS ? Number(genesis.event_id) : 0;
    // Where to start: the genesis; where retention cut the chain's prefix, the signed checkpoint it was cut at; with
    // --since, the last valid checkpoint before the first event from then on.
    let anchor = { seq: 0, hash: ZERO_HASH as Buffer, count: 0, genesisId: 0 };
    const pruned = prunedAnchor(db, checkpoints, o.publicKey);
    if (pruned) anchor = pruned;
    let firstId = 0;
    if (o.since !== undefined) {
      const first = db
        .prepare('SELECT id FROM events WHERE received >= ? ORDER BY received, id LIMIT 1')
        .get(Math.ceil(o.since) * 1000) as { id: number } | undefined;
      firstId = first?.id ?? Number.MAX_SAFE_INTEGER;
      const from = first
        ? (db.prepare('SELECT min(seq) AS s FROM chain_log WHERE event_id >= ?').get(first.id) as { s: number | null })
            .s
        : (db.prepare('SELECT max(seq) AS s FROM chain_log').get() as { s: number | null }).s;
      const cp = checkpointBefore(checkpoints, from ?? 0, o.publicKey);
      if (cp && cp.lastSeq > anchor.seq) anchor = { seq: cp.lastSeq, hash: cp.head, count: cp.count, genesisId };
    }
    const walker = new ChainWalker(anchor, checkpoints, o.publicKey);
    if (checkpoints.length > 0 && checkpoints[0]!.seq !== 1)
      walker.add({ kind: 'bad-checkpoint', detail: `checkpoints 1..${checkpoints[0]!.seq - 1} are missing` });
    const page = db.prepare(
      'SELECT seq, op, event_id, body_hash, hash FROM chain_log WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    let after = anchor.seq;
    for (;;) {
      const rows = page.all(after, PAGE) as Record<string, unknown>[];
      for (const r of rows)
        walker.entry({
          seq: Number(r.seq),
          op: Number(r.op),
          eventId: Number(r.event_id),
          bodyHash: Buffer.from(r.body_hash as Uint8Array),
          hash: Buffer.from(r.hash as Uint8Array),
        });
      if (rows.length < PAGE) break;
      after = Number(rows[rows.length - 1]!.seq);
    }
    const { unsigned, checkpoints: cpCount } = walker.finish();
    const add = (b: Break) => walker.add(b);

    // Every chained event against the latest entry of its id, in event id order (keyset pages over the index).
    const minId = Math.max(genesisId + 1, firstId);
    const bodies = db.prepare(
      `SELECT c.event_id AS id, c.seq, c.op, c.body_hash, b.body, e.id IS NOT NULL AS row
       FROM chain_log c LEFT JOIN event_bodies b ON b.id = c.event_id LEFT JOIN events e ON e.id = c.event_id
       WHERE c.op <> ${OP_GENESIS} AND (c.event_id, c.seq) > (?, ?) AND c.event_id >= ?
       ORDER BY c.event_id, c.seq LIMIT ?`,
    );
    const check = new EventCheck(add);
    let cur: Record<string, unknown> | undefined;
    const settle = (r: Record<string, unknown>) => {
      const id = Number(r.id);
      const seq = Number(r.seq);
      const op = Number(r.op);
      const body = r.body as string | null;
      if (op === OP_DELETE) check.gone(id, seq, body !== null || Boolean(r.row));
      else if (op === OP_INSERT || op === OP_REPLACE)
        check.live(id, seq, Buffer.from(r.body_hash as Uint8Array), body, Boolean(r.row));
    };
    let lastId = 0;
    let lastSeq = 0;
    for (;;) {
      const rows = bodies.all(lastId, lastSeq, minId, PAGE) as Record<string, unknown>[];
      for (const r of rows) {
        if (cur && Number(cur.id) !== Number(r.id)) settle(cur);
        cur = r;
      }
      if (rows.length < PAGE) break;
      lastId = Number(cur!.id);
      lastSeq = Number(cur!.seq);
    }
    if (cur) settle(cur);
    check.finish();
    // The chain's count against the events its entries vouch for: an event removed together with every entry of it
    // (possible only where a checkpoint stands in for the chain's prefix) still counts in the checkpoint.
    if (o.since === undefined && walker.count !== check.vouched)
      add({
        kind: 'removed',
        detail: `the chain counts ${walker.count} stored events, its entries vouch for ${check.vouched}`,
      });

    // Stored events no chain entry vouches for.
    const strays = db
      .prepare(
        `SELECT id FROM (SELECT id FROM event_bodies WHERE id >= ? UNION SELECT id FROM events WHERE id >= ?) s
         WHERE NOT EXISTS (SELECT 1 FROM chain_log c WHERE c.event_id = s.id AND c.op <> ${OP_GENESIS})
         ORDER BY id LIMIT ${MAX_BREAKS}`,
      )
      .all(minId, minId) as { id: number }[];
    for (const s of strays)
      add({ kind: 'inserted', eventId: s.id, detail: `event ${s.id} is stored but not in the chain` });
    const unchained =
      o.since === undefined
        ? (db.prepare('SELECT count(*) AS n FROM event_bodies WHERE id <= ?').get(genesisId) as { n: number }).n
        : 0;
    db.exec('COMMIT');
    return report(walker.breaks, {
      entries: walker.entries,
      events: check.events,
      checkpoints: cpCount,
      unchained,
      unsigned,
    });
  } finally {
    db.close();
  }
}
