// One followed audit log and its rotated copies (its family), recognised by identity rather than by name, so that
// both ways logs rotate are followed:
//   - rename-and-create (kube-apiserver's log backend, lumberjack: `audit.log` → `audit-<time>.log`, a new
//     `audit.log`, old copies pruned past maxbackup): the renamed file keeps its inode and is read to its end;
//   - copy-truncate (logrotate: `audit.log` copied to `audit.log.1`, then truncated): the copy has a new inode but
//     the same first bytes, so it resumes where the original was left; the truncated original starts over.
// A file's identity is its device and inode plus a fingerprint (sha256) of its first bytes, so that an inode
// reused by a new file is not taken for the old one.
import { createHash } from 'node:crypto';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileState } from './state.ts';

/** Bytes of a file's start its fingerprint covers (fewer while the file is shorter). */
export const FP_BYTES = 1024;
/**
 * Shortest fingerprint that recognises a file under another inode (a copy-truncate copy). An audit line's first
 * 256 bytes hold its auditID, so two files that agree on them are the same file.
 */
const MIN_MOVED_FP = 256;

/** A file of the family being followed: its saved state plus what the last scan saw. */
export interface Tracked extends FileState {
  /** The family's live name (the path as given), not a rotated copy. */
  live: boolean;
  /** Scans in a row that saw this file neither grow nor get read further. */
  idleScans: number;
  /** Bumped when a scan starts the file over: a batch read before that must not move its offset. */
  generation: number;
  /** Lines counted up to `countedTo` (from the start of the file; ≥ the acknowledged ones), for the lag in events. */
  countedTo: number;
  countedLines: number;
  fh?: FileHandle;
}

/** What a scan found, for the agent's log and metrics. */
export interface FamilyChange {
  kind: 'new' | 'rotated' | 'truncated' | 'copied' | 'gone' | 'preexisting';
  name: string;
  /** For `gone`: bytes that were never shipped. */
  lostBytes?: number;
}

interface Scanned {
  name: string;
  full: string;
  dev: string;
  ino: string;
  size: number;
  live: boolean;
}

const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|tmp)$/;

export class Family {
  readonly path: string;
  private readonly dir: string;
  private readonly base: string;
  private readonly stem: string;
  private readonly ext: string;
  entries: Tracked[];
  /** False until the first scan of a path the state had never seen: then rotated copies already there are skipped. */
  private known: boolean;
  /** Lines counted per scan and file at most: a long backlog is counted over several scans. */
  private readonly countBudget: number;

  constructor(file: string, saved: FileState[] | undefined, countBudget = 64 * 1024 * 1024) {
    this.path = file;
    this.dir = path.dirname(path.resolve(file));
    this.base = path.basename(file);
    this.ext = path.extname(this.base);
    this.stem = this.base.slice(0, this.base.length - this.ext.length);
    this.known = saved !== undefined;
    this.countBudget = countBudget;
    this.entries = (saved ?? []).map((s) => ({
      ...s,
      live: false,
      idleScans: 0,
      generation: 0,
      countedTo: s.offset,
      countedLines: s.line,
    }));
  }

  /** The live file or one of its rotated copies (lumberjack `stem-<time>.ext`; logrotate `base.1`, `base-<date>`). */
  isMember(name: string): boolean {
    if (name === this.base) return true;
    if (COMPRESSED.test(name)) return false;
    if (name.startsWith(`${this.base}.`) || name.startsWith(`${this.base}-`)) return true;
    return this.ext !== '' && name.startsWith(`${this.stem}-`) && name.endsWith(this.ext);
  }

  /** The state to save: every file still present, in age order. */
  saved(): FileState[] {
    return this.entries.map(({ name, dev, ino, fp, fpLen, offset, line, size }) => ({
      name,
      dev,
      ino,
      fp,
      fpLen,
      offset,
      line,
      size,
    }));
  }

  private async list(): Promise<Scanned[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Scanned[] = [];
    for (const name of names) {
      if (!this.isMember(name)) continue;
      const full = path.join(this.dir, name);
      const st = await stat(full, { bigint: true }).catch(() => undefined);
      if (!st?.isFile()) continue;
      out.push({
        name,
        full,
        dev: String(st.dev),
        ino: String(st.ino),
        size: Number(st.size),
        live: name === this.base,
      });
    }
    return out;
  }

