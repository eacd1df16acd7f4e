// Where the SQLite store keeps each event's JSON. A new event's body goes, with up to BLOCK_EVENTS neighbours of the
// same append, into one zstd frame of `body_blocks` compressed with a dictionary trained from this store's own events
// (`body_dicts`, versioned: a block names the dictionary it needs); `events.block` names the block. Until a store has
// a dictionary, and for a body replaced in place (collapsed CADF stages), the body is a plain row of `event_bodies`
// (`events.block` NULL), which the writer packs into blocks in the background, a bounded step at a time — the same
// step that compresses a store written before schema 6.
//
// Measured (bench/RESULTS.md): Falco's Kubernetes events of ≈ 1.9 KB of JSON take ≈ 2.5 KB each as rows (overflow
// pages), ≈ 775 B as zstd one by one, ≈ 140–150 B in blocks of 32 with a 64 KB dictionary; compressing one event at
// a time with a dictionary cost ≈ 120 µs (Node builds a context and loads the dictionary per call), a block ≈ 12 µs
// per event. The chain hashes the JSON, not the frame: compression can change without touching the trail.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';

/** Events per block: larger compresses a little better (64: −6 %) but a read decompresses the whole block. */
export const BLOCK_EVENTS = 32;
/** Bytes of sampled bodies in a trained dictionary (zstd raw-content dictionary). */
export const DICT_BYTES = 64 * 1024;
/** Plain bodies the store needs before it trains its first dictionary from them. */
export const TRAIN_AT = 1000;
/** Events a background packing step compresses (one short transaction, like a retention step). */
export const PACK_STEP = 2048;
const LEVEL = 3;

export const BODIES_SCHEMA = `
CREATE TABLE IF NOT EXISTS body_dicts (
  id INTEGER PRIMARY KEY,              -- dictionary version
  created INTEGER NOT NULL,            -- epoch ms
  dict BLOB NOT NULL                   -- zstd raw-content dictionary: bodies sampled from this store
);
CREATE TABLE IF NOT EXISTS body_blocks (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: readers cache decompressed blocks by id
  dict INTEGER NOT NULL,               -- body_dicts.id
  first INTEGER NOT NULL,              -- lowest and highest event id in the block (retention's test of use)
  last INTEGER NOT NULL,
  ids TEXT NOT NULL,                   -- the events' ids in block order: the first, then differences, comma-separated
  data BLOB NOT NULL                   -- zstd frame of the bodies joined by '\\n' (JSON text never holds a raw newline)
);
`;

/** A block's ids as stored: the first id, then the differences (mostly 1). */
export function encodeIds(ids: readonly number[]): string {
  let out = String(ids[0]);
  for (let i = 1; i < ids.length; i++) out += `,${ids[i]! - ids[i - 1]!}`;
  return out;
}

export function decodeIds(s: string): number[] {
  const out: number[] = [];
  let cur = 0;
  for (const part of s.split(',')) {
    cur = out.length === 0 ? Number(part) : cur + Number(part);
    out.push(cur);
  }
  return out;
}

export function compressBlock(bodies: readonly string[], dict: Uint8Array): Uint8Array {
  return zstdCompressSync(Buffer.from(bodies.join('\n')), {
    dictionary: dict,
    params: {
      [constants.ZSTD_c_compressionLevel]: LEVEL,
      [constants.ZSTD_c_checksumFlag]: 0,
      [constants.ZSTD_c_dictIDFlag]: 0,
    },
  });
}

export function decompressBlock(data: Uint8Array, dict: Uint8Array): string[] {
  // output chunks of 64 KiB: a block's ≈ 60 KB in one piece (the default 16 KiB chunks cost ≈ 25 % more CPU)
  return zstdDecompressSync(data, { dictionary: dict, chunkSize: 65_536 }).toString('utf8').split('\n');
}

/**
 * A raw-content dictionary from sample bodies: zstd finds matches anywhere in it, and what recurs across events
 * (field names, API groups, user agents, annotations) is what it needs to have seen. Samples spread over the given
 * bodies, newest last (zstd reaches the end of a dictionary most cheaply).
 */
export function trainDictionary(bodies: readonly string[]): Uint8Array {
  const avg = bodies.reduce((n, b) => n + b.length, 0) / Math.max(1, bodies.length);
  const want = Math.max(1, Math.ceil(DICT_BYTES / Math.max(1, avg)));
  const step = Math.max(1, Math.floor(bodies.length / want));
  const picked: string[] = [];
  for (let i = bodies.length - 1; i >= 0 && picked.length < want; i -= step) picked.push(bodies[i]!);
  const joined = Buffer.from(picked.reverse().join('\n'));
  return joined.length > DICT_BYTES ? joined.subarray(joined.length - DICT_BYTES) : joined;
}

/**
 * Decompressed blocks a reader keeps: a page of filtered results touches up to one block per event, and the next
 * page, a refresh or the detail of one of them comes back to the same blocks (64 × ≈ 60 KB of JSON).
 */
const CACHED_BLOCKS = 64;

/** Reads bodies, from their rows or their blocks, on one connection (the store's or a trail snapshot's). */
export class BodyReader {
  readonly #db: DatabaseSync;
  /** Prepared at first use: a trail may read a store before schema 6, which has neither column nor tables. */
  #st: Record<'body' | 'block' | 'dict', StatementSync> | undefined;
  readonly #dicts = new Map<number, Uint8Array>();
  readonly #blocks = new Map<number, Map<number, string>>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get #s(): Record<'body' | 'block' | 'dict', StatementSync> {
    const db = this.#db;
    this.#st ??= {
      body: db.prepare('SELECT b.body, e.block FROM events e LEFT JOIN event_bodies b ON b.id = e.id WHERE e.id = ?'),
      block: db.prepare('SELECT dict, ids, data FROM body_blocks WHERE id = ?'),
      dict: db.prepare('SELECT dict FROM body_dicts WHERE id = ?'),
    };
    return this.#st;
  }

  /** The stored JSON of event `id` (undefined if the event is not stored). */
  read(id: number): string | undefined {
    const r = this.#s.body.get(id) as { body: string | null; block: number | null } | undefined;
    if (!r) return undefined;
    if (r.body !== null) return r.body;
    return r.block === null ? undefined : this.fromBlock(r.block, id);
  }

  /** Event `id`'s body in block `block` (its row already read by the caller). */
  fromBlock(block: number, id: number): string | undefined {
    let bodies = this.#blocks.get(block);
    if (!bodies) {
      const b = this.#s.block.get(block) as { dict: number; ids: string; data: Uint8Array } | undefined;
      if (!b) return undefined;
      let list: string[];
      try {
        list = decompressBlock(b.data, this.#dict(b.dict));
      } catch {
        return undefined; // a damaged block: its events read as missing (verify names them)
      }
      bodies = new Map();
      const ids = decodeIds(b.ids);
      for (let i = 0; i < ids.length; i++) bodies.set(ids[i]!, list[i]!);
      if (this.#blocks.size >= CACHED_BLOCKS) this.#blocks.delete(this.#blocks.keys().next().value!);
      this.#blocks.set(block, bodies);
    }
    return bodies.get(id);
  }

  #dict(id: number): Uint8Array {
    let d = this.#dicts.get(id);
    if (!d) {
      const r = this.#s.dict.get(id) as { dict: Uint8Array } | undefined;
      if (!r) throw new Error(`${this.#db.location() ?? 'store'}: body dictionary ${id} is missing`);
      d = r.dict;
      this.#dicts.set(id, d);
    }
    return d;
  }
}
