// `vigil export`: the chain entries with the events' stored JSON and the signed checkpoints, as JSON lines, so that
// a third party can verify them offline with only the public key:
//   {"type":"header","format":"vigil-export/1","publicKey":PEM,"keyId":…}
//   {"type":"anchor","seq":N,"hash":hex,"count":n,"genesisId":g}   the chain before the first entry (N = 0: genesis)
//   {"type":"entry","seq","op","id","bodyHash","hash","body"?,"day"?}  body: the event's stored JSON, on its latest
//                                                                    entry; day: of a partition drop (PostgreSQL)
//   {"type":"checkpoint","seq","at","lastSeq","count","head","signature","keyId"}
import type { KeyObject } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { bodyHash, OP_DELETE, OP_GENESIS, ZERO_HASH } from './chain.ts';
import { type Checkpoint, checkpointBefore, checkpointSignatureValid, rowToCheckpoint } from './checkpoint.ts';
import { keyIdOf, parsePublicKey } from './keys.ts';
import {
  type Break,
  type ChainEntry,
  ChainWalker,
  classifyMismatches,
  prunedAnchor,
  report,
  type VerifyReport,
} from './verify.ts';

const PAGE = 10_000;

export interface ExportOptions {
  publicKey: KeyObject;
  /** Epoch ms: export from the last checkpoint before the first event received then. */
  since?: number;
}

export interface ExportWriter {
  entry(e: ChainEntry & { body?: string; day?: number }): void;
  /** The checkpoints from the anchor on. */
  checkpoints(list: Checkpoint[]): void;
  readonly entries: number;
}

/** Writes the header and the anchor; the writer returned writes the entries, then the checkpoints (every store's). */
export function exportLines(
  publicKey: KeyObject,
  anchor: { seq: number; hash: Buffer; count: number; genesisId: number },
  write: (line: string) => void,
): ExportWriter {
  write(
    JSON.stringify({
      type: 'header',
      format: 'vigil-export/1',
      algorithm: 'sha256-chain+ed25519',
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
      keyId: keyIdOf(publicKey),
    }),
  );
  write(
    JSON.stringify({
      type: 'anchor',
      seq: anchor.seq,
      hash: anchor.hash.toString('hex'),
      count: anchor.count,
      genesisId: anchor.genesisId,
    }),
  );
  let entries = 0;
  return {
    entry(e) {
      const line: Record<string, unknown> = {
        type: 'entry',
        seq: e.seq,
        op: e.op,
        id: e.eventId,
        bodyHash: e.bodyHash.toString('hex'),
        hash: e.hash.toString('hex'),
      };
      if (typeof e.body === 'string') line.body = e.body;
      if (e.day !== undefined) line.day = e.day;
      write(JSON.stringify(line));
      entries++;
    },
    checkpoints(list) {
      for (const c of list)
        if (c.lastSeq >= anchor.seq)
          write(
            JSON.stringify({
              type: 'checkpoint',
              seq: c.seq,
              at: c.at,
              lastSeq: c.lastSeq,
              count: c.count,
              head: c.head.toString('hex'),
              signature: c.signature.toString('base64'),
              keyId: c.keyId,
            }),
          );
    },
    get entries() {
      return entries;
    },
  };
}

