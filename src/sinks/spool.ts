// A bounded on-disk spool: what kube-apiserver would drop (buffer full, retries exhausted) is appended
// here and replayed later, also by the next process that opens the same directory.
//
// Layout: `<dir>/segment-<seq>.spool` files, append-only, each a run of records
//   [u32 BE payload length][u32 BE crc32(payload)][payload: JSON array of AuditEvent]
// written with one write and (by default) an fsync per append. Appends go to the newest (active)
// segment; readers only read sealed segments, so reading never races a write. `segment-<seq>.ack`
// holds how many bytes of that segment were delivered, so a restart resends only what was not
// acknowledged (at-least-once: a crash between delivery and ack resends those events, never loses them).
// A segment whose bytes are all acknowledged is deleted. A torn or corrupt tail (crash mid-write) ends
// the segment: the rest is counted and logged, and the next segments are read as usual.
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { type FileHandle, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import type { AuditEvent } from '../event/model.ts';
import { writeFileAtomic, writeFileAtomicSync } from '../files/index.ts';
import type { SinkMetrics } from './metrics.ts';
import { type SinkLogger, type SpoolConfig, stderrLogger } from './types.ts';

const HEADER = 8;
const LOCK = 'LOCK';
/** Spool directories open in this process (the LOCK file guards against other processes). */
const openDirs = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Two writers on one directory would interleave segments and double-send: refuse the second. */
function lockDir(dir: string): void {
  const key = resolve(dir);
  if (openDirs.has(key)) throw new Error(`spool ${dir} is already open in this process`);
  const path = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileAtomicSync(path, String(process.pid), { exclusive: true, mode: 0o600 }); // a whole pid, or none
      openDirs.add(key);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`spool ${dir} is in use by process ${pid} (remove ${path} if that is wrong)`);
      }
      // Left by a process that died (or by this one, never closed): take it over.
      unlinkSync(path);
    }
  }
}

function unlockDir(dir: string): void {
  openDirs.delete(resolve(dir));
  try {
    unlinkSync(join(dir, LOCK));
  } catch {
    // already gone
  }
}
const SEGMENT_RE = /^segment-(\d{16})\.spool$/;

interface Segment {
  seq: number;
  path: string;
  size: number;
  acked: number;
}

/** Position up to which a read's records extend; pass it to `ack` after delivering them. */
export interface SpoolCursor {
  seq: number;
  offset: number;
}

export interface SpoolDeps {
  metrics?: SinkMetrics;
  logger?: SinkLogger;
}

