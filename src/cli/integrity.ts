// `vigil verify` and `vigil export`: the store is chosen as for `serve` (--config / --data / --storage-url). The
// verification and export engines are the integrity stage's (src/integrity); this is their command line.
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseDuration, signingKeyPath, type VigilConfig } from '../config/index.ts';
import { DEFAULT_CLOCK_SKEW_MS, parseTimeMs, timeRangeProblem } from '../event/time.ts';
import { createAtomicFile } from '../files/index.ts';
import {
  type Checkpoint,
  exportTrail,
  loadSigningKey,
  parseCheckpointLog,
  parsePublicKey,
  publicKeyPath,
  type VerifyReport,
  verifyExport,
  verifyTrail,
} from '../integrity/index.ts';
import { checkpointAndLog, maxUnsignedAge } from '../integrity/serve.ts';
import { readTrail, writeCheckpoint } from '../store/index.ts';
import { CliError, defineCommand } from './command.ts';
import { CONFIG_OPTIONS, commandConfig } from './config.ts';

/**
 * RFC 3339 time, epoch ms, or a duration meaning that long ago (`24h`): by the one timestamp parser, within the
 * accepted time range (from 1970; a duration reaching further back means from 1970).
 */
function parseSince(text: string): number {
  let t: number | undefined;
  if (/^\d{1,16}$/.test(text)) t = Number(text);
  else {
    try {
      t = parseTimeMs(text);
    } catch {
      const d = parseDuration(text);
      if (d !== undefined) t = Math.max(0, Date.now() - d);
    }
  }
  if (t === undefined)
    throw new CliError(`--since: expected an RFC 3339 time, epoch milliseconds or a duration like 24h, not "${text}"`);
  const why = timeRangeProblem(t, DEFAULT_CLOCK_SKEW_MS);
  if (why) throw new CliError(`--since: ${JSON.stringify(text)} ${why}`);
  return t;
}