/** Writes the export of the SQLite store at `dbPath` line by line through `write`; returns the number of entries. */
export function exportSqlite(dbPath: string, o: ExportOptions, write: (line: string) => void): number {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    db.exec('BEGIN');
    const checkpoints = (db.prepare('SELECT * FROM checkpoints ORDER BY seq').all() as Record<string, unknown>[]).map(
      rowToCheckpoint,
    );
    const g = db.prepare('SELECT op, event_id FROM chain_log WHERE seq = 1').get() as
      | { op: number; event_id: number }
      | undefined;
    const pruned = prunedAnchor(db, checkpoints, o.publicKey);
    if (!g && !pruned) throw new Error(`${dbPath}: no hash chain in this store (or its first entries are missing)`);
    const genesisId = g?.op === OP_GENESIS ? g.event_id : 0;
    let anchor: { seq: number; hash: Buffer; count: number } = pruned ?? { seq: 0, hash: ZERO_HASH, count: 0 };
    if (o.since !== undefined) {
      const first = db
        .prepare('SELECT id FROM events WHERE received >= ? ORDER BY received, id LIMIT 1')
        .get(Math.ceil(o.since) * 1000) as { id: number } | undefined;
      const from = first
        ? (db.prepare('SELECT min(seq) AS s FROM chain_log WHERE event_id >= ?').get(first.id) as { s: number }).s
        : (db.prepare('SELECT max(seq) AS s FROM chain_log').get() as { s: number }).s;
      const cp = checkpointBefore(checkpoints, from, o.publicKey);
      if (cp && cp.lastSeq > anchor.seq) anchor = { seq: cp.lastSeq, hash: cp.head, count: cp.count };
    }
    const out = exportLines(o.publicKey, { ...anchor, genesisId }, write);
    const page = db.prepare(
      `SELECT c.seq, c.op, c.event_id, c.body_hash, c.hash,
         CASE WHEN c.op NOT IN (${OP_GENESIS}, ${OP_DELETE})
               AND c.seq = (SELECT max(seq) FROM chain_log l WHERE l.event_id = c.event_id)
              THEN (SELECT body FROM event_bodies b WHERE b.id = c.event_id) END AS body
       FROM chain_log c WHERE c.seq > ? ORDER BY c.seq LIMIT ?`,
    );
    let after = anchor.seq;
    for (;;) {
      const rows = page.all(after, PAGE) as Record<string, unknown>[];
      for (const r of rows)
        out.entry({
          seq: Number(r.seq),
          op: Number(r.op),
          eventId: Number(r.event_id),
          bodyHash: Buffer.from(r.body_hash as Uint8Array),
          hash: Buffer.from(r.hash as Uint8Array),
          body: typeof r.body === 'string' ? r.body : undefined,
        });
      if (rows.length < PAGE) break;
      after = Number(rows[rows.length - 1]!.seq);
    }
    out.checkpoints(checkpoints);
    db.exec('COMMIT');
    return out.entries;
  } finally {
    db.close();
  }
}

function hex(v: unknown, what: string, line: number): Buffer {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new Error(`line ${line}: ${what} is not 64 hex digits`);
  return Buffer.from(v, 'hex');
}

/**
 * Verifies an export offline. `publicKey` is the key the verifier trusts (given separately); without it the
 * header's key is used, which proves integrity only against accidents, not against whoever wrote the file.
 */
export function verifyExport(text: string, trusted?: KeyObject): VerifyReport {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`line ${i + 1}: not JSON`);
    }
  });
  const header = parsed[0];
  if (header?.type !== 'header' || header.format !== 'vigil-export/1')
    throw new Error('line 1: not a Vigil export (expected a vigil-export/1 header)');
  const publicKey = trusted ?? parsePublicKey(String(header.publicKey), 'line 1: publicKey');
  const anchorLine = parsed[1];
  if (anchorLine?.type !== 'anchor') throw new Error('line 2: expected the anchor');
  const anchor = {
    seq: Number(anchorLine.seq),
    hash: hex(anchorLine.hash, 'hash', 2),
    count: Number(anchorLine.count),
    genesisId: Number(anchorLine.genesisId),
  };
  const checkpoints: Checkpoint[] = [];
  parsed.forEach((p, i) => {
    if (p.type === 'checkpoint')
      checkpoints.push({
        seq: Number(p.seq),
        at: Number(p.at),
        lastSeq: Number(p.lastSeq),
        count: Number(p.count),
        head: hex(p.head, 'head', i + 1),
        signature: Buffer.from(String(p.signature), 'base64'),
        keyId: String(p.keyId),
      });
  });
  const walker = new ChainWalker(anchor, checkpoints, publicKey);
  const extra: Break[] = [];
  // The anchor must be the genesis or a checkpoint's head the key vouches for.
  if (
    anchor.seq === 0
      ? !anchor.hash.equals(ZERO_HASH)
      : !checkpoints.some(
          (c) => c.lastSeq === anchor.seq && c.head.equals(anchor.hash) && checkpointSignatureValid(c, publicKey),
        )
  )
    extra.push({ kind: 'bad-checkpoint', seq: anchor.seq, detail: 'the anchor is not a signed checkpoint' });
  const mismatches: { id: number; seq: number; actual: Buffer; expected: Buffer }[] = [];
  let events = 0;
  parsed.forEach((p, i) => {
    if (p.type !== 'entry') return;
    const e = {
      seq: Number(p.seq),
      op: Number(p.op),
      eventId: Number(p.id),
      bodyHash: hex(p.bodyHash, 'bodyHash', i + 1),
      hash: hex(p.hash, 'hash', i + 1),
    };
    walker.entry(e);
    if (typeof p.body === 'string') {
      events++;
      const actual = bodyHash(p.body);
      if (!actual.equals(e.bodyHash)) mismatches.push({ id: e.eventId, seq: e.seq, actual, expected: e.bodyHash });
    }
  });
  const { unsigned, checkpoints: n } = walker.finish();
  classifyMismatches(mismatches, (b) => walker.add(b));
  return report([...extra, ...walker.breaks], {
    entries: walker.entries,
    events,
    checkpoints: n,
    unchained: 0,
    unsigned,
  });
}