  /**
   * Looks at the folder again: matches its files to the tracked ones (same inode and first bytes; or, for a copy,
   * the same first bytes), starts new files at 0, forgets files that are gone. Files are kept oldest first.
   */
  async scan(): Promise<FamilyChange[]> {
    const files = await this.list();
    const hashes = new Map<string, string | undefined>();
    // The hash of a file's first `len` bytes; undefined when the file changed under us (renamed, shortened).
    const hash = async (f: Scanned, len: number): Promise<string | undefined> => {
      const k = `${f.full}\0${len}`;
      if (!hashes.has(k)) hashes.set(k, await prefixHash(f, len));
      return hashes.get(k);
    };
    const changes: FamilyChange[] = [];
    const matched = new Map<Scanned, Tracked>();
    const used = new Set<Tracked>();
    const unmatched: Scanned[] = [];
    for (const f of files) {
      const e = this.entries.find((t) => t.dev === f.dev && t.ino === f.ino);
      if (e && f.size >= e.fpLen && (await hash(f, e.fpLen)) === e.fp) {
        matched.set(f, e);
        used.add(e);
      } else {
        // Same inode, other content: truncated in place (copy-truncate) if it has the same name; otherwise the inode
        // of a removed file was given to a new one.
        if (e && e.name === f.name) changes.push({ kind: 'truncated', name: f.name });
        unmatched.push(f);
      }
    }
    const fresh: Scanned[] = [];
    for (const f of unmatched) {
      let moved: Tracked | undefined;
      for (const e of this.entries) {
        if (used.has(e) || e.fpLen < MIN_MOVED_FP || f.size < e.fpLen) continue;
        if ((await hash(f, e.fpLen)) === e.fp) {
          moved = e;
          break;
        }
      }
      if (!moved) {
        fresh.push(f);
        continue;
      }
      // The same content under another inode: a copy-truncate copy (or a move across file systems).
      changes.push({ kind: 'copied', name: f.name });
      await moved.fh?.close().catch(() => {});
      Object.assign(moved, { dev: f.dev, ino: f.ino, fh: undefined, offset: Math.min(moved.offset, f.size) });
      matched.set(f, moved);
      used.add(moved);
    }
    for (const e of this.entries) {
      if (used.has(e)) continue;
      await e.fh?.close().catch(() => {});
      changes.push({ kind: 'gone', name: e.name, lostBytes: Math.max(0, e.size - e.offset) });
    }
    const next: Tracked[] = [];
    for (const [f, e] of matched) {
      if (e.live && !f.live) changes.push({ kind: 'rotated', name: f.name });
      if (f.size < e.offset) {
        // Shorter than what was read, same first bytes: truncated and rewritten alike. Start over.
        changes.push({ kind: 'truncated', name: f.name });
        Object.assign(e, { offset: 0, line: 0, countedTo: 0, countedLines: 0, generation: e.generation + 1 });
      }
      e.idleScans = f.size === e.size ? e.idleScans + 1 : 0;
      Object.assign(e, { name: f.name, live: f.live, size: f.size });
      if (e.fpLen < FP_BYTES && f.size > e.fpLen) {
        const len = Math.min(f.size, FP_BYTES);
        const h = await hash(f, len);
        if (h !== undefined) Object.assign(e, { fp: h, fpLen: len });
      }
      next.push(e);
    }
    for (const f of fresh) {
      const len = Math.min(f.size, FP_BYTES);
      const fp = await hash(f, len);
      if (fp === undefined) continue; // changed while we looked: the next scan sees it settled
      // Rotated copies present when a path is first followed predate the agent: not shipped (the live file is).
      const skip = !this.known && !f.live;
      // A rotated copy never seen under the live name: written and rotated between two scans.
      changes.push({ kind: skip ? 'preexisting' : f.live ? 'new' : 'rotated', name: f.name });
      next.push({
        name: f.name,
        dev: f.dev,
        ino: f.ino,
        fp,
        fpLen: len,
        offset: skip ? f.size : 0,
        line: 0,
        size: f.size,
        live: f.live,
        idleScans: 0,
        generation: 0,
        countedTo: skip ? f.size : 0,
        countedLines: 0,
      });
    }
    this.known = true;
    // Oldest first: rotated copies by name (their names carry the time or a decreasing number), the live file last.
    this.entries = next.sort(byAge);
    for (const e of this.entries) await this.count(e);
    return changes;
  }

  /** Counts the newlines of what was appended since the last count (bounded per scan). */
  private async count(e: Tracked): Promise<void> {
    if (e.countedTo < e.offset) Object.assign(e, { countedTo: e.offset, countedLines: e.line });
    const end = Math.min(e.size, e.countedTo + this.countBudget);
    if (end <= e.countedTo) return;
    const fh = await this.handle(e);
    if (!fh) return;
    const buf = Buffer.allocUnsafe(256 * 1024);
    let pos = e.countedTo;
    let lines = e.countedLines;
    while (pos < end) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(10, 0); i >= 0 && i < bytesRead; i = buf.indexOf(10, i + 1)) lines++;
      pos += bytesRead;
    }
    Object.assign(e, { countedTo: pos, countedLines: lines });
  }

  /** An open handle on `e`, checked to be that file (a rename between scan and open would give another). */
  async handle(e: Tracked): Promise<FileHandle | undefined> {
    if (e.fh) return e.fh;
    let fh: FileHandle;
    try {
      fh = await open(path.join(this.dir, e.name), 'r');
    } catch {
      return undefined;
    }
    const st = await fh.stat({ bigint: true });
    if (String(st.dev) !== e.dev || String(st.ino) !== e.ino) {
      await fh.close();
      return undefined;
    }
    e.fh = fh;
    return fh;
  }

  /** Lets go of the handles of rotated copies read to their end (they are reopened if they ever grow). */
  async release(): Promise<void> {
    for (const e of this.entries) {
      if (e.fh && !e.live && e.offset >= e.size) {
        await e.fh.close().catch(() => {});
        e.fh = undefined;
      }
    }
  }

  async close(): Promise<void> {
    for (const e of this.entries) {
      await e.fh?.close().catch(() => {});
      e.fh = undefined;
    }
  }
}

function byAge(a: Tracked, b: Tracked): number {
  if (a.live !== b.live) return a.live ? 1 : -1;
  // logrotate numbers copies upwards with age (`.2` older than `.1`); dated names sort oldest first.
  const na = /\.(\d+)$/.exec(a.name);
  const nb = /\.(\d+)$/.exec(b.name);
  if (na && nb) return Number(nb[1]) - Number(na[1]);
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

async function prefixHash(f: Scanned, len: number): Promise<string | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(f.full, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (String(st.ino) !== f.ino || String(st.dev) !== f.dev) return undefined;
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, got);
      if (bytesRead === 0) return undefined;
      got += bytesRead;
    }
    return createHash('sha256').update(buf).digest('hex');
  } finally {
    await fh.close();
  }
}
