// The log sink: one line per event (Kubernetes JSON, kube-apiserver's legacy line, or CADF JSON) to a
// file or stdout, with lumberjack-style rotation as kube-apiserver configures it: past `maxsize` MB the
// file is renamed `name-<UTC 2006-01-02T15-04-05.000>.ext`, optionally gzipped to `….ext.gz`, and old
// backups are pruned by count (`maxbackup`) and by the time in their name (`maxage` days).
// All file I/O is asynchronous (libuv's pool), so a slow disk never blocks the event loop; writes are
// serialised so lines never interleave. Unlike kube-apiserver (kubernetes#111208) a log file deleted or
// moved away under the running process is noticed (by inode, at most every `reopenCheckMs`) and
// recreated, instead of writing on into an unlinked file.
// A single write larger than maxsize goes into a fresh file rather than failing (lumberjack refuses it):
// losing the event would be worse than an oversized file.
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { AuditEvent } from '../event/model.ts';
import { syncDirSync } from '../files/index.ts';
import { type Encoders, toJSON } from './encoders.ts';
import type { SinkMetrics } from './metrics.ts';
import { type LogFormat, type Sink, SinkClosedError, type SinkLogger, stderrLogger } from './types.ts';

export const DEFAULT_LOG = { format: 'json' as LogFormat, maxsize: 100, maxbackup: 100, maxage: 366, compress: false };

export interface LogSinkOptions {
  /** File path or `-` for stdout. */
  path: string;
  format?: LogFormat;
  /** MB (fractions allowed); 0 = no rotation. */
  maxsize?: number;
  maxbackup?: number;
  maxage?: number;
  compress?: boolean;
  reopenCheckMs?: number;
  encoders: Encoders;
  metrics?: SinkMetrics;
  logger?: SinkLogger;
  /** Where `-` writes; default process.stdout. */
  stdout?: Writable;
  /** Clock for backup names and maxage; default the real one. */
  now?: () => number;
}

const MB = 1024 * 1024;
const GROUP_BUFFER = 64 * 1024;
const GROUP_BUFFER_KEPT = MB;

/** lumberjack's backupTimeFormat, in UTC: `2006-01-02T15-04-05.000`. */
export function backupTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace(/:/g, '-');
}

