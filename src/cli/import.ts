// `vigil import`: audit log files into the store, through the collector's own pipeline — the config's limits,
// ingest.mask, workspaces, rules (what they ignore is not stored) and alerts, and CADF pairing — so that an imported
// file ends up exactly as if its events had been sent to `vigil serve`.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { EventValidationError } from '../event/index.ts';
import { createIngestor, FORMATS } from '../ingest/index.ts';
import { maskKeyOf } from '../integrity/keys.ts';
import { checkpointAndLog, integrityKey } from '../integrity/serve.ts';
import { openDecisions } from '../server/index.ts';
import { openStore } from '../store/index.ts';
import { CliError, type CommandIO, defineCommand } from './command.ts';
import { CONFIG_OPTIONS, CONFIG_USAGE, commandConfig } from './config.ts';

/** Events per store transaction while importing. */
const CHUNK = 2000;
/** Files at least this large get a progress bar (on a terminal). */
const LARGE = 4 * 1024 * 1024;

export const importCommand = defineCommand({
  name: ['import'],
  summary: 'Load audit log files (Kubernetes, CADF, OpenFaaS, Vigil) into the store',
  usage: `Usage: vigil import [--config vigil.yaml] [--data ./data] [--storage-url URL] [--progress] FILE…

Reads Kubernetes audit logs (JSON lines or legacy lines), CADF logs and notifications, OpenFaaS deliveries
and Vigil events, and stores them as \`vigil serve\` with the same configuration would: its limits, masks,
workspaces, rules (events they ignore are not stored) and alerts; a CADF call's request and response become one
event. Importing the same file twice stores nothing new. A progress bar goes to stderr for large files
(--progress forces it).

${CONFIG_USAGE}
  --progress                 a progress bar on stderr
`,
  options: { ...CONFIG_OPTIONS, progress: { type: 'boolean' } },
  positionals: true,
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new CliError('no files given', 2, true);
    const config = commandConfig(values);
    if (config.storage.type === 'sqlite') mkdirSync(path.dirname(config.storage.path), { recursive: true });
    const log = (level: string) => (obj: object, msg: string) =>
      io.stderr.write(`vigil import: ${level}: ${msg}${Object.keys(obj).length ? ` ${JSON.stringify(obj)}` : ''}\n`);
    const decisions = await openDecisions(config, { info: () => {}, warn: log('warning'), error: log('error') });
    for (const w of decisions.warnings) io.stderr.write(`vigil import: warning: ${w}\n`);
    let store: Awaited<ReturnType<typeof openStore>> | undefined;
    const totals = { inserted: 0, duplicates: 0, ignored: 0, alerts: 0 };
    try {
      store = await openStore(config.storage);
      // the collector's signing key (created as `vigil serve` would): masked values get the same digests
      const key = integrityKey(config);
      const ingestor = createIngestor(config, store, { decisions, maskKey: key && maskKeyOf(key) });
      for (const file of positionals) {
        const events = decodeFile(ingestor, file);
        const bar =
          values.progress || (isTTY(io) && statSync(file).size >= LARGE)
            ? progress(io.stderr, file, events.length)
            : undefined;
        for (let i = 0; i < events.length; i += CHUNK) {
          const r = await ingestor.ingest(FORMATS.file, events.slice(i, i + CHUNK));
          for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r[k];
          bar?.(Math.min(i + CHUNK, events.length));
        }
        if (bar) io.stderr.write('\n');
      }
      // signed as the collector would: an unsigned tail older than the checkpoint interval fails `vigil verify`
      if (key) await checkpointAndLog(config, key, () => store!.checkpoint(key));
    } finally {
      await decisions.close();
      await store?.close();
    }
    const where =
      config.storage.type === 'sqlite' ? config.storage.path : `PostgreSQL schema ${config.storage.schema ?? 'vigil'}`;
    const rules = totals.ignored ? `, ${totals.ignored} ignored by the rules` : '';
    const alerts = totals.alerts ? `, ${totals.alerts} alerts raised` : '';
    io.stdout.write(
      `imported ${totals.inserted} events (${totals.duplicates} already stored${rules}${alerts}) into ${where}\n`,
    );
    return 0;
  },
});

function isTTY(io: CommandIO): boolean {
  return (io.stderr as NodeJS.WriteStream).isTTY === true;
}

function decodeFile(ingestor: ReturnType<typeof createIngestor>, file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot read: ${(err as Error).message}`);
  }
  try {
    return ingestor.decode(FORMATS.file, text);
  } catch (err) {
    if (err instanceof EventValidationError) throw new CliError(`${file}: ${err.message}`);
    throw err;
  }
}

function progress(out: NodeJS.WritableStream, file: string, total: number): (done: number) => void {
  const width = 30;
  return (done) => {
    const f = total ? done / total : 1;
    const filled = Math.round(f * width);
    out.write(
      `\r${path.basename(file)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${(f * 100).toFixed(0)}%`,
    );
  };
}
