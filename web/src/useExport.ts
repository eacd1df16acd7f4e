// Export of the whole query on screen (every page, with the cursor) as JSON lines or CSV, with progress and cancel.
import { useState } from 'preact/hooks';
import { EXPORT_FORMATS, type ExportFormat, exportQuery } from './exporter.ts';

export interface Exporting {
  done: number;
  total: number;
  ac: AbortController;
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function useExport(opts: {
  /** The API parameters of the list on screen, read when the export starts. */
  query: () => URLSearchParams;
  total: () => number;
  failed: (err: unknown) => boolean;
  onError: (message: string) => void;
}) {
  const [exporting, setExporting] = useState<Exporting | null>(null);
  const [exportMenu, setExportMenu] = useState(false);
  const startExport = async (format: ExportFormat) => {
    setExportMenu(false);
    const ac = new AbortController();
    setExporting({ done: 0, total: opts.total(), ac });
    const params = new URLSearchParams(opts.query());
    params.delete('size');
    try {
      const blob = await exportQuery(params, format, (done, total) => setExporting({ done, total, ac }), ac.signal);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      download(blob, `vigil-events-${stamp}.${EXPORT_FORMATS.find((f) => f.format === format)?.ext ?? 'jsonl'}`);
    } catch (err) {
      if (!opts.failed(err)) opts.onError(`Export failed: ${(err as Error).message ?? err}`);
    } finally {
      setExporting(null);
    }
  };
  return { exporting, exportMenu, setExportMenu, startExport };
}
