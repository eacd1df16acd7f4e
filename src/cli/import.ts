import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.ts';
import { decodeEvents, EventValidationError } from '../event/index.ts';
import { Ingestor } from '../ingest/pipeline.ts';
import { openStore } from '../store/index.ts';
import { CliError, type Command } from './command.ts';

/** Events per store transaction while importing. */
const CHUNK = 2000;
/** Files at least this large get a progress bar (on a terminal). */
const LARGE = 4 * 1024 * 1024;

export const importCommand: Command = {
  name: ['import'],
  summary: 'Load audit log files (Kubernetes, CADF, OpenFaaS, Vigil) into the store',
  usage: `Usage: vigil import [--config vigil.yaml] [--data ./data] [--progress] FILE…

Reads Kubernetes audit logs (JSON lines or legacy lines), CADF logs and notifications, OpenFaaS deliveries
and Vigil events, and appends them to the store the server uses (same --config/--data as vigil serve).
Importing the same file twice stores nothing new. A progress bar goes to stderr for large files
(--progress forces it).
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { config: { type: 'string', short: 'c' }, data: { type: 'string' }, progress: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length === 0) throw new CliError('no files given');
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(values.config, { data: values.data });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    if (config.storage.type === 'sqlite')
      mkdirSync(path.dirname(path.resolve(config.storage.path)), { recursive: true });
    const store = await openStore(config.storage);
    const ingestor = new Ingestor(store, config.workspaces);
    const isTTY = (io.stderr as NodeJS.WriteStream).isTTY === true;
    let inserted = 0;
    let duplicates = 0;
    try {
      for (const file of positionals) {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new CliError(`${file}: cannot read: ${(err as Error).message}`);
        }
        let events: ReturnType<typeof decodeEvents>;
        try {
          events = decodeEvents(text);
        } catch (err) {
          if (err instanceof EventValidationError) throw new CliError(`${file}: ${err.message}`);
          throw err;
        }
        const bar =
          values.progress || (isTTY && statSync(file).size >= LARGE)
            ? progress(io.stderr, file, events.length)
            : undefined;
        for (let i = 0; i < events.length; i += CHUNK) {
          const r = await ingestor.ingest('import', events.slice(i, i + CHUNK));
          inserted += r.inserted;
          duplicates += r.duplicates;
          bar?.(Math.min(i + CHUNK, events.length));
        }
        if (bar) io.stderr.write('\n');
      }
    } finally {
      await store.close();
    }
    io.stdout.write(
      `imported ${inserted} events (${duplicates} already stored) into ${config.storage.type === 'sqlite' ? config.storage.path : `PostgreSQL schema ${config.storage.schema ?? 'vigil'}`}\n`,
    );
    return 0;
  },
};

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
