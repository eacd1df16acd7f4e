import type { StoredEvent } from '../store/types.ts';
import {
  CLIENT_OPTIONS,
  type ClientValues,
  COLUMNS,
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

export const tailCommand = defineCommand({
  name: ['tail'],
  summary: 'Follow newly stored audit events live (Server-Sent Events)',
  usage: `Usage: vigil tail ${FILTER_USAGE} [--search TEXT]
                  [--limit N] [-o ${OUTPUT_USAGE}] [--server URL] [--token T]

Prints each matching event as it is stored, until interrupted (or after N events with --limit).
`,
  options: { ...CLIENT_OPTIONS, limit: { type: 'string' } },
  async run({ values }, io) {
    const v = values as ClientValues & { limit?: string };
    const fmt = outputFormat(v);
    const limit = v.limit === undefined ? Number.POSITIVE_INFINITY : Number(v.limit);
    if (v.limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0))
      throw new CliError(`--limit: expected a positive integer, not "${v.limit}"`);
    let seen = 0;
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    try {
      const url = serverURL(v, '/api/v1/events/stream', filterParams(v));
      const res = await fetch(url, {
        headers: { ...headers(v), accept: 'text/event-stream' },
        signal: ac.signal,
      }).catch((err: Error) => {
        throw new CliError(`cannot reach the server at ${url.origin}: ${err.cause ?? err.message}`, 1);
      });
      await failOnError(res);
      if (fmt === 'table') io.stdout.write(table([], COLUMNS));
      const skipped = (notice: Record<string, unknown>) =>
        io.stderr.write(`vigil tail: the server skipped events (this client fell behind): ${JSON.stringify(notice)}\n`);
      for await (const e of sseEvents(res, skipped)) {
        if (fmt === 'table') io.stdout.write(`${row(e).join('   ')}\n`);
        else if (fmt === 'json') io.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
        else io.stdout.write(eventLine(fmt, e));
        if (++seen >= limit) break;
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    } finally {
      process.off('SIGINT', stop);
    }
    return 0;
  },
});

/**
 * Parses a `text/event-stream` body into the JSON of its `data:` fields; named events (`event: skipped`, sent when
 * the client fell behind or a resume's replay was cut) go to `onNotice` instead.
 */
export async function* sseEvents(
  res: Response,
  onNotice?: (data: Record<string, unknown>, event: string) => void,
): AsyncGenerator<StoredEvent> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let sep = buf.indexOf('\n\n');
    while (sep >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const lines = block.split('\n');
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      const event = lines
        .find((l) => l.startsWith('event:'))
        ?.slice(6)
        .trim();
      if (data && event && event !== 'message') onNotice?.(JSON.parse(data) as Record<string, unknown>, event);
      else if (data) yield JSON.parse(data) as StoredEvent;
      sep = buf.indexOf('\n\n');
    }
  }
}