function segName(seq: number): string {
  return `segment-${String(seq).padStart(16, '0')}.spool`;
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly fsync: boolean;
  private readonly metrics: SinkMetrics | undefined;
  private readonly logger: SinkLogger;
  /** Sealed segments, oldest first. */
  private readonly sealed: Segment[] = [];
  private active: (Segment & { fh: FileHandle }) | undefined;
  private nextSeq: number;
  /** The head segment's bytes, cached while it is being replayed. */
  private headCache: { seq: number; buf: Buffer } | undefined;
  /** Serialises every operation: appends, reads and acks mutate the segment list. */
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(cfg: SpoolConfig, deps: SpoolDeps, nextSeq: number) {
    this.dir = cfg.dir;
    this.maxBytes = cfg.maxBytes;
    this.segmentBytes = cfg.segmentBytes ?? 4 * 1024 * 1024;
    this.fsync = cfg.fsync ?? true;
    this.metrics = deps.metrics;
    this.logger = deps.logger ?? stderrLogger;
    this.nextSeq = nextSeq;
  }

  /** Opens (creating if needed) the spool directory and finds what earlier processes left. */
  static async open(cfg: SpoolConfig, deps: SpoolDeps = {}): Promise<Spool> {
    if (!cfg.dir) throw new Error('spool.dir is required');
    if (!(cfg.maxBytes > 0)) throw new Error(`spool.maxBytes must be > 0, got ${cfg.maxBytes}`);
    mkdirSync(cfg.dir, { recursive: true, mode: 0o700 });
    lockDir(cfg.dir);
    try {
      const names = (await readdir(cfg.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
      const segments: Segment[] = [];
      for (const name of names) {
        const seq = Number(SEGMENT_RE.exec(name)![1]);
        const path = join(cfg.dir, name);
        const size = (await stat(path)).size;
        let acked = 0;
        try {
          acked = Number((await readFile(path.replace(/\.spool$/, '.ack'), 'utf8')).trim()) || 0;
        } catch {
          // no ack file: nothing of this segment was delivered
        }
        segments.push({ seq, path, size, acked: Math.min(acked, size) });
      }
      const last = segments.at(-1);
      const spool = new Spool(cfg, deps, last ? last.seq + 1 : 1);
      for (const s of segments) {
        if (s.acked >= s.size) await spool.remove(s);
        else spool.sealed.push(s);
      }
      spool.report();
      return spool;
    } catch (err) {
      unlockDir(cfg.dir);
      throw err;
    }
  }

  /** Bytes on disk not yet acknowledged. */
  pendingBytes(): number {
    let n = this.active ? this.active.size : 0;
    for (const s of this.sealed) n += s.size - s.acked;
    return n;
  }

  hasPending(): boolean {
    return this.pendingBytes() > 0;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  private report(): void {
    this.metrics?.spoolBytes(this.pendingBytes());
  }

  /**
   * Appends events durably. Events beyond the byte cap are dropped, counted and logged; returns how many
   * were kept.
   */
  append(events: AuditEvent[]): Promise<number> {
    if (events.length === 0) return Promise.resolve(0);
    return this.serial(async () => {
      if (this.closed) throw new Error(`spool ${this.dir} is closed`);
      const room = this.maxBytes - this.pendingBytes() - HEADER;
      // The common case, everything fits, costs one stringify; only near the cap is it done per event.
      let json = JSON.stringify(events);
      let kept = events.length;
      if (Buffer.byteLength(json) > room) {
        const parts: string[] = [];
        let bytes = 2;
        for (const e of events) {
          const s = JSON.stringify(e);
          const b = Buffer.byteLength(s) + 1;
          if (bytes + b > room) break;
          parts.push(s);
          bytes += b;
        }
        kept = parts.length;
        json = `[${parts.join(',')}]`;
      }
      const dropped = events.length - kept;
      if (dropped > 0) {
        this.metrics?.dropped('spool_full', dropped);
        this.logger.error('audit spool full; events dropped', {
          spool: this.dir,
          maxBytes: this.maxBytes,
          dropped,
          auditIDs: events.slice(kept).map((e) => e.auditID),
        });
      }
      if (kept === 0) return 0;
      const payload = Buffer.from(json);
      const rec = Buffer.allocUnsafe(HEADER + payload.length);
      rec.writeUInt32BE(payload.length, 0);
      rec.writeUInt32BE(crc32(payload), 4);
      payload.copy(rec, HEADER);
      if (this.active && this.active.size > 0 && this.active.size + rec.length > this.segmentBytes) {
        await this.seal();
      }
      if (!this.active) {
        const seq = this.nextSeq++;
        const path = join(this.dir, segName(seq));
        const fh = await open(path, 'a', 0o600);
        this.active = { seq, path, size: 0, acked: 0, fh };
      }
      const a = this.active;
      try {
        await a.fh.write(rec, 0, rec.length);
        if (this.fsync) await a.fh.datasync();
      } catch (err) {
        // A partial record must not sit in front of later ones: cut it off, or failing that end the
        // segment here (a torn tail only loses itself).
        await a.fh.truncate(a.size).catch(() => this.seal().catch(() => {}));
        throw err;
      }
      a.size += rec.length;
      this.metrics?.spooled(kept);
      this.report();
      return kept;
    });
  }

  private async seal(): Promise<void> {
    const a = this.active;
    if (!a) return;
    this.active = undefined;
    // Listed as sealed before the close is awaited: meanwhile hasPending() must still count its bytes, or a live
    // write would take the spool for empty and overtake what is in it.
    if (a.size > 0) this.sealed.push({ seq: a.seq, path: a.path, size: a.size, acked: 0 });
    await a.fh.close();
    if (a.size === 0) await rm(a.path, { force: true });
  }

  private async remove(s: Segment): Promise<void> {
    await rm(s.path, { force: true });
    await rm(s.path.replace(/\.spool$/, '.ack'), { force: true });
  }

  /**
   * The oldest unacknowledged events (whole records, about `maxEvents`), or null when the spool is empty.
   * Reading does not consume: the same events come back until `ack`.
   */
  read(maxEvents: number): Promise<{ events: AuditEvent[]; cursor: SpoolCursor } | null> {
    return this.serial(async () => {
      for (;;) {
        if (this.sealed.length === 0) {
          if (!this.active || this.active.size === 0) return null;
          await this.seal();
        }
        const head = this.sealed[0]!;
        if (this.headCache?.seq !== head.seq) this.headCache = { seq: head.seq, buf: await readFile(head.path) };
        const buf = this.headCache.buf;
        const events: AuditEvent[] = [];
        let off = head.acked;
        while (off < head.size && events.length < maxEvents) {
          const bad = (why: string) => {
            // How many events the lost bytes held is unknowable: count an error, log the byte count.
            this.metrics?.error();
            this.logger.error('audit spool segment has a torn or corrupt record; skipping the rest of it', {
              segment: head.path,
              offset: off,
              lostBytes: head.size - off,
              why,
            });
          };
          if (off + HEADER > buf.length) {
            bad('truncated header');
            off = head.size;
            break;
          }
          const len = buf.readUInt32BE(off);
          const sum = buf.readUInt32BE(off + 4);
          const payload = buf.subarray(off + HEADER, off + HEADER + len);
          if (payload.length !== len || crc32(payload) !== sum) {
            bad(payload.length !== len ? 'truncated payload' : 'checksum mismatch');
            off = head.size;
            break;
          }
          try {
            for (const e of JSON.parse(payload.toString('utf8')) as AuditEvent[]) events.push(e);
          } catch {
            bad('unparsable payload');
            off = head.size;
            break;
          }
          off += HEADER + len;
        }
        if (events.length > 0) return { events, cursor: { seq: head.seq, offset: off } };
        // Nothing readable left in this segment: drop it and go on with the next.
        head.acked = head.size;
        await this.ackSegment(head);
      }
    });
  }

  /** Marks everything up to `cursor` as delivered; fully delivered segments are deleted. */
  ack(cursor: SpoolCursor): Promise<void> {
    return this.serial(async () => {
      const head = this.sealed[0];
      if (!head || head.seq !== cursor.seq) return;
      head.acked = Math.max(head.acked, cursor.offset);
      await this.ackSegment(head);
    });
  }

  private async ackSegment(head: Segment): Promise<void> {
    if (head.acked >= head.size) {
      this.sealed.shift();
      this.headCache = undefined;
      await this.remove(head);
    } else {
      // whole or not at all: a torn .ack would lose the position (or replay what was acknowledged)
      await writeFileAtomic(head.path.replace(/\.spool$/, '.ack'), String(head.acked), { mode: 0o600 });
    }
    this.report();
  }

  /** Closes the active segment. Unacknowledged data stays on disk for the next process. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      const a = this.active;
      this.active = undefined;
      if (a) {
        await a.fh.close();
        if (a.size === 0) await rm(a.path, { force: true });
      }
      unlockDir(this.dir);
    });
  }
}
