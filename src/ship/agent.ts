// `vigil ship`: follows Kubernetes audit log files and delivers their events in batches, at least once, to the
// collector's webhook (the sinks' WebhookTransport: the same client, TLS and token handling as the capture sinks).
// Each batch is a run of whole lines of one file; the read offset moves, and the state file is rewritten, only once
// the collector acknowledged the batch. A restart therefore resends at most the batch in flight, which the
// collector's idempotency on (auditID, stage) absorbs. While the collector is down the agent retries the same
// batch with growing pauses and reads nothing further: the files are the buffer.
import { type AuditEvent, EventValidationError } from '../event/index.ts';
import { Registry } from '../metrics/registry.ts';
import {
  backoffDelay,
  DeliveryError,
  defaultEncoders,
  SinkMetrics,
  sleep,
  type WebhookTarget,
  WebhookTransport,
} from '../sinks/index.ts';
import { LineDecoder } from './decode.ts';
import { Family, type FamilyChange, type Tracked } from './follow.ts';
import { readLines } from './lines.ts';
import { ShipMetrics } from './metrics.ts';
import { loadState, type ShipState, saveState } from './state.ts';

export interface ShipLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** One JSON object per line on stderr, as the sinks report. */
export const stderrShipLogger: ShipLogger = {
  info: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'info', msg, ...fields })}\n`),
  warn: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...fields })}\n`),
  error: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...fields })}\n`),
};

export interface ShipOptions {
  /** Audit log paths as kube-apiserver's --audit-log-path names them (the live file; its rotations are found). */
  files: string[];
  target: WebhookTarget;
  /** Folder of the state file. */
  stateDir: string;
  /** Cluster name for events that carry none (KubeSphere's `Cluster`; the collector's `cluster` field). */
  cluster?: string;
  /** Events per batch. Default 400 (kube-apiserver's webhook batch). */
  batchSize?: number;
  /** Bytes of lines per batch. Default 4 MiB (under the collector's default 10 MiB body limit). */
  batchBytes?: number;
  /** Longer lines are reported and skipped. Default 1 MiB. */
  maxLineBytes?: number;
  /** How often the folders are looked at again, ms. Default 250. */
  pollMs?: number;
  /** First pause after a failed delivery, ms (doubling, with jitter). Default 1000. */
  backoffMs?: number;
  /** Longest pause, ms; also caps the collector's Retry-After. Default 60000. */
  maxBackoffMs?: number;
  /** Per delivery attempt, ms. Default 30000. */
  timeoutMs?: number;
  /** Status line interval, ms; 0 = none. Default 60000. */
  statusMs?: number;
  registry?: Registry;
  logger?: ShipLogger;
}

export interface ShipStatus {
  /** Bytes in the files not yet acknowledged by the collector. */
  lagBytes: number;
  /** Lines in the files not yet acknowledged (counted as they are written; one event per line). */
  lagEvents: number;
  /** Events acknowledged since start. */
  shipped: number;
  collector: 'up' | 'down' | 'unknown';
}

interface Item {
  event: AuditEvent;
  where: string;
}

export class Shipper {
  private readonly o: Required<Omit<ShipOptions, 'cluster' | 'registry' | 'target' | 'logger'>>;
  private readonly log: ShipLogger;
  private readonly families: Family[];
  private readonly state: ShipState;
  private readonly transport: WebhookTransport;
  private readonly url: string;
  private readonly decoder: LineDecoder;
  private readonly metrics: ShipMetrics;
  /** The agent's metrics (vigil_ship_* and the transport's vigil_sink_*{sink="ship"}). */
  readonly registry: Registry;
  private readonly stop = new AbortController();
  private collector: ShipStatus['collector'] = 'unknown';
  private shipped = 0;
  private loop: Promise<void> | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  /** Entries waiting for more bytes (a partial last line): skipped until a scan sees them grow. */
  private readonly waiting = new WeakMap<Tracked, number>();

  /** Loads the state (a StateError if it is unreadable); `start` begins shipping. */
  constructor(o: ShipOptions) {
    if (o.files.length === 0) throw new Error('no files to follow');
    this.o = {
      files: o.files,
      stateDir: o.stateDir,
      batchSize: o.batchSize ?? 400,
      batchBytes: o.batchBytes ?? 4 * 1024 * 1024,
      maxLineBytes: o.maxLineBytes ?? 1024 * 1024,
      pollMs: o.pollMs ?? 250,
      backoffMs: o.backoffMs ?? 1000,
      maxBackoffMs: o.maxBackoffMs ?? 60_000,
      timeoutMs: o.timeoutMs ?? 30_000,
      statusMs: o.statusMs ?? 60_000,
    };
    this.log = o.logger ?? stderrShipLogger;
    this.state = loadState(o.stateDir);
    this.families = [...new Set(o.files)].map((f) => new Family(f, this.state.paths[f]));
    this.decoder = new LineDecoder(o.cluster);
    this.registry = o.registry ?? new Registry();
    this.metrics = new ShipMetrics(this.registry);
    this.url = o.target.url;
    this.transport = new WebhookTransport({
      target: o.target,
      encoders: defaultEncoders,
      timeoutMs: this.o.timeoutMs,
      metrics: new SinkMetrics('ship', this.registry),
    });
  }

  /** Begins following and shipping; the promise settles when the agent stops (rejects on a fatal error: no disk). */
  start(): Promise<void> {
    this.loop ??= this.run();
    // Whoever awaits it sees the error; nobody waiting must not make it an unhandled rejection.
    this.loop.catch(() => {});
    if (this.o.statusMs > 0) {
      this.statusTimer = setInterval(() => this.log.info('ship status', { ...this.status() }), this.o.statusMs);
      this.statusTimer.unref();
    }
    return this.loop;
  }

  /** The lag (also set on the lag gauges), what was shipped, and whether the collector answers. */
  status(): ShipStatus {
    let lagBytes = 0;
    let lagEvents = 0;
    for (const f of this.families) {
      for (const e of f.entries) {
        lagBytes += Math.max(0, e.size - e.offset);
        lagEvents += Math.max(0, e.countedLines - e.line);
      }
    }
    this.metrics.lag(lagBytes, lagEvents);
    return { lagBytes, lagEvents, shipped: this.shipped, collector: this.collector };
  }

  /** Stops reading and abandons a delivery under way (its batch is resent after a restart); saves nothing new. */
  async close(): Promise<void> {
    this.stop.abort();
    clearInterval(this.statusTimer);
    await this.transport.close();
    await this.loop?.catch(() => {});
    for (const f of this.families) await f.close();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    let nextScan = 0;
    let turn = 0;
    while (!signal.aborted) {
      if (Date.now() >= nextScan) {
        await this.scan();
        nextScan = Date.now() + this.o.pollMs;
      }
      const work = this.next(turn++);
      if (!work || !(await this.shipFrom(work.family, work.entry))) await sleep(nextScan - Date.now(), signal);
    }
  }

  private async scan(): Promise<void> {
    let changed = false;
    for (const f of this.families) {
      const first = this.state.paths[f.path] === undefined;
      const changes = await f.scan();
      for (const c of changes) this.report(f, c);
      await f.release();
      if (first || changes.length > 0) {
        this.state.paths[f.path] = f.saved();
        changed = true;
      }
      for (const e of f.entries)
        if (this.waiting.get(e) !== undefined && this.waiting.get(e) !== e.size) this.waiting.delete(e);
    }
    // A new path or a new file is saved at once: after a restart it must not pass for one that predates the agent.
    if (changed) await saveState(this.o.stateDir, this.state);
    this.status();
  }

  private report(f: Family, c: FamilyChange): void {
    const fields = { path: f.path, file: c.name };
    if (c.kind === 'rotated' || c.kind === 'copied' || c.kind === 'truncated') this.metrics.rotation(c.kind);
    if (c.kind === 'gone' && c.lostBytes) {
      this.metrics.lost(c.lostBytes);
      this.log.error('a log file was removed before it was shipped: its unread bytes are lost', {
        ...fields,
        lostBytes: c.lostBytes,
      });
    } else if (c.kind === 'preexisting') {
      this.log.info('rotated log file predates the agent: not shipped', fields);
    } else if (c.kind === 'truncated') {
      this.log.warn('log file truncated: reading it from its start', fields);
    }
  }

  /** The next file with unread bytes: families in turn, the oldest file of each first. */
  private next(turn: number): { family: Family; entry: Tracked } | undefined {
    const n = this.families.length;
    for (let i = 0; i < n; i++) {
      const family = this.families[(turn + i) % n]!;
      const entry = family.entries.find((e) => e.size > e.offset && this.waiting.get(e) === undefined);
      if (entry) return { family, entry };
    }
    return undefined;
  }

  /** Reads one batch of `e` and delivers it; false when there was nothing to do (or the agent is stopping). */
  private async shipFrom(family: Family, e: Tracked): Promise<boolean> {
    const fh = await family.handle(e);
    if (!fh) {
      this.waiting.set(e, e.size);
      return false;
    }
    // A rotated copy that stopped growing will not get the rest of its last line: that tail is a line too.
    const final = !e.live && e.idleScans >= 2;
    const r = await readLines(fh, e.offset, e.line, {
      maxLineBytes: this.o.maxLineBytes,
      maxLines: this.o.batchSize,
      maxBytes: this.o.batchBytes,
      final,
    });
    for (const s of r.skipped) {
      this.metrics.skipped('too_long');
      this.log.warn('line longer than --max-line-bytes: skipped', {
        at: `${e.name}:${s.line}`,
        offset: s.offset,
        bytes: s.length,
        maxLineBytes: this.o.maxLineBytes,
      });
    }
    const items: Item[] = [];
    for (const l of r.lines) {
      try {
        for (const event of this.decoder.decode(l.text)) items.push({ event, where: `${e.name}:${l.line}` });
      } catch (err) {
        if (!(err instanceof EventValidationError)) throw err;
        this.metrics.skipped('invalid');
        this.log.warn('not an audit event: line skipped', { at: `${e.name}:${l.line}`, error: err.message });
      }
    }
    if (r.end === e.offset) {
      // Only the start of a line so far: wait for the scan to see the file grow.
      this.waiting.set(e, e.size);
      return false;
    }
    const generation = e.generation;
    if (items.length > 0 && !(await this.deliver(items))) return false;
    this.shipped += items.length;
    this.metrics.shipped(items.length);
    // Scans go on while a delivery is retried; if one started this file over meanwhile, its offset stays put (the
    // lines are read again: the collector's idempotency absorbs them).
    if (e.generation !== generation || !family.entries.includes(e)) return true;
    e.offset = r.end;
    e.line = r.endLine;
    e.size = Math.max(e.size, r.end);
    this.state.paths[family.path] = family.saved();
    await saveState(this.o.stateDir, this.state);
    this.status();
    return true;
  }

  /** Delivers until the collector acknowledges; false if the agent stopped first. */
  private async deliver(items: Item[]): Promise<boolean> {
    const signal = this.stop.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await this.send(items);
        if (this.collector !== 'up') this.log.info('collector reachable: shipping', { url: this.url });
        this.collector = 'up';
        this.metrics.up(true);
        return true;
      } catch (err) {
        if (!(err instanceof DeliveryError) || signal.aborted) {
          if (signal.aborted) return false;
          throw err;
        }
        const delay = Math.min(
          this.o.maxBackoffMs,
          err.retryAfterMs ?? backoffDelay(this.o.backoffMs, 2, 0.2, Math.min(attempt, 30)),
        );
        this.collector = 'down';
        this.metrics.up(false);
        this.metrics.failed();
        this.log.warn('delivery failed: retrying the same batch', {
          error: err.message,
          status: err.status,
          attempt: attempt + 1,
          retryInMs: Math.round(delay),
          ...this.status(),
        });
        await sleep(delay, signal);
        // The files go on being watched (lag, rotations, removals) while the collector is away.
        if (!signal.aborted) await this.scan();
      }
    }
    return false;
  }

  /**
   * One POST; a batch the collector refuses as bad (400, 413, 422) is halved until the refused events are alone,
   * and each of those is reported and skipped, so that one event the collector cannot take does not stop the rest.
   */
  private async send(items: Item[]): Promise<void> {
    try {
      await this.transport.write(items.map((i) => i.event));
    } catch (err) {
      const refused = err instanceof DeliveryError && (err.status === 400 || err.status === 413 || err.status === 422);
      if (!refused) throw err;
      if (items.length === 1) {
        this.metrics.skipped('refused');
        this.log.error('the collector refused this event: skipped', {
          at: items[0]!.where,
          auditID: items[0]!.event.auditID,
          error: err.message,
        });
        return;
      }
      const mid = items.length >> 1;
      await this.send(items.slice(0, mid));
      await this.send(items.slice(mid));
    }
  }
}
