// Verification of a store's trail: the chain is recomputed entry by entry, every checkpoint's signature is checked
// and the chain must pass through each checkpoint's head at its lastSeq; then every stored event must match the
// body hash of its latest chain entry. Retention deletions are chain entries, so they do not read as tampering.
import type { KeyObject } from 'node:crypto';
import {
  bodyHash,
  type ChainEntry,
  chainHash,
  DropDigest,
  OP_DELETE,
  OP_DROP,
  OP_GENESIS,
  OP_INSERT,
  OP_NAMES,
  OP_REPLACE,
} from './chain.ts';
import { type Checkpoint, checkpointSignatureValid } from './checkpoint.ts';
import { type TrailOptions, type TrailReader, trailStart } from './trail.ts';

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

/** Most breaks kept in a report (the first is what matters; the rest give an idea of the extent). */
const MAX_BREAKS = 1000;

/** A checkpoint the chain must pass through, and how messages name it (the store's, or the external log's). */
interface Signed {
  c: Checkpoint;
  name: string;
  external?: boolean;
}

/**
 * Walks chain entries in seq order from an anchor (the hash and live-event count before the first entry) and checks
 * them against the checkpoints: the store's, and those of an external copy (integrity.checkpointLog) if given.
 * Shared by the store and the offline export verification.
 */
export class ChainWalker {
  readonly breaks: Break[] = [];
  #prev: Buffer;
  #seq: number;
  #count: number;
  #genesisId = 0;
  #cps: Signed[];
  #cpi = 0;
  entries = 0;
  #lastCheckpointSeq: number;
  /** Epoch ms of the newest checkpoint the chain passed through (the anchor's, if signed). */
  #lastSignedAt: number | undefined;

