// Every file Vigil creates is written whole or not at all: a temporary file beside it, written and fsync'd, then
// renamed over the name (or linked, when an existing file must never be replaced) and the folder fsync'd, so that a
// crash or a full disk leaves the old file or the new one, never an empty or torn one (a 0-byte signing key made
// every later start fail). One helper, sync and async, used for keys, spool metadata, ship state, the checkpoint
// log's header and exports to a path.
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0o644; keys and state 0o600). */
  mode?: number;
  /** Never replace an existing file: fail with EEXIST instead (first writer wins, as keys need). */
  exclusive?: boolean;
}

/** The steps a fault can be injected at (tests): while writing the temporary file, and before it takes the name. */
export type AtomicStep = 'write' | 'commit';
let fault: ((step: AtomicStep, file: string) => void) | undefined;

/** Tests only: calls `f` at each step of every atomic write; it throws to simulate a full disk or a crash. */
export function injectWriteFault(f: ((step: AtomicStep, file: string) => void) | undefined): void {
  fault = f;
}

function tempName(file: string): string {
  return `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`;
}

/** fsyncs a folder, so that a rename or link in it survives a crash. */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file being written (e.g. an export streamed to a path): it takes its name only at `commit`. */
export interface AtomicFile {
  write(data: string | Uint8Array): void;
  /** fsync, rename (or link) into place, fsync the folder. */
  commit(): void;
  /** Removes the temporary file; the name keeps what it had. */
  abort(): void;
}

/** Starts writing `file` atomically (see the header); the folder must exist. */
export function createAtomicFile(file: string, o: AtomicWriteOptions = {}): AtomicFile {
  const tmp = tempName(file);
  let fd: number | undefined = openSync(tmp, 'wx', o.mode ?? 0o644);
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  const abort = () => {
    close();
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already gone
    }
  };
  return {
    write(data) {
      try {
        fault?.('write', file);
        const b = typeof data === 'string' ? Buffer.from(data) : data;
        for (let at = 0; at < b.length; ) at += writeSync(fd!, b, at);
      } catch (err) {
        abort();
        throw err;
      }
    },
    commit() {
      try {
        fsyncSync(fd!);
        close();
        fault?.('commit', file);
        if (o.exclusive) linkSync(tmp, file);
        else renameSync(tmp, file);
      } catch (err) {
        abort();
        throw err;
      }
      if (o.exclusive) abort(); // the name holds the file now; the temporary link goes
      syncDirSync(path.dirname(path.resolve(file)));
    },
    abort,
  };
}

/** Writes `data` to `file` atomically (see the header); the folder must exist. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const f = createAtomicFile(file, o);
  f.write(data);
  f.commit();
}

/** The async form of writeFileAtomicSync, for writers on the event path (spool, ship state). */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  o: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = tempName(file);
  const fh = await open(tmp, 'wx', o.mode ?? 0o644);
  let renamed = false;
  try {
    try {
      fault?.('write', file);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    fault?.('commit', file);
    if (o.exclusive) await link(tmp, file);
    else await rename(tmp, file);
    renamed = !o.exclusive;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => {});
  }
  const dir = await open(path.dirname(path.resolve(file)), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
