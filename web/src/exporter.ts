// Export of the current query: pages through the whole result with the `after` cursor (1000 events a page) and
// saves it as JSON lines or CSV. Client-side, so it needs nothing from the server beyond the query API.
import { type AuditEvent, listEvents } from './api.ts';

export type ExportFormat = 'jsonl' | 'csv';

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
    for (const e of page.items) chunks.push(format === 'csv' ? `${toCsvRow(e)}\n` : `${JSON.stringify(e)}\n`);
    done += page.items.length;
    onProgress(done, page.total);
    if (!page.next || page.items.length === 0) break;
    after = page.next;
  }
  return new Blob(chunks, { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
}
