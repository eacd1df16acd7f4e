// `vigil export`: the chain entries with the events' stored JSON and the signed checkpoints, as JSON lines, so that
// a third party can verify them offline with only the public key:
//   {"type":"header","format":"vigil-export/1","publicKey":PEM,"keyId":…}
//   {"type":"anchor","seq":N,"hash":hex,"count":n,"genesisId":g}   the chain before the first entry (N = 0: genesis)
//   {"type":"entry","seq","op","id","bodyHash","hash","body"?,"day"?}  body: the event's stored JSON, on its latest
//                                                                    entry; day: of a partition drop (PostgreSQL)
//   {"type":"checkpoint","seq","at","lastSeq","count","head","signature","keyId"}
import type { KeyObject } from 'node:crypto';
import { bodyHash, type ChainEntry, ZERO_HASH } from './chain.ts';
import { type Checkpoint, checkpointJson, checkpointSignatureValid, parseCheckpointJson } from './checkpoint.ts';
import { keyIdOf, parsePublicKey } from './keys.ts';
import { type TrailOptions, type TrailReader, trailStart } from './trail.ts';
import { type Break, ChainWalker, classifyMismatches, report, type VerifyReport } from './verify.ts';

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
      for (const c of list) if (c.lastSeq >= anchor.seq) write(JSON.stringify(checkpointJson(c)));
    },
    get entries() {
      return entries;
    },
  };
}

/**
 * Writes the export of a store's trail as `r` reads it (one snapshot) line by line through `write`; returns the
 * number of entries. A chain with neither its first entry nor a signed checkpoint standing in for it is refused.
 */
export async function exportTrail(r: TrailReader, o: TrailOptions, write: (line: string) => void): Promise<number> {
  const { checkpoints, first, genesisId, anchor, pruned } = await trailStart(r, o);
  if (!first && !pruned) throw new Error(`${r.name}: no hash chain in this store (or its first entries are missing)`);
  const out = exportLines(o.publicKey, { ...anchor, genesisId }, write);
  for await (const page of r.exported(anchor.seq)) for (const e of page) out.entry(e);
  out.checkpoints(checkpoints);
  return out.entries;
}

function hex(v: unknown, what: string, line: number): Buffer {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new Error(`line ${line}: ${what} is not 64 hex digits`);
  return Buffer.from(v, 'hex');
}

/**
 * Verifies an export offline. `publicKey` is the key the verifier trusts (given separately); without it the
 * header's key is used, which proves integrity only against accidents, not against whoever wrote the file.
 */
export function verifyExport(
  text: string,
  trusted?: KeyObject,
  external?: { source: string; checkpoints: Checkpoint[] },
): VerifyReport {
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
    if (p.type === 'checkpoint') checkpoints.push(parseCheckpointJson(p, `line ${i + 1}`));
  });
  const walker = new ChainWalker(anchor, checkpoints, publicKey, external);
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
