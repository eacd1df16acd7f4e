import { parseDuration } from '../config/index.ts';
import type { Page } from '../store/types.ts';
import {
  CLIENT_OPTIONS,
  type ClientValues,
  eventLine,
  FILTER_USAGE,
  failOnError,
  filterParams,
  headers,
  OUTPUT_USAGE,
  outputFormat,
  row,
  serverURL,
  table,
} from './client.ts';
import { CliError, defineCommand } from './command.ts';

export const queryCommand = defineCommand({
  name: ['query'],
  summary: 'Search stored audit events over the HTTP API',
  usage: `Usage: vigil query ${FILTER_USAGE} [--search TEXT]
                   [--since 1h | --from T --to T] [--limit N] [--all] [-o ${OUTPUT_USAGE}]
                   [--server URL] [--token T]

Filters are exact; repeat a flag (or give a comma list) to OR values. --search is free text.
T is RFC 3339 or Unix seconds. --server defaults to $VIGIL_URL or http://127.0.0.1:8080,
--token to $VIGIL_TOKEN. --limit (default 50) caps the events shown; --all pages through every match.
`,
  options: {
    ...CLIENT_OPTIONS,
    since: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean' },
  },
  async run({ values }, io) {
    const v = values as ClientValues & { since?: string; from?: string; to?: string; limit?: string; all?: boolean };
    const fmt = outputFormat(v);
    const params = filterParams(v);
    if (v.since && (v.from || v.to)) throw new CliError('--since cannot be combined with --from/--to');
    if (v.since) {
      const ms = parseDuration(v.since);
      if (ms === undefined) throw new CliError(`--since: expected a duration like 30m, 1h, 7d, not "${v.since}"`);
      // a span reaching before 1970 means everything: the accepted time range starts there
      params.set('start_time', String(Math.max(0, Math.floor((Date.now() - ms) / 1000))));
    }
    if (v.from) params.set('start_time', v.from);
    if (v.to) params.set('end_time', v.to);
    const limit = v.all ? Number.POSITIVE_INFINITY : Number(v.limit ?? 50);
    if (!v.all && !(Number.isSafeInteger(limit) && limit > 0))
      throw new CliError(`--limit: expected a positive integer, not "${v.limit}"`);

    const items: Page['items'] = [];
    let total = 0;
    let after: string | undefined;
    do {
      const p = new URLSearchParams(params);
      p.set('size', String(Math.min(1000, limit - items.length)));
      if (after) p.set('after', after);
      const url = serverURL(v, '/api/v1/events', p);
      const res = await fetch(url, { headers: headers(v) }).catch((err: Error) => {
        throw new CliError(`cannot reach the server at ${url.origin}: ${err.cause ?? err.message}`, 1);
      });
      await failOnError(res);
      const page = (await res.json()) as Page;
      total = page.total;
      items.push(...page.items);
      after = page.next;
    } while (after && items.length < limit);

    if (fmt === 'json') io.stdout.write(`${JSON.stringify({ total, items }, null, 2)}\n`);
    else if (fmt !== 'table') for (const e of items) io.stdout.write(eventLine(fmt, e));
    else {
      io.stdout.write(items.length ? table(items.map(row)) : 'No events found.\n');
      if (total > items.length)
        io.stderr.write(`(${items.length} of ${total} events shown; --limit N or --all for more)\n`);
    }
    return 0;
  },
});
