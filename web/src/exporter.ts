// Export of the current query: pages through the whole result with the `after` cursor (1000 events a page) and
// saves it as JSON lines, CSV, or one of the output formats forwarding and `vigil query -o` write (the same
// encoder table, src/event/encode.ts, so what a SIEM receives is what a person downloads). Client-side, so it
// needs nothing from the server beyond the query API.
import { OUTPUT_FORMATS, type OutputFormat, type OutputFormatName } from '#event/encode';
import { type AuditEvent, listEvents } from './api.ts';

export type ExportFormat = 'jsonl' | 'csv' | OutputFormatName;

/** The export menu: JSON lines and CSV, then each output format of the encoder table. */
export const EXPORT_FORMATS: readonly { format: ExportFormat; label: string; describe: string; ext: string }[] = [
  { format: 'jsonl', label: 'JSON lines', describe: 'the events as the API returns them', ext: 'jsonl' },
  { format: 'csv', label: 'CSV', describe: 'one row per event, main fields', ext: 'csv' },
  ...(Object.keys(OUTPUT_FORMATS) as OutputFormatName[]).map((name) => ({
    format: name,
    label: name === 'ocsf' || name === 'cadf' ? name.toUpperCase() : name[0].toUpperCase() + name.slice(1),
    describe: OUTPUT_FORMATS[name].describe,
    ext: `${name}.jsonl`,
  })),
];

/** One line of the export; an output format's line is what `vigil query -o <format>` prints for the event. */
export function exportLine(e: AuditEvent, format: ExportFormat): string {
  if (format === 'csv') return `${toCsvRow(e)}\n`;
  if (format === 'jsonl') return `${JSON.stringify(e)}\n`;
  const out: OutputFormat = OUTPUT_FORMATS[format];
  // The console's AuditEvent is the API's JSON of the same stored event the CLI encodes.
  return `${JSON.stringify(out.encode(e as unknown as Parameters<OutputFormat['encode']>[0]))}\n`;
}

const CSV_COLUMNS: [string, (e: AuditEvent) => unknown][] = [
  ['time', (e) => e.requestReceivedTimestamp],
  ['user', (e) => e.user?.username],
  ['groups', (e) => e.user?.groups?.join(' ')],
  ['verb', (e) => e.verb],
  ['resource', (e) => e.objectRef?.resource],
  ['subresource', (e) => e.objectRef?.subresource],
  ['name', (e) => e.objectRef?.name],
  ['namespace', (e) => e.objectRef?.namespace],
  ['workspace', (e) => e.workspace],
  ['cluster', (e) => e.cluster],
  ['code', (e) => e.responseStatus?.code],
  ['source_ips', (e) => e.sourceIPs?.join(' ')],
  ['source', (e) => e.source],
  ['level', (e) => e.level],
  ['stage', (e) => e.stage],
  ['request_uri', (e) => e.requestURI],
  ['audit_id', (e) => e.auditID],
  ['id', (e) => e.id],
];

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  // Quote when needed; a leading = + - @ is prefixed so spreadsheets do not run it as a formula.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsvRow(e: AuditEvent): string {
  return CSV_COLUMNS.map(([, get]) => csvCell(get(e))).join(',');
}

export const CSV_HEADER = CSV_COLUMNS.map(([name]) => name).join(',');

export async function exportQuery(
  params: URLSearchParams,
  format: ExportFormat,
  onProgress: (done: number, total: number) => void,
  signal: AbortSignal,
): Promise<Blob> {
  const chunks: string[] = format === 'csv' ? [`${CSV_HEADER}\n`] : [];
  let after: string | undefined;
  let done = 0;
  for (;;) {
    const p = new URLSearchParams(params);
    p.set('size', '1000');
    p.set('sort', 'desc');
    if (after) p.set('after', after);
    const page = await listEvents(p, signal);
    for (const e of page.items) chunks.push(exportLine(e, format));
    done += page.items.length;
    onProgress(done, page.total);
    if (!page.next || page.items.length === 0) break;
    after = page.next;
  }
  return new Blob(chunks, { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
}
