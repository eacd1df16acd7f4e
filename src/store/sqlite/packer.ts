// The writer's half of ./bodies.ts: event ids and block ids handed out inside the append transaction (so that an
// events row names its block before the block is written), the blocks of one append, the plain rows kept until the
// store has a dictionary, retention of blocks, and the background packing step.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { OP_GENESIS } from '../../integrity/chain.ts';
import { BLOCK_EVENTS, compressBlock, encodeIds, PACK_STEP, TRAIN_AT, trainDictionary } from './bodies.ts';

export class Packer {
  readonly #db: DatabaseSync;
  readonly #s: Record<
    | 'lastEvent'
    | 'lastBlock'
    | 'insertBody'
    | 'replaceBody'
    | 'insertBlock'
    | 'dropBlock'
    | 'dropOld'
    | 'plainCount'
    | 'latestDict'
    | 'insertDict'
    | 'plain'
    | 'sample'
    | 'setBlock'
    | 'deleteBody',
    StatementSync
  >;
  /** The last event id and block id handed out in the open transaction. */
  #lastId = 0;
  #lastBlock = 0;
  /** The dictionary new blocks use (none until the store has TRAIN_AT bodies). */
  #dict: { id: number; dict: Uint8Array } | undefined;
  /** The block being filled by the current append: its id, events and bodies. */
  #block = 0;
  #ids: number[] = [];
  #bodies: string[] = [];
  /** Plain rows may wait to be packed (set by appends that wrote some, cleared by a step that found few). */
  pending = true;
  /** Packing walks event_bodies by id from here (rows it cannot pack are passed over until it wraps). */
  #packAfter = 0;

