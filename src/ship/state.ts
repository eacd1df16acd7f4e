// The agent's read positions, kept in `--state DIR/ship-state.json`: per followed path, every file of its family
// (the live file and its rotated copies) by identity — device, inode and a fingerprint of its first bytes — with
// the byte offset and line number up to which the collector has acknowledged it. Written only after an
// acknowledgement, atomically (a temporary file, fsync, rename, fsync of the folder): a crash leaves the old state
// or the new one, never a torn one.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../files/index.ts';

export interface FileState {
  /** The file's name when last seen (its family's live name, or a rotated name). Informational. */
  name: string;
  /** Device and inode numbers, decimal (they can exceed 2^53). */
  dev: string;
  ino: string;
  /** sha256 (hex) of the first `fpLen` bytes. */
  fp: string;
  fpLen: number;
  /** Acknowledged up to here: the start of the next line to ship. */
  offset: number;
  /** Lines before `offset`, for file:line in reports. */
  line: number;
  /** Size when last seen: what is lost if the file disappears unread. */
  size: number;
}

export interface ShipState {
  version: 1;
  /** Followed path (as given) → the files of its family. A path present here has been seen before. */
  paths: Record<string, FileState[]>;
}

export const STATE_FILE = 'ship-state.json';

export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}

function isFileState(v: unknown): v is FileState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.name === 'string' &&
    typeof o.fp === 'string' &&
    typeof o.dev === 'string' &&
    typeof o.ino === 'string' &&
    ['fpLen', 'offset', 'line', 'size'].every((k) => Number.isSafeInteger(o[k]) && (o[k] as number) >= 0)
  );
}

/** The state in `dir` (created if missing); an empty one when there is none yet. */
export function loadState(dir: string): ShipState {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, paths: {} };
    throw new StateError(`${file}: cannot read: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new StateError(`${file}: not JSON (${(err as Error).message}); move it away to start over`);
  }
  const s = v as ShipState;
  if (s?.version !== 1 || typeof s.paths !== 'object' || s.paths === null)
    throw new StateError(`${file}: not a version 1 ship state; move it away to start over`);
  for (const [p, files] of Object.entries(s.paths)) {
    if (!Array.isArray(files) || !files.every(isFileState))
      throw new StateError(`${file}: the entry of ${JSON.stringify(p)} is malformed; move the file away to start over`);
  }
  return s;
}

/** Replaces the state in `dir` atomically and durably. */
export async function saveState(dir: string, state: ShipState): Promise<void> {
  await writeFileAtomic(path.join(dir, STATE_FILE), `${JSON.stringify(state)}\n`, { mode: 0o600 });
}