  constructor(
    anchor: { seq: number; hash: Buffer; count: number; genesisId?: number; at?: number },
    checkpoints: Checkpoint[],
    publicKey: KeyObject,
    external?: { source: string; checkpoints: Checkpoint[] },
  ) {
    this.#genesisId = anchor.genesisId ?? 0;
    this.#prev = anchor.hash;
    this.#seq = anchor.seq;
    this.#count = anchor.count;
    this.#lastCheckpointSeq = anchor.seq;
    this.#lastSignedAt = anchor.at;
    let prevSeq: number | undefined;
    let prevLast = 0;
    const valid: Signed[] = [];
    for (const c of checkpoints) {
      if (!checkpointSignatureValid(c, publicKey))
        this.add({ kind: 'bad-checkpoint', seq: c.lastSeq, detail: `checkpoint ${c.seq}: signature does not verify` });
      else if (c.lastSeq < prevLast)
        this.add({ kind: 'bad-checkpoint', seq: c.lastSeq, detail: `checkpoint ${c.seq}: goes back in the chain` });
      else valid.push({ c, name: `checkpoint ${c.seq}` });
      if (prevSeq !== undefined && c.seq !== prevSeq + 1)
        this.add({ kind: 'bad-checkpoint', detail: `checkpoints ${prevSeq + 1}..${c.seq - 1} are missing` });
      prevSeq = c.seq;
      prevLast = Math.max(prevLast, c.lastSeq);
    }
    if (external) valid.push(...this.#external(external, checkpoints, publicKey, anchor.seq));
    this.#cps = valid.filter((s) => s.c.lastSeq > anchor.seq).sort((a, b) => a.c.lastSeq - b.c.lastSeq);
  }

  /**
   * The external copy's checkpoints: each must be in the store as it was signed (deleted or replaced ones are named
   * here) and, like the store's, have the chain pass through its head (a rechained, rolled back or cut store fails).
   */
  #external(
    log: { source: string; checkpoints: Checkpoint[] },
    stored: Checkpoint[],
    publicKey: KeyObject,
    anchorSeq: number,
  ): Signed[] {
    const bySeq = new Map(stored.map((c) => [c.seq, c]));
    const out: Signed[] = [];
    for (const c of log.checkpoints) {
      const name = `checkpoint ${c.seq} of ${log.source}`;
      if (!checkpointSignatureValid(c, publicKey)) {
        this.add({ kind: 'bad-checkpoint', seq: c.lastSeq, detail: `${name}: signature does not verify` });
        continue;
      }
      const s = bySeq.get(c.seq);
      if (!s)
        this.add({
          kind: 'bad-checkpoint',
          seq: c.lastSeq,
          detail: `${name} (signed ${new Date(c.at).toISOString()}, chain entry ${c.lastSeq}) is missing from the store: checkpoints were deleted or the database rolled back`,
        });
      else if (!s.signature.equals(c.signature))
        this.add({
          kind: 'bad-checkpoint',
          seq: c.lastSeq,
          detail: `${name} differs from the store's checkpoint ${c.seq}`,
        });
      if (c.lastSeq > anchorSeq) out.push({ c, name, external: true });
    }
    return out;
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
    while (this.#cpi < this.#cps.length && this.#cps[this.#cpi]!.c.lastSeq <= e.seq) {
      const { c, name } = this.#cps[this.#cpi++]!;
      if (c.lastSeq !== e.seq) continue; // its entry is missing: reported as removed
      this.#lastCheckpointSeq = c.lastSeq;
      if (!c.head.equals(e.hash))
        this.add({
          kind: 'bad-checkpoint',
          eventId: e.eventId,
          seq: e.seq,
          detail: `${name}: the chain does not pass through its head at entry ${c.lastSeq}`,
        });
      else if (c.count !== this.#count)
        this.add({
          kind: 'bad-checkpoint',
          seq: e.seq,
          detail: `${name}: counts ${c.count} events, the chain ${this.#count}`,
        });
      else this.#lastSignedAt = Math.max(this.#lastSignedAt ?? 0, c.at);
    }
  }

  /**
   * Ends the walk: checkpoints beyond the last entry mean the chain's tail was removed. With `maxUnsignedMs`, entries
   * after the last checkpoint that have waited longer than that for one are a failure too: the collector signs at
   * start and every interval, so a missing checkpoint over them is evidence that it was removed.
   */
  finish(o: { maxUnsignedMs?: number; now?: number } = {}): { unsigned: number; checkpoints: number } {
    for (; this.#cpi < this.#cps.length; this.#cpi++) {
      const { c, name } = this.#cps[this.#cpi]!;
      this.add({
        kind: 'removed',
        seq: this.#seq + 1,
        detail: `${name} covers chain entries up to ${c.lastSeq}, the chain ends at ${this.#seq}`,
      });
    }
    const unsigned = this.#seq - this.#lastCheckpointSeq;
    if (o.maxUnsignedMs !== undefined && unsigned > 0) this.#staleTail(unsigned, o.maxUnsignedMs, o.now ?? Date.now());
    return { unsigned, checkpoints: this.#cps.filter((s) => !s.external).length };
  }

  /** Reported after every other break (no seq): it is often the consequence of one (a checkpoint that fails). */
  #staleTail(unsigned: number, maxMs: number, now: number): void {
    const from = `from entry ${this.#lastCheckpointSeq + 1}`;
    const why = `checkpoints are signed at start and every interval, so entries wait at most ${formatMs(maxMs)} for one`;
    if (this.#lastSignedAt === undefined) {
      // A chain of its genesis entry alone is a new store no collector has signed yet.
      if (this.#seq > 1)
        this.add({
          kind: 'removed',
          detail: `no checkpoint signs the chain's ${unsigned} entries (${from}): ${why}; checkpoints were removed`,
        });
    } else if (now - this.#lastSignedAt > maxMs)
      this.add({
        kind: 'removed',
        detail:
          `the ${unsigned} chain entries ${from} after the last checkpoint (signed ${new Date(this.#lastSignedAt).toISOString()}) ` +
          `have waited ${formatMs(now - this.#lastSignedAt)} for a signature: ${why}; a checkpoint over them was ` +
          'removed (or the collector stopped without signing them: starting it signs them)',
      });
  }
}

/** A duration for messages: `12m 30s`, `3h 5m`, `2d 4h`. */
function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor(s / 60) % 60 ? ` ${Math.floor(s / 60) % 60}m` : ''}`;
  return `${Math.floor(s / 86_400)}d${Math.floor(s / 3600) % 24 ? ` ${Math.floor(s / 3600) % 24}h` : ''}`;
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

interface Drop {
  seq: number;
  count: number;
  expected: Buffer;
  digest: DropDigest;
}

/**
 * Verifies a store's trail as `r` reads it (one snapshot): the chain walk against the checkpoints, every chained event
 * against its latest entry, the chain's count against the events its entries vouch for, partition drops (PostgreSQL)
 * against the ids they took, and no event stored that the chain does not vouch for.
 */
export async function verifyTrail(r: TrailReader, o: TrailOptions): Promise<VerifyReport> {
  const { checkpoints, genesisId, anchor, pruned, firstId } = await trailStart(r, o);
  const walker = new ChainWalker(anchor, checkpoints, o.publicKey, o.external);
  const add = (b: Break) => walker.add(b);
  if (checkpoints.length > 0 && checkpoints[0]!.seq !== 1)
    add({ kind: 'bad-checkpoint', detail: `checkpoints 1..${checkpoints[0]!.seq - 1} are missing` });
  // Drops by day, in chain order: an event of that day whose latest entry precedes a drop went with it. (A partial
  // walk needs none before its anchor: the anchor precedes every entry of the events it checks.)
  const drops = new Map<number, Drop[]>();
  for await (const page of r.entries(anchor.seq, (seq, detail) => add({ kind: 'changed', seq, detail })))
    for (const e of page) {
      walker.entry(e);
      if (e.op === OP_DROP && e.day !== undefined) {
        const list = drops.get(e.day) ?? [];
        list.push({ seq: e.seq, count: e.eventId, expected: e.bodyHash, digest: new DropDigest(e.day) });
        drops.set(e.day, list);
      }
    }
  const { unsigned, checkpoints: cpCount } = walker.finish(o);

  // Every chained event against its latest entry, in id order (so that the drops' digests are fed in order).
  const check = new EventCheck(add);
  for await (const page of r.latest(Math.max(genesisId + 1, firstId)))
    for (const e of page) {
      const stored = e.body !== null || e.row;
      if (e.op === OP_DELETE) check.gone(e.id, e.seq, stored);
      else if (e.op === OP_INSERT || e.op === OP_REPLACE) {
        const drop = e.day === undefined ? undefined : drops.get(e.day)?.find((d) => d.seq > e.seq);
        if (drop) {
          drop.digest.add(e.id);
          check.gone(e.id, e.seq, stored, `dropped with its day's partition (chain entry ${drop.seq})`);
        } else check.live(e.id, e.seq, e.bodyHash, e.body, e.row);
      }
    }
  check.finish();
  if (o.since === undefined) checkCounts(walker, check, drops, pruned);

  // Stored events no chain entry vouches for.
  for (const id of await r.strays(Math.max(genesisId + 1, firstId), MAX_BREAKS))
    add({ kind: 'inserted', eventId: id, detail: `event ${id} is stored but not in the chain` });
  return report(walker.breaks, {
    entries: walker.entries,
    events: check.events,
    checkpoints: cpCount,
    unchained: o.since === undefined ? await r.unchained(genesisId) : 0,
    unsigned,
  });
}

