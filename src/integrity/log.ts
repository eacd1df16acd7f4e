// The checkpoint log (integrity.checkpointLog): every checkpoint the collector signs is also appended, fsync'd, to a
// JSON-lines file meant to live outside the data directory (another volume, or shipped on by the file agent), as
// CloudTrail keeps its digests apart from the logs. Whoever can rewrite the store cannot reach this copy, so
// `vigil verify --checkpoints FILE` finds what deleting checkpoints hides: a rechained store, deleted checkpoints,
// a rolled back database or a removed tail that a checkpoint had covered.
//   {"type":"header","format":"vigil-checkpoints/1","publicKey":PEM,"keyId":…}   written once, atomically
//   {"type":"checkpoint","seq","at","lastSeq","count","head","signature","keyId"}  one per signed checkpoint
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomicSync } from '../files/index.ts';
import { type Checkpoint, checkpointJson, parseCheckpointJson } from './checkpoint.ts';
import { keyIdOf } from './keys.ts';

export const CHECKPOINT_LOG_FORMAT = 'vigil-checkpoints/1';

/** Creates the log with its header unless it exists (atomically: a crash never leaves a log without its header). */
function createLog(file: string, publicKey: KeyObject): void {
  if (existsSync(file)) return;
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const header = {
    type: 'header',
    format: CHECKPOINT_LOG_FORMAT,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
    keyId: keyIdOf(publicKey),
  };
  try {
    writeFileAtomicSync(file, `${JSON.stringify(header)}\n`, { exclusive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another collector created it meanwhile
  }
}

/**
 * Appends `c` to the log at `file` and fsyncs it. A line torn by a crash mid-append is ended first, so that the
 * new line stays whole (the reader skips the torn one).
 */
export async function appendCheckpointLog(file: string, c: Checkpoint, publicKey: KeyObject): Promise<void> {
  createLog(file, publicKey);
  const fh = await open(file, 'a+');
  try {
    const { size } = await fh.stat();
    const last = Buffer.alloc(1);
    if (size > 0) await fh.read(last, 0, 1, size - 1);
    const torn = size > 0 && last[0] !== 0x0a;
    await fh.appendFile(`${torn ? '\n' : ''}${JSON.stringify(checkpointJson(c))}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The checkpoints of a log's text. Lines are `source:line`-named in errors; a line that does not parse is an error,
 * except a torn append (a line that is not JSON, followed by nothing but more lines, ended by the next append).
 */
export function parseCheckpointLog(text: string, source: string): { checkpoints: Checkpoint[]; torn: number } {
  const lines = text.split('\n');
  const checkpoints: Checkpoint[] = [];
  let torn = 0;
  lines.forEach((line, i) => {
    const where = `${source}:${i + 1}`;
    if (line.trim() === '') return;
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // an append a crash cut short: it was never acknowledged as written, the store's checkpoint stands for it
      if (!line.trimEnd().endsWith('}')) {
        torn++;
        return;
      }
      throw new Error(`${where}: not JSON`);
    }
    if (i === 0) {
      if (p.type !== 'header' || p.format !== CHECKPOINT_LOG_FORMAT)
        throw new Error(`${where}: not a Vigil checkpoint log (expected a ${CHECKPOINT_LOG_FORMAT} header)`);
    } else if (p.type === 'checkpoint') checkpoints.push(parseCheckpointJson(p, where));
    else throw new Error(`${where}: expected a checkpoint line`);
  });
  if (lines.length === 0 || lines[0]!.trim() === '') throw new Error(`${source}:1: empty checkpoint log`);
  return { checkpoints, torn };
}
