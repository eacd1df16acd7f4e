// The one ingest pipeline: every way in (the HTTP paths, the AMQP source, `vigil import`) decodes its deliveries
// through the format table (formats.ts) with the configured limits, then stores them here the same way: enrich the
// workspace, mask credentials, let the rules decide (ignore, archive, alert), append durably, raise the alerts, count.
import { type AlertDispatcher, alertRecords, type RaisedAlert } from '../alerts/index.ts';
import type { VigilConfig } from '../config/index.ts';
import { type DecodeLimits, EventValidationError, resolveLimits } from '../event/index.ts';
import { maskCredentials, parseMaskPath } from '../event/mask.ts';
import { MaskDigester } from '../event/mask-digest.ts';
import { type AuditEvent, dropRuleRecords, eventNamespace } from '../event/model.ts';
import type { CollectorMetrics } from '../metrics/index.ts';
import type { RuleEngine } from '../rules/index.ts';
import type { AppendOptions, AppendResult, Store } from '../store/types.ts';
import { type Delivery, type IngestFormat, NO_HEADERS } from './formats.ts';

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
  /** The decoders' limits (`ingest.limits`; unset ones take DEFAULT_DECODE_LIMITS). */
  limits?: DecodeLimits;
  /** The store's key of masked values' digests (src/integrity maskKeyOf); absent: masked values get no digest. */
  maskKey?: Buffer;
  now?: () => number;
}

export interface IngestResult extends Omit<AppendResult, 'ids'> {
  /** Events received. */
  accepted: number;
  /** Events no rule archived: not stored. */
  ignored: number;
  /** Alerts raised (repeats of an already stored alert not counted). */
  alerts: number;
}

/** An event the rules raised alerts for: its position among the stored events, the event, its alerts. */
type Alerting = [number, AuditEvent, RaisedAlert[]];

const NOTHING_APPENDED: AppendResult = { inserted: 0, duplicates: 0, ids: [] };