/** The checks of a whole walk (not a partial one, which does not see every event a count or a drop covers). */
function checkCounts(walker: ChainWalker, check: EventCheck, drops: Map<number, Drop[]>, pruned: boolean): void {
  // The chain's count against the events its entries vouch for: an event removed together with every entry of it
  // (possible only where a checkpoint stands in for the chain's prefix) still counts in the checkpoint.
  if (walker.count !== check.vouched)
    walker.add({
      kind: 'removed',
      detail: `the chain counts ${walker.count} stored events, its entries vouch for ${check.vouched}`,
    });
  // A drop vouches for the ids its partition held; the chain must say the same. Where the prefix was cut, the entries
  // of a drop's earlier events may have gone with it: such a drop, holding fewer events in the walk than it counts,
  // is checked by the count above.
  for (const [day, list] of drops)
    for (const d of list)
      if (pruned && d.digest.count < d.count) continue;
      else if (d.digest.count !== d.count || !d.digest.digest().equals(d.expected))
        walker.add({
          kind: 'changed',
          seq: d.seq,
          detail:
            `chain entry ${d.seq} drops ${d.count} events of day ${new Date(day * 86_400_000).toISOString().slice(0, 10)}, ` +
            `the chain holds ${d.digest.count} other or different ones for it (an event removed, or an entry's day changed)`,
        });
}