function parseBackupTimestamp(s: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/.exec(s);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`);
  return Number.isNaN(t) ? undefined : t;
}

export class LogSink implements Sink {
  readonly path: string;
  private readonly o: LogSinkOptions;
  private readonly line: (e: AuditEvent) => string;
  private readonly maxBytes: number;
  private readonly maxbackup: number;
  private readonly maxage: number;
  private readonly compress: boolean;
  private readonly reopenCheckMs: number;
  private readonly now: () => number;
  private readonly logger: SinkLogger;
  private fh: FileHandle | undefined;
  private ino = 0;
  private size = 0;
  private lastCheck = 0;
  private lastBackup = 0;
  // Group commit: lines written while a file write is in flight go out together in the next single write, so the
  // number of file writes tracks the disk's pace, not the request rate. The writers of one group share a promise.
  // Each line goes into the group's buffer as UTF-8 as soon as it is made: no string outlives its event (held
  // until the write, lines would survive young-generation collections and be copied and promoted), and no
  // joined string is flattened and copied into a new Buffer per group. Two buffers take turns: one fills while
  // the file write of the other is in flight.
  private buf: Buffer = Buffer.allocUnsafe(GROUP_BUFFER);
  private used = 0;
  private spare: Buffer | undefined;
  private pendingN = 0;
  private group: PromiseWithResolvers<void> | undefined;
  private draining: Promise<void> | undefined;
  private milling: Promise<void> | undefined;
  private millAgain = false;
  private closed = false;

  constructor(o: LogSinkOptions) {
    if (!o.path) throw new Error('log.path is required (a file path, or - for stdout)');
    this.o = o;
    this.path = o.path;
    const format = o.format ?? DEFAULT_LOG.format;
    const enc = o.encoders;
    if (format === 'json') this.line = (e) => enc.formatKubernetesJSON(e);
    else if (format === 'legacy') this.line = (e) => enc.formatLegacyLine(e);
    else if (format === 'cadf') this.line = (e) => toJSON(enc.encodeCadf(e));
    else throw new Error(`log.format must be json, legacy or cadf, got "${format}"`);
    const maxsize = o.maxsize ?? DEFAULT_LOG.maxsize;
    for (const [k, v] of [
      ['maxsize', maxsize],
      ['maxbackup', o.maxbackup ?? 0],
      ['maxage', o.maxage ?? 0],
    ] as const) {
      if (!(v >= 0)) throw new Error(`log.${k} must be ≥ 0, got ${v}`);
    }
    this.maxBytes = Math.floor(maxsize * MB);
    this.maxbackup = o.maxbackup ?? DEFAULT_LOG.maxbackup;
    this.maxage = o.maxage ?? DEFAULT_LOG.maxage;
    this.compress = o.compress ?? DEFAULT_LOG.compress;
    this.reopenCheckMs = o.reopenCheckMs ?? 1000;
    this.now = o.now ?? Date.now;
    this.logger = o.logger ?? stderrLogger;
  }

  write(events: AuditEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new SinkClosedError('log sink'));
    if (events.length === 0) return Promise.resolve();
    for (const e of events) this.append(this.line(e));
    this.pendingN += events.length;
    this.group ??= Promise.withResolvers<void>();
    const { promise } = this.group;
    this.draining ??= this.drain();
    return promise;
  }

  /** One line and its newline, as UTF-8, into the group's buffer (grown when it does not fit). */
  private append(line: string): void {
    let buf = this.buf;
    // A UTF-16 code unit is at most 3 bytes of UTF-8: only a line that might not fit is measured.
    if (this.used + line.length * 3 + 1 > buf.length) {
      const need = this.used + Buffer.byteLength(line) + 1;
      if (need > buf.length) {
        buf = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
        this.buf.copy(buf, 0, 0, this.used);
        this.buf = buf;
      }
    }
    this.used += buf.write(line, this.used);
    buf[this.used++] = 0x0a;
  }

  private async drain(): Promise<void> {
    while (this.group !== undefined) {
      const { group, buf, used, pendingN } = this;
      this.group = undefined;
      this.buf = this.spare ?? Buffer.allocUnsafe(GROUP_BUFFER);
      this.spare = undefined;
      this.used = 0;
      this.pendingN = 0;
      try {
        await this.writeBuf(buf.subarray(0, used), pendingN);
        group.resolve();
      } catch (err) {
        group.reject(err);
      }
      // Written (the file write has copied it): the next group can fill it, unless a burst made it huge.
      if (buf.length <= GROUP_BUFFER_KEPT) this.spare = buf;
    }
    this.draining = undefined;
  }

  private async writeBuf(buf: Buffer, n: number): Promise<void> {
    try {
      if (this.path === '-') {
        const out = this.o.stdout ?? process.stdout;
        // A stream may hold on to a chunk past its callback (a PassThrough hands it on as it is): give it a copy.
        const chunk = Buffer.from(buf);
        await new Promise<void>((resolve, reject) => out.write(chunk, (err) => (err ? reject(err) : resolve())));
      } else {
        await this.ensureOpen();
        if (this.maxBytes > 0 && this.size > 0 && this.size + buf.length > this.maxBytes) await this.rotate();
        await this.fh!.write(buf, 0, buf.length);
        this.size += buf.length;
      }
      this.o.metrics?.delivered(n);
    } catch (err) {
      this.o.metrics?.error();
      throw err;
    }
  }

  private async openFile(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const fh = await open(this.path, 'a', 0o600);
    const st = await fh.stat();
    this.fh = fh;
    this.ino = st.ino;
    this.size = st.size;
    this.lastCheck = this.now();
  }

  private async ensureOpen(): Promise<void> {
    if (!this.fh) return this.openFile();
    if (this.now() - this.lastCheck < this.reopenCheckMs) return;
    this.lastCheck = this.now();
    let moved = false;
    try {
      moved = (await stat(this.path)).ino !== this.ino;
    } catch {
      moved = true;
    }
    if (moved) {
      this.logger.warn('audit log file was deleted or moved; reopening', { path: this.path });
      await this.fh.close().catch(() => {});
      this.fh = undefined;
      await this.openFile();
    }
  }

  private async rotate(): Promise<void> {
    await this.fh!.close();
    this.fh = undefined;
    // Two rotations in one millisecond must not overwrite each other's backup.
    const t = Math.max(this.now(), this.lastBackup + 1);
    this.lastBackup = t;
    const name = basename(this.path);
    const ext = extname(name);
    const backup = join(dirname(this.path), `${name.slice(0, name.length - ext.length)}-${backupTimestamp(t)}${ext}`);
    await rename(this.path, backup);
    await this.openFile();
    this.mill();
  }

  /** Compresses and prunes backups in the background; one pass at a time, re-run if asked meanwhile. */
  private mill(): void {
    if (this.milling) {
      this.millAgain = true;
      return;
    }
    this.milling = (async () => {
      do {
        this.millAgain = false;
        try {
          await this.millOnce();
        } catch (err) {
          this.logger.error('audit log rotation cleanup failed', { path: this.path, error: String(err) });
        }
      } while (this.millAgain);
    })().finally(() => {
      this.milling = undefined;
    });
  }

  private async millOnce(): Promise<void> {
    const dir = dirname(this.path);
    const name = basename(this.path);
    const ext = extname(name);
    const prefix = `${name.slice(0, name.length - ext.length)}-`;
    const backups: { file: string; t: number; gz: boolean }[] = [];
    for (const f of await readdir(dir)) {
      if (!f.startsWith(prefix)) continue;
      const gz = f.endsWith(`${ext}.gz`);
      if (!gz && !f.endsWith(ext)) continue;
      const stamp = f.slice(prefix.length, f.length - ext.length - (gz ? 3 : 0));
      const t = parseBackupTimestamp(stamp);
      if (t !== undefined) backups.push({ file: f, t, gz });
    }
    backups.sort((a, b) => b.t - a.t);
    const remove = new Set<string>();
    if (this.maxbackup > 0) for (const b of backups.slice(this.maxbackup)) remove.add(b.file);
    if (this.maxage > 0) {
      const cutoff = this.now() - this.maxage * 86_400_000;
      for (const b of backups) if (b.t < cutoff) remove.add(b.file);
    }
    for (const f of remove) await rm(join(dir, f), { force: true });
    if (!this.compress) return;
    for (const b of backups) {
      if (b.gz || remove.has(b.file)) continue;
      const src = join(dir, b.file);
      const tmp = `${src}.gz.tmp`;
      await pipeline(createReadStream(src), createGzip(), createWriteStream(tmp, { mode: 0o600 }));
      // durable before the original goes: a crash must not leave an empty .gz in place of the backup
      const gz = await open(tmp, 'r');
      try {
        await gz.sync();
      } finally {
        await gz.close();
      }
      await rename(tmp, `${src}.gz`);
      syncDirSync(dir);
      await rm(src, { force: true });
    }
  }

  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    await this.fh?.datasync();
    while (this.milling) await this.milling;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    await this.fh?.close();
    this.fh = undefined;
  }
}
