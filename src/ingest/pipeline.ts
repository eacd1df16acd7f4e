// What every ingest path does after decoding: enrich the workspace, let the rules decide (ignore, archive,
// alert), append durably, raise the alerts, count. One function so that HTTP, AMQP and `vigil import` store
// events the same way.
import { type AlertDispatcher, alertRecords, type RaisedAlert } from '../alerts/index.ts';
import { maskCredentials, parseMaskPath } from '../event/mask.ts';
import type { AuditEvent } from '../event/model.ts';
import type { CollectorMetrics } from '../metrics/index.ts';
import type { RuleEngine } from '../rules/index.ts';
import type { AppendOptions, AppendResult, Store } from '../store/types.ts';

/** Namespace → workspace, from the config's `workspaces: { ws: [ns…] }`. */
export function namespaceWorkspaces(workspaces: Record<string, string[]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [ws, namespaces] of Object.entries(workspaces)) for (const ns of namespaces) m.set(ns, ws);
  return m;
}

export interface IngestDecisions {
  /** The rules; absent: every event is stored. */
  engine?: RuleEngine;
  /** Where raised alerts go; absent: alerts are not raised. */
  dispatcher?: AlertDispatcher;
  /** Extra paths to mask before storing (secret-named members and CADF credential tokens always are). */
  mask?: string[];
  now?: () => number;
}

export interface IngestResult extends Omit<AppendResult, 'ids'> {
  /** Events no rule archived: not stored. */
  ignored: number;
  /** Alerts raised (repeats of an already stored alert not counted). */
  alerts: number;
}

export class Ingestor {
  readonly store: Store;
  private readonly nsToWs: Map<string, string>;
  private readonly metrics?: CollectorMetrics;
  private readonly decisions: IngestDecisions;
  private readonly maskPaths: ReturnType<typeof parseMaskPath>[];
  constructor(
    store: Store,
    workspaces: Record<string, string[]>,
    metrics?: CollectorMetrics,
    decisions: IngestDecisions = {},
  ) {
    this.store = store;
    this.nsToWs = namespaceWorkspaces(workspaces);
    this.metrics = metrics;
    this.decisions = decisions;
    this.maskPaths = (decisions.mask ?? []).map(parseMaskPath);
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

  /** Resolves once the events (and the alerts they raise) are committed. `path` labels the metrics. */
  async ingest(path: string, events: AuditEvent[], opts?: AppendOptions): Promise<IngestResult> {
    this.enrich(events);
    // Credentials are never stored in clear: mask before the rules see the event, let alone the store.
    for (const e of events) maskCredentials(e, this.maskPaths);
    this.metrics?.ingested.inc({ path }, events.length);
    const { engine, dispatcher } = this.decisions;
    let archived = events;
    /** Position in `archived` of each alerting event, with its alerts. */
    const alerting: [number, RaisedAlert[]][] = [];
    if (engine) {
      archived = [];
      for (const e of events) {
        const d = engine.evaluate(e);
        if (!d.archive) continue;
        if (d.alerts.length) alerting.push([archived.length, d.alerts]);
        archived.push(e);
      }
    }
    const ignored = events.length - archived.length;
    if (ignored) this.metrics?.ignored.inc({ path }, ignored);
    const r = archived.length ? await this.store.append(archived, opts) : { inserted: 0, duplicates: 0, ids: [] };
    this.metrics?.stored.inc({ path }, r.inserted);
    this.metrics?.deduplicated.inc({ path }, r.duplicates);
    // Alerts go after the events are committed, and before the producer hears so: if Vigil dies in between, the
    // producer retries, the events are duplicates, and the alerts are raised now (their key stops doubles).
    const alerts = dispatcher && alerting.length ? await this.raise(dispatcher, archived, r.ids, alerting) : 0;
    const { ids: _ids, ...counts } = r;
    return { ...counts, ignored, alerts };
  }

  private async raise(
    dispatcher: AlertDispatcher,
    archived: AuditEvent[],
    ids: AppendResult['ids'],
    alerting: [number, RaisedAlert[]][],
  ): Promise<number> {
    const now = (this.decisions.now ?? Date.now)();
    const records = [];
    for (const [i, raised] of alerting) {
      const e = archived[i]!;
      // Alerts link to the stored event, whose id the store answered (also for a duplicate: the stored one).
      const id = ids[i];
      if (id !== undefined) records.push(...alertRecords({ ...e, id }, raised, now));
    }
    const added = await dispatcher.raise(records);
    for (const a of added) this.metrics?.alerts.inc({ rule: a.rule });
    return added.length;
  }

  rejected(path: string, reason: string): void {
    this.metrics?.rejected.inc({ path, reason });
  }
}