  constructor(db: DatabaseSync) {
    this.#db = db;
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      lastEvent: p(
        `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                    coalesce((SELECT max(id) FROM events), 0)) AS n`,
      ),
      lastBlock: p(
        `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'body_blocks'), 0),
                    coalesce((SELECT max(id) FROM body_blocks), 0)) AS n`,
      ),
      insertBody: p('INSERT INTO event_bodies (id, body) VALUES (?, ?)'),
      replaceBody: p('INSERT OR REPLACE INTO event_bodies (id, body) VALUES (?, ?)'),
      insertBlock: p('INSERT INTO body_blocks (id, dict, first, last, ids, data) VALUES (?, ?, ?, ?, ?, ?)'),
      // a block goes when no stored event names it any more (its events lie between `first` and `last`)
      dropBlock: p(
        `DELETE FROM body_blocks WHERE id = ? AND NOT EXISTS (SELECT 1 FROM events e
           WHERE e.id BETWEEN body_blocks.first AND body_blocks.last AND e.block = body_blocks.id)`,
      ),
      // blocks none of whose events is stored any more: all older than the oldest stored event (a block whose
      // events were all replaced in place, as collapsed CADF stages are, is named by none of them)
      dropOld: p(
        `DELETE FROM body_blocks WHERE id IN (SELECT id FROM body_blocks
           WHERE last < coalesce((SELECT min(id) FROM events), 9223372036854775807) ORDER BY id LIMIT ?)`,
      ),
      plainCount: p(`SELECT count(*) AS n FROM (SELECT 1 FROM event_bodies LIMIT ${TRAIN_AT})`),
      latestDict: p('SELECT id, dict FROM body_dicts ORDER BY id DESC LIMIT 1'),
      insertDict: p('INSERT INTO body_dicts (id, created, dict) VALUES (?, ?, ?)'),
      // not the events stored before the chain existed (schema 1): verify counts their plain rows
      plain: p(
        `SELECT b.id, b.body FROM event_bodies b JOIN events e ON e.id = b.id
         WHERE b.id > max(?, coalesce((SELECT event_id FROM chain_log WHERE seq = 1 AND op = ${OP_GENESIS}), 0))
         ORDER BY b.id LIMIT ?`,
      ),
      sample: p('SELECT body FROM event_bodies ORDER BY id DESC LIMIT ?'),
      setBlock: p('UPDATE events SET block = ? WHERE id = ?'),
      deleteBody: p('DELETE FROM event_bodies WHERE id = ?'),
    };
    this.#dict = this.#s.latestDict.get() as { id: number; dict: Uint8Array } | undefined;
  }

  /** At BEGIN: where ids continue (AUTOINCREMENT's rule: after the highest ever used). */
  begin(): void {
    this.#lastId = (this.#s.lastEvent.get() as { n: number }).n;
    this.#lastBlock = (this.#s.lastBlock.get() as { n: number }).n;
    this.#ids = [];
    this.#bodies = [];
  }

  /** For a savepoint: what to restore if the batch rolls back. */
  mark(): [number, number] {
    return [this.#lastId, this.#lastBlock];
  }

  restore([id, block]: [number, number]): void {
    this.#lastId = id;
    this.#lastBlock = block;
    this.#ids = [];
    this.#bodies = [];
  }

  /** The id of the next new event and the block its body will be in (null: a plain row). */
  next(): { id: number; block: number | null } {
    const id = ++this.#lastId;
    if (!this.#dict) return { id, block: null };
    if (this.#ids.length === 0) this.#block = ++this.#lastBlock;
    return { id, block: this.#block };
  }

  /** Stores a new event's body (after its events row, with what next() answered). */
  add(id: number, block: number | null, body: string): void {
    if (block === null) {
      this.#s.insertBody.run(id, body);
      this.pending = true;
      return;
    }
    this.#ids.push(id);
    this.#bodies.push(body);
    if (this.#ids.length >= BLOCK_EVENTS) this.flush();
  }

  /** Writes the block being filled (at the end of each batch, inside its savepoint). */
  flush(): void {
    if (this.#ids.length === 0) return;
    const d = this.#dict!;
    const ids = this.#ids;
    this.#s.insertBlock.run(
      this.#block,
      d.id,
      ids[0]!,
      ids[ids.length - 1]!,
      encodeIds(ids),
      compressBlock(this.#bodies, d.dict),
    );
    this.#ids = [];
    this.#bodies = [];
  }

  /** A body replaced in place (collapsed stages): a plain row, which the caller's UPDATE points to (block NULL). */
  replace(id: number | bigint, body: string): void {
    this.#s.replaceBody.run(id, body);
    this.pending = true;
  }

  /** After retention deleted events of these blocks: drops the blocks none of whose events is left. */
  dropUnused(blocks: Set<number>): void {
    for (const b of blocks) this.#s.dropBlock.run(b);
    if (blocks.size > 0) this.#s.dropOld.run(blocks.size);
  }

  /**
   * One background step in its own transaction: trains the first dictionary once enough plain bodies exist, then
   * packs up to `limit` plain bodies into blocks (oldest first) and points their events at them. The bodies' bytes,
   * which the chain hashes, do not change. Returns how many it packed.
   */
  step(limit = PACK_STEP): number {
    const db = this.#db;
    const s = this.#s;
    db.exec('BEGIN IMMEDIATE');
    try {
      this.begin();
      if (!this.#dict) {
        // counted first: the sample reads the bodies themselves
        const enough = (s.plainCount.get() as { n: number }).n >= TRAIN_AT;
        const bodies = enough ? (s.sample.all(4 * TRAIN_AT) as { body: string }[]).map((r) => r.body) : [];
        if (bodies.length < TRAIN_AT) {
          db.exec('COMMIT');
          this.pending = false;
          return 0;
        }
        const dict = { id: 1, dict: trainDictionary(bodies.reverse()) };
        s.insertDict.run(dict.id, Date.now(), dict.dict);
        this.#dict = dict;
      }
      const rows = s.plain.all(this.#packAfter, limit) as { id: number; body: string }[];
      let packed = 0;
      let group: { id: number; body: string }[] = [];
      const write = () => {
        if (group.length === 0) return;
        this.#block = ++this.#lastBlock;
        this.#ids = group.map((r) => r.id);
        this.#bodies = group.map((r) => r.body);
        this.flush();
        for (const r of group) {
          s.setBlock.run(this.#block, r.id);
          s.deleteBody.run(r.id);
        }
        packed += group.length;
        group = [];
      };
      for (const r of rows) {
        if (r.body.includes('\n')) continue; // not written by Vigil's JSON.stringify: kept as it is
        group.push(r);
        if (group.length >= BLOCK_EVENTS) write();
      }
      write();
      db.exec('COMMIT');
      this.#packAfter = rows.length < limit ? 0 : rows[rows.length - 1]!.id;
      this.pending = rows.length >= limit;
      return packed;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      this.#ids = [];
      this.#bodies = [];
      throw err;
    }
  }
}