export class Ingestor {
  readonly store: Store;
  private readonly nsToWs: Map<string, string>;
  private readonly metrics?: CollectorMetrics;
  private readonly decisions: IngestDecisions;
  private readonly maskPaths: ReturnType<typeof parseMaskPath>[];
  private readonly digester?: MaskDigester;
  readonly limits: Readonly<Required<DecodeLimits>>;
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
    if (decisions.maskKey) this.digester = new MaskDigester(decisions.maskKey);
    this.limits = resolveLimits(decisions.limits);
  }

  /**
   * A delivery's body → events, by its format's decoder with the configured limits. Bad input throws an
   * EventValidationError naming the field (`items[3].stage`); a `json` format's unparsable body is one too.
   */
  decode(format: IngestFormat, body: string, delivery: Delivery = NO_HEADERS): AuditEvent[] {
    let parsed: unknown = body;
    if (format.body === 'json') {
      try {
        parsed = JSON.parse(body);
      } catch (err) {
        throw new EventValidationError('', `malformed JSON: ${(err as Error).message}`);
      }
    }
    return format.decode(parsed, this.limits, delivery);
  }

  /** Decoded events of `format` → stored, as every way in stores them. Resolves once they are committed. */
  async ingest(format: IngestFormat, events: AuditEvent[], delivery: Delivery = NO_HEADERS): Promise<IngestResult> {
    // The sender's binding wins over the events' own `cluster` (KubeSphere's Cluster, `vigil ship --cluster`).
    const cluster = delivery.cluster;
    if (cluster !== undefined) for (const e of events) e.cluster = cluster;
    const batchKey = format.batchKey?.(delivery);
    const opts: AppendOptions = batchKey === undefined ? {} : { batchKey };
    const pairs = format.pairs;
    if (!pairs) return this.storeBatch(format.name, events, opts);
    // A format whose events all pair appends them at once; a file mixing formats, in two appends.
    const paired = events.filter(pairs);
    if (paired.length === events.length) return this.storeBatch(format.name, events, { ...opts, collapseStages: true });
    if (paired.length === 0) return this.storeBatch(format.name, events, opts);
    const a = await this.storeBatch(format.name, paired, { ...opts, collapseStages: true });
    const b = await this.storeBatch(
      format.name,
      events.filter((e) => !pairs(e)),
      opts,
    );
    return {
      accepted: a.accepted + b.accepted,
      inserted: a.inserted + b.inserted,
      duplicates: a.duplicates + b.duplicates,
      ignored: a.ignored + b.ignored,
      alerts: a.alerts + b.alerts,
    };
  }

  /** An event keeps the workspace it arrived with; otherwise its namespace's workspace from the config. */
  enrich(events: AuditEvent[]): void {
    if (this.nsToWs.size === 0) return;
    for (const e of events) {
      if (e.workspace) continue;
      const ns = eventNamespace(e);
      const ws = ns === undefined ? undefined : this.nsToWs.get(ns);
      if (ws !== undefined) e.workspace = ws;
    }
  }

  /**
   * Resolves once the events (and the alerts they raise) are committed. `path` labels the metrics. Only the alerting
   * events are kept while the store commits: a batch held until then (hundreds of milliseconds under load, several in
   * flight) survived the young generation's collections and was copied and promoted, most of the collector's GC.
   */
  private storeBatch(path: string, events: AuditEvent[], opts: AppendOptions): Promise<IngestResult> {
    this.enrich(events);
    const digester = this.digester;
    for (const e of events) {
      // Credentials are never stored in clear: mask before the rules see the event, let alone the store. With the
      // store's key, each masked value leaves a digest, for the objects' history (src/query/history.ts).
      if (digester) digester.mask(e, this.maskPaths);
      else maskCredentials(e, this.maskPaths);
      // Only this collector's rules say which rules matched (the field `rule`): a record an event arrives with is
      // dropped, and the engine writes its own.
      dropRuleRecords(e);
    }
    this.metrics?.ingested.inc({ path }, events.length);
    const { engine } = this.decisions;
    let archived = events;
    /** Position in `archived` of each alerting event, the event and its alerts. */
    const alerting: Alerting[] = [];
    if (engine) {
      archived = [];
      for (const e of events) {
        const d = engine.evaluate(e);
        if (!d.archive) continue;
        if (d.alerts.length) alerting.push([archived.length, e, d.alerts]);
        archived.push(e);
      }
    }
    const accepted = events.length;
    const ignored = accepted - archived.length;
    if (ignored) this.metrics?.ignored.inc({ path }, ignored);
    const appended = archived.length ? this.store.append(archived, opts) : Promise.resolve(NOTHING_APPENDED);
    return appended.then((r) => this.committed(path, r, alerting, accepted, ignored));
  }

  private async committed(
    path: string,
    r: AppendResult,
    alerting: Alerting[],
    accepted: number,
    ignored: number,
  ): Promise<IngestResult> {
    this.metrics?.stored.inc({ path }, r.inserted);
    this.metrics?.deduplicated.inc({ path }, r.duplicates);
    // Alerts go after the events are committed, and before the producer hears so: if Vigil dies in between, the
    // producer retries, the events are duplicates, and the alerts are raised now (their key stops doubles).
    const { dispatcher } = this.decisions;
    const alerts = dispatcher && alerting.length ? await this.raise(dispatcher, r.ids, alerting) : 0;
    return { accepted, inserted: r.inserted, duplicates: r.duplicates, ignored, alerts };
  }

  private async raise(dispatcher: AlertDispatcher, ids: AppendResult['ids'], alerting: Alerting[]): Promise<number> {
    const now = (this.decisions.now ?? Date.now)();
    const records = [];
    for (const [i, e, raised] of alerting) {
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

/** The pipeline of a configuration: its workspaces, masks and limits, with the collector's rules and alerts. */
export function createIngestor(
  config: VigilConfig,
  store: Store,
  o: { decisions?: Pick<IngestDecisions, 'engine' | 'dispatcher'>; metrics?: CollectorMetrics; maskKey?: Buffer } = {},
): Ingestor {
  return new Ingestor(store, config.workspaces, o.metrics, {
    engine: o.decisions?.engine,
    dispatcher: o.decisions?.dispatcher,
    mask: config.ingest.mask,
    limits: config.ingest.limits,
    maskKey: o.maskKey,
  });
}
