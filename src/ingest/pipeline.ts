// What every ingest path does after decoding: enrich the workspace, append durably, count. One function so that
// HTTP, AMQP and `vigil import` store events the same way.
import type { AuditEvent } from '../event/model.ts';
import type { CollectorMetrics } from '../server/metrics.ts';
import type { AppendOptions, AppendResult, Store } from '../store/types.ts';

/** Namespace → workspace, from the config's `workspaces: { ws: [ns…] }`. */
export function namespaceWorkspaces(workspaces: Record<string, string[]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [ws, namespaces] of Object.entries(workspaces)) for (const ns of namespaces) m.set(ns, ws);
  return m;
}

export class Ingestor {
  readonly store: Store;
  private readonly nsToWs: Map<string, string>;
  private readonly metrics?: CollectorMetrics;
  constructor(store: Store, workspaces: Record<string, string[]>, metrics?: CollectorMetrics) {
    this.store = store;
    this.nsToWs = namespaceWorkspaces(workspaces);
    this.metrics = metrics;
  }

  /** An event keeps the workspace it arrived with; otherwise its namespace's workspace from the config. */
  enrich(events: AuditEvent[]): void {
    if (this.nsToWs.size === 0) return;
    for (const e of events) {
      if (e.workspace) continue;
      const ns = e.objectRef?.namespace;
      const ws = ns === undefined ? undefined : this.nsToWs.get(ns);
      if (ws !== undefined) e.workspace = ws;
    }
  }

  /** Resolves once the events are committed. `path` labels the metrics. */
  async ingest(path: string, events: AuditEvent[], opts?: AppendOptions): Promise<AppendResult> {
    this.enrich(events);
    this.metrics?.ingested.inc({ path }, events.length);
    const r = await this.store.append(events, opts);
    this.metrics?.stored.inc({ path }, r.inserted);
    this.metrics?.deduplicated.inc({ path }, r.duplicates);
    return r;
  }

  rejected(path: string, reason: string): void {
    this.metrics?.rejected.inc({ path, reason });
  }
}
