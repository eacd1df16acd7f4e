// `vigil history secrets/db-credentials -n payments`: an object's writes, oldest first, with what each changed —
// through the API (`/api/v1/objects/history`), so a tenant's token sees what its scope allows.
import { parseDuration } from '../config/index.ts';
import type { DiffEntry, History, HistoryItem } from '../query/index.ts';
import { type ClientValues, failOnError, headers, serverURL, table } from './client.ts';
import { CliError, defineCommand } from './command.ts';

const HEADER = ['TIME', 'USER', 'VERB', 'CODE', 'CHANGE'] as const;
/** Longest value shown in the table; -o json has them whole. */
const SHOWN = 40;

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? '';
  return s.length > SHOWN ? `${s.slice(0, SHOWN - 1)}…` : s;
}

/** One diff entry as the table writes it: `+/data/token`, `~/data/password (masked, changed)`, `~/x: 1 → 2`. */
export function describeEntry(d: DiffEntry): string {
  const sign = d.op === 'add' ? '+' : d.op === 'remove' ? '-' : '~';
  const path = `${sign}${d.path || '/'}`;
  if (d.masked) return `${path} (masked, ${d.masked})`;
  if (d.op === 'replace' && 'before' in d && 'after' in d) return `${path}: ${shown(d.before)} → ${shown(d.after)}`;
  if (d.op === 'add' && 'after' in d) return `${path}: ${shown(d.after)}`;
  return path;
}

function describeChange(i: HistoryItem): string {
  const what = i.change.diff.map(describeEntry).join(', ');
  if (what) return `${i.change.kind}: ${what}`;
  if (i.code !== undefined && (i.code < 200 || i.code >= 300)) return `${i.change.kind}: refused`;
  return i.change.kind;
}

export const historyCommand = defineCommand({
  name: ['history'],
  summary: "An object's writes, oldest first, with what each changed",
  usage: `Usage: vigil history RESOURCE/NAME [-n NAMESPACE] [--subresource S]
                     [--since 1h | --from T --to T] [--limit N] [--all] [-o table|json]
                     [--server URL] [--token T]

Every create, update, patch and delete of the object (and of its subresources, unless --subresource
picks one) with who, when, the code and what changed; masked values say "changed" or "unchanged".
--limit (default 100) caps the writes shown; --all pages through every one.
`,
  options: {
    server: { type: 'string' },
    token: { type: 'string' },
    output: { type: 'string', short: 'o' },
    namespace: { type: 'string', short: 'n' },
    subresource: { type: 'string' },
    since: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean' },
  },
  positionals: true,
  async run({ values, positionals }, io) {
    const v = values as ClientValues & {
      namespace?: string;
      subresource?: string;
      since?: string;
      from?: string;
      to?: string;
      limit?: string;
      all?: boolean;
    };
    const [resource, name, ...rest] = positionals.length === 1 ? positionals[0]!.split('/') : positionals;
    if (!resource || !name || rest.length > 0)
      throw new CliError('give the object as RESOURCE/NAME (secrets/db-credentials) or RESOURCE NAME', 2, true);
    const fmt = v.output ?? 'table';
    if (fmt !== 'table' && fmt !== 'json') throw new CliError(`-o: expected table or json, not "${fmt}"`);
    const params = new URLSearchParams({ resource, name });
    if (v.namespace) params.set('namespace', v.namespace);
    if (v.subresource !== undefined) params.set('subresource', v.subresource);
    if (v.since && (v.from || v.to)) throw new CliError('--since cannot be combined with --from/--to');
    if (v.since) {
      const ms = parseDuration(v.since);
      if (ms === undefined) throw new CliError(`--since: expected a duration like 30m, 1h, 7d, not "${v.since}"`);
      params.set('start_time', String(Math.floor((Date.now() - ms) / 1000)));
    }
    if (v.from) params.set('start_time', v.from);
    if (v.to) params.set('end_time', v.to);
    const limit = v.all ? Number.POSITIVE_INFINITY : Number(v.limit ?? 100);
    if (!(limit > 0)) throw new CliError(`--limit: expected a positive number, not "${v.limit}"`);

    const items: HistoryItem[] = [];
    let history: History | undefined;
    let after: string | undefined;
    do {
      const p = new URLSearchParams(params);
      p.set('limit', String(Math.min(1000, limit - items.length)));
      if (after) p.set('after', after);
      const url = serverURL(v, '/api/v1/objects/history', p);
      const res = await fetch(url, { headers: headers(v) }).catch((err: Error) => {
        throw new CliError(`cannot reach the server at ${url.origin}: ${err.cause ?? err.message}`, 1);
      });
      await failOnError(res);
      history = (await res.json()) as History;
      items.push(...history.items);
      after = history.next;
    } while (after && items.length < limit);

    if (fmt === 'json') {
      io.stdout.write(`${JSON.stringify({ object: history!.object, items }, null, 2)}\n`);
      return 0;
    }
    if (items.length === 0) {
      io.stdout.write(`No writes to ${resource}/${name}${v.namespace ? ` in ${v.namespace}` : ''} found.\n`);
      return 0;
    }
    const rows = items.map((i) => [
      i.time.replace(/\.\d+Z$/, 'Z'),
      i.user,
      i.subresource ? `${i.verb} ${i.subresource}` : i.verb,
      i.code === undefined ? '' : String(i.code),
      describeChange(i),
    ]);
    io.stdout.write(table(rows, HEADER));
    if (after) io.stderr.write(`(${items.length} writes shown; --limit N or --all for more)\n`);
    return 0;
  },
});
