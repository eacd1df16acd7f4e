// Shared by `vigil query` and `vigil tail`: the server address and token, the filter flags, and the kubectl-like
// event table.
import { isOutputFormat, OUTPUT_FORMAT_NAMES, OUTPUT_FORMATS, type OutputFormatName } from '../event/index.ts';
import { CLI_FILTERS, type StoredEvent } from '../store/index.ts';
import { CliError } from './command.ts';

type FilterOption = { type: 'string'; multiple: true; short?: string };

/** One flag per entry of the field table's CLI_FILTERS (`--user U`, `-n N`…): a new field's flag is its table entry. */
const FILTER_OPTIONS: Record<string, FilterOption> = Object.fromEntries(
  CLI_FILTERS.map((f) => [
    f.flag,
    f.short ? { type: 'string', multiple: true, short: f.short } : { type: 'string', multiple: true },
  ]),
);

/** The filter flags as the usage shows them: `[--workspace W] [--namespace N] …`. */
export const FILTER_USAGE = CLI_FILTERS.map((f) => `[--${f.flag} ${f.flag[0]!.toUpperCase()}]`).join(' ');

export const CLIENT_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  output: { type: 'string', short: 'o' },
  ...FILTER_OPTIONS,
  search: { type: 'string' },
} as const;

export interface ClientValues {
  server?: string;
  token?: string;
  output?: string;
  search?: string;
}

export function serverURL(v: ClientValues, path: string, params: URLSearchParams): URL {
  const base = v.server ?? (process.env.VIGIL_URL || 'http://127.0.0.1:8080');
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    throw new CliError(`--server: not a URL: ${base}`);
  }
  url.search = params.toString();
  return url;
}

export function headers(v: ClientValues): Record<string, string> {
  const token = v.token ?? (process.env.VIGIL_TOKEN || undefined);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The filter flags as query parameters: each flag's values ORed into its field's `*_filter`, --search as `q`. */
export function filterParams(v: ClientValues): URLSearchParams {
  const p = new URLSearchParams();
  for (const f of CLI_FILTERS) {
    const vals = (v as Record<string, unknown>)[f.flag] as string[] | undefined;
    if (vals?.length) p.set(f.param, vals.join(','));
  }
  if (v.search) p.set('q', v.search);
  return p;
}

/** `-o`: Vigil's own shapes, or a format of the output table (src/event/encode.ts), one event per line. */
export function outputFormat(v: ClientValues): 'table' | 'json' | 'jsonl' | OutputFormatName {
  const o = v.output ?? 'table';
  if (o !== 'table' && o !== 'json' && o !== 'jsonl' && !isOutputFormat(o))
    throw new CliError(`-o: expected ${OUTPUT_USAGE.replaceAll('|', ', ')}, not "${o}"`);
  return o;
}

export const OUTPUT_USAGE = ['table', 'json', 'jsonl', ...OUTPUT_FORMAT_NAMES].join('|');

/** One event as a line of JSON lines: as stored (jsonl) or in an output format. */
export function eventLine(fmt: 'jsonl' | OutputFormatName, e: StoredEvent): string {
  return `${JSON.stringify(fmt === 'jsonl' ? e : OUTPUT_FORMATS[fmt].encode(e))}\n`;
}

/** An HTTP error answer as a CLI error naming what the server said. */
export async function failOnError(res: Response): Promise<void> {
  if (res.ok) return;
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (body.error) msg = `${res.status}: ${body.error}`;
  } catch {}
  throw new CliError(`server answered ${msg}`, 1);
}

export const COLUMNS = ['TIME', 'USER', 'VERB', 'RESOURCE', 'NAMESPACE', 'NAME', 'CODE', 'SOURCE'] as const;

export function row(e: StoredEvent): string[] {
  const o = e.objectRef;
  const resource = o?.resource ? (o.subresource ? `${o.resource}/${o.subresource}` : o.resource) : '';
  return [
    e.requestReceivedTimestamp.replace(/\.\d+Z$/, 'Z'),
    e.user?.username ?? '',
    e.verb,
    resource,
    o?.namespace ?? '',
    o?.name ?? '',
    e.responseStatus?.code === undefined ? '' : String(e.responseStatus.code),
    e.source,
  ];
}

/** Columns padded to their widest cell, like kubectl get. */
export function table(rows: string[][], header: readonly string[] = COLUMNS): string {
  const all = [header as string[], ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return `${all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')).join('\n')}\n`;
}
