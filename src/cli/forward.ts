// `vigil forward status` and `vigil forward reset NAME --since 24h`: the forwarding destinations of a running
// collector (GET /api/v1/forward) and a replay from a point (POST /api/v1/forward/<name>/reset), admin only.
import type { ForwardStatus } from '../forward/index.ts';
import { CLIENT_OPTIONS, type ClientValues, failOnError, headers, outputFormat, serverURL, table } from './client.ts';
import { CliError, defineCommand } from './command.ts';

async function call(v: ClientValues, method: string, path: string, params = new URLSearchParams()): Promise<unknown> {
  const url = serverURL(v, path, params);
  const res = await fetch(url, { method, headers: headers(v) }).catch((err: Error) => {
    throw new CliError(`cannot reach the server at ${url.origin}: ${err.cause ?? err.message}`, 1);
  });
  await failOnError(res);
  return res.json();
}

const COLUMNS = ['NAME', 'TYPE', 'FORMAT', 'POSITION', 'LAG', 'LAG(S)', 'DELIVERED', 'FAILED', 'GAP', 'LAST ERROR'];

export const forwardStatusCommand = defineCommand({
  name: ['forward', 'status'],
  summary: "Show each forwarding destination's cursor, lag, deliveries, failures, gaps and last error",
  usage: `Usage: vigil forward status [-o table|json] [--server URL] [--token T]

Asks the collector at --server (default $VIGIL_URL or http://127.0.0.1:8080; an admin token) for the state of the
destinations in its forward: list: the durable cursor (a position in the store's append log), how far behind it is
(log entries and seconds), events delivered, failed attempts and events lost to retention (GAP) since it started.
`,
  options: { ...CLIENT_OPTIONS },
  async run({ values }, io) {
    const v = values as ClientValues;
    const fmt = outputFormat(v);
    const { destinations } = (await call(v, 'GET', '/api/v1/forward')) as { destinations: ForwardStatus[] };
    if (fmt !== 'table') {
      io.stdout.write(`${JSON.stringify({ destinations }, null, 2)}\n`);
      return 0;
    }
    if (destinations.length === 0) {
      io.stdout.write('No forwarding destinations configured.\n');
      return 0;
    }
    const rows = destinations.map((d) => [
      d.name,
      d.type,
      d.format,
      d.position === null ? '-' : String(d.position),
      String(d.lagEvents),
      d.lagSeconds.toFixed(1),
      String(d.delivered),
      String(d.failed),
      String(d.gap),
      d.lastError ? `${d.lastErrorAt} ${d.lastError}` : '-',
    ]);
    io.stdout.write(table(rows, COLUMNS));
    return 0;
  },
});

export const forwardResetCommand = defineCommand({
  name: ['forward', 'reset'],
  summary: "Move a forwarding destination's cursor back to replay what was stored since a point",
  usage: `Usage: vigil forward reset NAME --since 24h|T [--server URL] [--token T]

The destination NAME of the collector's forward: list receives again every event received since then (24h: a
duration back from now; T: RFC 3339 or Unix seconds), in the order they were stored, as far as retention kept them.
`,
  options: { ...CLIENT_OPTIONS, since: { type: 'string' } },
  positionals: true,
  async run({ values, positionals }, io) {
    const v = values as ClientValues & { since?: string };
    if (positionals.length !== 1) throw new CliError('expected one destination NAME');
    if (!v.since) throw new CliError('--since is required (24h, or an RFC 3339 time)');
    const name = positionals[0]!;
    const r = (await call(
      v,
      'POST',
      `/api/v1/forward/${encodeURIComponent(name)}/reset`,
      new URLSearchParams({ since: v.since }),
    )) as { since: string; position: number };
    io.stdout.write(`${name}: replaying from ${r.since} (log position ${r.position})\n`);
    return 0;
  },
});