function readPublicKey(file: string): KeyObject {
  try {
    return parsePublicKey(readFileSync(file, 'utf8'), file);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** --public-key, else the .pub beside the signing key, else the signing key's public half. */
function storePublicKey(config: VigilConfig, file: string | undefined): KeyObject {
  if (file) return readPublicKey(file);
  const keyPath = signingKeyPath(config);
  if (keyPath === undefined)
    throw new CliError(
      'no public key: give --public-key (or integrity.signingKey in the config, with its .pub beside it)',
    );
  const pub = publicKeyPath(keyPath);
  if (existsSync(pub)) return readPublicKey(pub);
  if (existsSync(keyPath)) return readPublicKey(keyPath);
  throw new CliError(`no public key: give --public-key, or keep ${pub} beside the store`);
}

/** `--checkpoints FILE`: the external copy of the checkpoints (integrity.checkpointLog). */
function readCheckpointLog(file: string): { source: string; checkpoints: Checkpoint[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  try {
    return { source: file, checkpoints: parseCheckpointLog(text, file).checkpoints };
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function printReport(r: VerifyReport, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  const summary =
    `${r.entries} chain entries, ${r.events} events, ${r.checkpoints} checkpoints` +
    (r.unchained > 0 ? `, ${r.unchained} events from before the chain (not verifiable)` : '') +
    (r.unsigned > 0 ? `, ${r.unsigned} entries after the last checkpoint (signed within the interval)` : '');
  if (r.ok) {
    out.write(`trail intact: ${summary}\n`);
    return 0;
  }
  const f = r.first!;
  err.write(
    `trail broken: first break: ${f.kind}${f.eventId !== undefined ? ` at event ${f.eventId}` : ''}` +
      `${f.seq !== undefined ? ` (chain entry ${f.seq})` : ''}: ${f.detail}\n`,
  );
  for (const b of r.breaks.slice(1, 20)) err.write(`  also: ${b.kind}: ${b.detail}\n`);
  if (r.breaks.length > 20) err.write(`  … ${r.breaks.length - 20} more\n`);
  out.write(`${summary}\n`);
  return 1;
}

const storeOptions = { ...CONFIG_OPTIONS, since: { type: 'string' } } as const;

/** Store errors (unreachable, no chain…) exit 1 with their message, as a broken trail does. */
async function storeCall<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message, 1);
  }
}

export const verifyCommand = defineCommand({
  name: ['verify'],
  summary: 'Verify the tamper-evident trail (hash chain and signed checkpoints); exit 1 when broken',
  usage: `Usage: vigil verify [--config vigil.yaml | --data DIR | --storage-url URL] [--since T] [--public-key FILE]
                    [--checkpoints FILE] [--json]
       vigil verify --file export.jsonl --public-key FILE [--checkpoints FILE]
       vigil verify [--config vigil.yaml | --data DIR] --print-public-key

Recomputes the store's hash chain, checks every checkpoint's Ed25519 signature and that the chain passes through
its head, and checks every stored event against its chain entry. Reports the first break (changed, removed,
inserted, reordered, bad-checkpoint) and exits 1 when the trail is broken. Retention deletions are chain entries
and do not count as tampering. --since T (RFC 3339, epoch ms or a duration like 24h) starts at the last checkpoint
before the first event received from T on. Keep the public key away from the store: a key read from the data
directory proves nothing against someone who could replace it. With PostgreSQL storage (--storage-url or the
config's, VIGIL_STORAGE_URL) the store's schema is verified, including retention's partition drops.

Checkpoints are signed at start and every integrity.checkpointInterval: entries after the last checkpoint that have
waited longer than 1.5 intervals and a minute are a break (a checkpoint over them was removed). --checkpoints FILE
checks the store against the copy kept outside it (integrity.checkpointLog): every checkpoint in the file must be
in the store and the chain must pass through it, so deleted checkpoints, a rechained store, a rolled back database
or a removed tail are breaks naming the checkpoint.
`,
  options: {
    ...storeOptions,
    'public-key': { type: 'string' },
    checkpoints: { type: 'string' },
    file: { type: 'string' },
    json: { type: 'boolean' },
    'print-public-key': { type: 'boolean' },
  },
  async run({ values }, io) {
    let r: VerifyReport;
    if (values.file) {
      const key = values['public-key'] ? readPublicKey(values['public-key']) : undefined;
      if (!key) io.stderr.write('vigil verify: no --public-key: trusting the key inside the export\n');
      const external = values.checkpoints === undefined ? undefined : readCheckpointLog(values.checkpoints);
      let text: string;
      try {
        text = readFileSync(values.file, 'utf8');
      } catch (err) {
        throw new CliError(`${values.file}: ${(err as Error).message}`);
      }
      try {
        r = verifyExport(text, key, external);
      } catch (err) {
        throw new CliError(`${values.file}: ${(err as Error).message}`);
      }
    } else {
      const config = commandConfig(values);
      if (values['print-public-key']) {
        const key = storePublicKey(config, values['public-key']);
        io.stdout.write(String(key.export({ type: 'spki', format: 'pem' })));
        return 0;
      }
      const storage = config.storage;
      if (storage.type === 'sqlite' && !existsSync(storage.path)) throw new CliError(`${storage.path}: no such store`);
      const o = {
        publicKey: storePublicKey(config, values['public-key']),
        since: values.since === undefined ? undefined : parseSince(values.since),
        maxUnsignedMs: maxUnsignedAge(config.integrity.checkpointIntervalMs),
        external: values.checkpoints === undefined ? undefined : readCheckpointLog(values.checkpoints),
      };
      r = await storeCall(() => readTrail(storage, 'verify', (trail) => verifyTrail(trail, o)));
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify(r)}\n`);
      return r.ok ? 0 : 1;
    }
    return printReport(r, io.stdout, io.stderr);
  },
});

export const exportCommand = defineCommand({
  name: ['export'],
  summary: 'Export events with their hashes and signed checkpoints for offline verification',
  usage: `Usage: vigil export [--config vigil.yaml | --data DIR | --storage-url URL] [--since T] [--out FILE]

Writes JSON lines (header with the public key, anchor, chain entries with the events' stored JSON, checkpoints) to
FILE or stdout. When the signing key is at hand a fresh checkpoint is written first, so every exported entry is
covered by a signature. Check it with: vigil verify --file FILE --public-key vigil-signing.pub
`,
  options: { ...storeOptions, out: { type: 'string', short: 'o' } },
  async run({ values }, io) {
    const config = commandConfig(values);
    const storage = config.storage;
    if (storage.type === 'sqlite' && !existsSync(storage.path)) throw new CliError(`${storage.path}: no such store`);
    const keyPath = signingKeyPath(config);
    let publicKey: KeyObject;
    if (keyPath !== undefined && existsSync(keyPath)) {
      const key = loadSigningKey(keyPath, false);
      await storeCall(() => checkpointAndLog(config, key, () => writeCheckpoint(storage, key)));
      publicKey = key.publicKey;
    } else publicKey = storePublicKey(config, undefined);
    const o = { publicKey, since: values.since === undefined ? undefined : parseSince(values.since) };
    // to a path: whole or not at all (a failed export never leaves a truncated file that looks like one)
    const file = values.out ? createAtomicFile(values.out, { mode: 0o600 }) : undefined;
    const write = (line: string) => {
      if (file) file.write(`${line}\n`);
      else io.stdout.write(`${line}\n`);
    };
    try {
      await storeCall(() => readTrail(storage, 'export', (trail) => exportTrail(trail, o, write)));
    } catch (err) {
      file?.abort();
      throw err;
    }
    file?.commit();
    return 0;
  },
});
