// `vigil migrate-data`: moves an embedded (SQLite) installation's events into PostgreSQL. Reads the source in
// keyset pages (the store's own cursor), appends each page to the target (idempotent), and saves the cursor in the
// target after each page, so an interrupted copy resumes where it stopped; at the end it checks the counts.
import { existsSync } from 'node:fs';
import {
  type EventQuery,
  encodeCursor,
  MAX_STORED_MICROS,
  openPostgresStore,
  openSqliteStore,
  type PostgresStore,
  toMicros,
} from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { CliError, type CommandIO, defineCommand } from './command.ts';

const usage = `Usage: vigil migrate-data --from sqlite:PATH --to postgres://USER@HOST:PORT/DB [--schema NAME] [--page N]

Copies every event of an embedded SQLite store into PostgreSQL (schema created if needed), with a progress bar on
stderr. Resumable: run it again after an interruption and it continues from the last copied page. Events keep
their content; their ids are new (PostgreSQL's own). Ends by checking that the target holds every source event.

Options:
  --from sqlite:PATH   the SQLite database file (e.g. sqlite:./data/vigil.db)
  --to URL             the PostgreSQL database
  --schema NAME        Vigil's schema in PostgreSQL (default: vigil)
  --page N             events per page (default 1000)

Exit status: 0 when every event was copied and verified, 1 when verification failed, 2 on bad usage.
`;

export const migrateDataCommand = defineCommand({
  name: ['migrate-data'],
  summary: 'copy the events of an embedded SQLite store into PostgreSQL (resumable, verified)',
  usage,
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    schema: { type: 'string' },
    page: { type: 'string' },
  },
  async run({ values }, io) {
    if (!values.from?.startsWith('sqlite:')) throw new CliError('--from must be sqlite:PATH');
    const path = values.from.slice('sqlite:'.length);
    if (!existsSync(path)) throw new CliError(`--from: no SQLite database at ${path}`);
    if (!values.to || !/^postgres(ql)?:\/\//.test(values.to)) throw new CliError('--to must be a postgres:// URL');
    const pageSize = values.page === undefined ? 1000 : Number(values.page);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)
      throw new CliError(`--page must be an integer from 1 to 10000, not ${values.page}`);

    const source = await openSqliteStore({ path });
    let target: PostgresStore | undefined;
    try {
      target = await openPostgresStore({ url: values.to, schema: values.schema ?? 'vigil', poolSize: 2 });
      return await copy(source, target, `sqlite:${path}`, pageSize, io);
    } finally {
      await source.close();
      await target?.close();
    }
  },
});

/**
 * The events a store can keep (received 1970 … MAX_STORED_MICROS): rows outside it, which an older version stored
 * (year 0000 or 9999), cannot be appended to the target; they are counted and left behind, not a failed copy.
 */
const KEPT: EventQuery = { start: 0, end: Math.floor(MAX_STORED_MICROS / 1000) };

async function copy(source: Store, target: PostgresStore, key: string, size: number, io: CommandIO): Promise<number> {
  const all = (await source.query({}, { sort: 'asc', size: 0 })).total;
  const total = (await source.query(KEPT, { sort: 'asc', size: 0 })).total;
  if (all > total)
    io.stderr.write(`${all - total} source events have a time outside 1970…2255 that no store keeps: not copied\n`);
  const first = (await source.query(KEPT, { sort: 'asc', size: 1 })).items[0];
  const last = (await source.query(KEPT, { sort: 'desc', size: 1 })).items[0];
  // the source's days get partitions first, so that old events do not pile up in the DEFAULT partition
  if (first && last)
    await target.createPartitions(toMicros(first.requestReceivedTimestamp), toMicros(last.requestReceivedTimestamp));
  const saved = await target.importPosition(key);
  let cursor = saved?.cursor ?? undefined;
  let copied = saved?.copied ?? 0;
  const progress = new Progress(io.stderr, total);
  if (saved) io.stderr.write(`resuming ${key} after ${copied} events\n`);
  progress.show(copied);
  let inserted = 0;
  for (;;) {
    const page = await source.query(KEPT, { sort: 'asc', size, after: cursor });
    const lastItem = page.items[page.items.length - 1];
    if (!lastItem) break;
    inserted += (await target.append(page.items)).inserted;
    copied += page.items.length;
    // the cursor after this page's last event (also on the last page, so that a later run picks up newer events)
    cursor = encodeCursor(toMicros(lastItem.requestReceivedTimestamp), lastItem.id);
    await target.saveImportPosition(key, cursor, copied);
    progress.show(copied);
    if (!page.next) break;
  }
  progress.done();
  // every source event must be in the target: count the source's events the target finds by auditID and time
  const missing = await countMissing(source, target, size);
  io.stdout.write(
    `${key}: ${total} events in the source, ${inserted} stored by this run, ${copied} read in all; ${missing === 0 ? 'verified: the target holds every source event' : `${missing} source events are MISSING from the target`}\n`,
  );
  return missing === 0 ? 0 : 1;
}

async function countMissing(source: Store, target: Store, size: number): Promise<number> {
  let missing = 0;
  let after: string | undefined;
  do {
    const page = await source.query(KEPT, { sort: 'asc', size, after });
    const ids = [...new Set(page.items.map((e) => e.auditID))];
    if (ids.length > 0) {
      const found = await target.query({ exact: { auditID: ids } }, { sort: 'asc', size: 10_000 });
      const have = new Set(found.items.map((e) => `${e.auditID} ${e.stage} ${e.requestReceivedTimestamp}`));
      for (const e of page.items) if (!have.has(`${e.auditID} ${e.stage} ${e.requestReceivedTimestamp}`)) missing++;
    }
    after = page.next;
  } while (after);
  return missing;
}

/** A progress bar on stderr: redrawn in place on a terminal, one line per 10 % otherwise. */
class Progress {
  readonly #out: NodeJS.WritableStream;
  readonly #total: number;
  readonly #tty: boolean;
  readonly #start = Date.now();
  #lastTenth = -1;
  constructor(out: NodeJS.WritableStream, total: number) {
    this.#out = out;
    this.#total = total;
    this.#tty = Boolean((out as { isTTY?: boolean }).isTTY);
  }
  show(n: number): void {
    const frac = this.#total === 0 ? 1 : Math.min(1, n / this.#total);
    const tenth = Math.floor(frac * 10);
    if (!this.#tty && tenth === this.#lastTenth) return;
    this.#lastTenth = tenth;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const secs = (Date.now() - this.#start) / 1000;
    const line = `[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${n}/${this.#total} events${secs > 0 ? `, ${Math.round(n / secs)}/s` : ''}`;
    this.#out.write(this.#tty ? `\r${line}` : `${line}\n`);
  }
  done(): void {
    if (this.#tty) this.#out.write('\n');
  }
}
