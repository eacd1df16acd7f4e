// One destination's forwarding loop: reads the store's append log after the destination's cursor, sends what its
// selection takes, and moves the cursor (kept in the store) past what the destination has. At least once: the
// cursor moves only after the destination acknowledged, so a crash or a failed send resends from it. It runs beside
// ingest and never in its way: it only reads the store, wakes when events are stored, and backs off when the
// destination fails. With PostgreSQL, each step runs under an advisory lock named after the destination, so one
// collector at a time drives it and another takes over when that one stops.
import { OUTPUT_FORMATS, type OutputFormatName } from '../event/encode.ts';
import type { Registry } from '../metrics/registry.ts';
import { runExclusive } from '../store/exclusive.ts';
import type { LogRead, Store, StoredEvent } from '../store/types.ts';
import { type Delivery, type Destination, DestinationError, type Select } from './types.ts';

export interface ForwarderOptions {
  name: string;
  /** For status: the destination's type and where it goes (no secrets). */
  type: string;
  target: string;
  format: OutputFormatName;
  destination: Destination;
  select?: Select;
  /**
   * Entries are taken only once they have been in the log this long (as first seen by this forwarder): a selection
   * that depends on what is recorded just after an event (its alerts) then sees it.
   */
  settleMs?: number;
  batchSize?: number;
  /** Waits between retries after a failure: doubled from `minBackoffMs` up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often an idle forwarder looks for new events (it also wakes when this collector stores some). */
  pollMs?: number;
  log?: ForwardLog;
  metrics?: ForwardMetrics;
}

export interface ForwardLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ForwardStatus {
  name: string;
  type: string;
  target: string;
  format: string;
  /** This collector drove the destination's last step (with PostgreSQL another collector may be driving it). */
  driving: boolean;
  /** The append-log position delivered last (the durable cursor), and the log's newest. */
  position: number | null;
  head: number;
  lagEvents: number;
  lagSeconds: number;
  delivered: number;
  failed: number;
  gap: number;
  lastError?: string;
  lastErrorAt?: string;
}

/** The per-destination series on the collector's registry. */
export function forwardMetrics(registry: Registry) {
  return {
    delivered: registry.counter('vigil_forward_delivered_total', 'Events delivered by forwarding destination'),
    failed: registry.counter('vigil_forward_failures_total', 'Failed delivery attempts by forwarding destination'),
    gap: registry.counter(
      'vigil_forward_gap_events_total',
      'Events deleted by retention (or pruned from the log) before a forwarding destination received them',
    ),
    lagEvents: registry.gauge('vigil_forward_lag_events', 'Append-log entries not yet delivered, by destination'),
    lagSeconds: registry.gauge(
      'vigil_forward_lag_seconds',
      'Age of the events being delivered while a destination is behind (0 when caught up)',
    ),
    lastError: registry.gauge(
      'vigil_forward_last_error_timestamp_seconds',
      'When a forwarding destination last failed (Unix seconds; 0: never)',
    ),
  };
}
export type ForwardMetrics = ReturnType<typeof forwardMetrics>;

function receivedMs(e: StoredEvent): number {
  const t = Date.parse(e.requestReceivedTimestamp);
  return Number.isFinite(t) ? t : Date.now();
}

export class Forwarder {
  readonly #store: Store;
  readonly #o: ForwarderOptions;
  readonly #labels: { destination: string };
  readonly #batch: number;
  /** The cursor as this forwarder last saw it in the store (null: none yet), and how far it has read past it. */
  #saved: number | null | undefined;
  #read: number | undefined;
  #head = 0;
  #lagSeconds = 0;
  #delivered = 0;
  #failed = 0;
  #gap = 0;
  #driving = false;
  #lastError: { message: string; at: number } | undefined;
  #backoff = 0;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  /** With `settleMs`: when each entry not yet taken was first read. */
  readonly #seen = new Map<number, number>();

  constructor(store: Store, o: ForwarderOptions) {
    this.#store = store;
    this.#o = o;
    this.#labels = { destination: o.name };
    this.#batch = o.batchSize ?? 500;
    o.metrics?.lastError.set(this.#labels, 0);
  }

  get name(): string {
    return this.#o.name;
  }

  start(): void {
    this.#unsubscribe = this.#store.subscribe(() => this.#wake?.());
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let wait = this.#o.pollMs ?? 1000;
      try {
        const { ran, value } = await runExclusive(this.#store, `forward:${this.#o.name}`, () => this.step());
        this.#driving = ran;
        if (ran && value === 'more') wait = 0;
        this.#backoff = 0;
      } catch (err) {
        this.#fail(err);
        const min = this.#o.minBackoffMs ?? 500;
        this.#backoff = Math.min(this.#o.maxBackoffMs ?? 30_000, this.#backoff ? this.#backoff * 2 : min);
        wait = Math.max(this.#backoff, err instanceof DestinationError ? (err.retryAfterMs ?? 0) : 0);
      }
      if (wait > 0 && !this.#stopped)
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, wait);
          function done() {
            clearTimeout(t);
            resolve();
          }
          // new events end an idle wait, never a backoff
          this.#wake = this.#backoff ? undefined : done;
        });
      this.#wake = undefined;
    }
  }

  #fail(err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    this.#failed++;
    this.#lastError = { message, at: Date.now() };
    this.#o.metrics?.failed.inc(this.#labels);
    this.#o.metrics?.lastError.set(this.#labels, Math.floor(this.#lastError.at / 1000));
    this.#o.log?.warn({ destination: this.#o.name, err: message }, 'forwarding failed; retrying from the cursor');
    // resend from the durable cursor: what was read past it may not have arrived
    this.#read = this.#saved ?? undefined;
  }

  /**
   * A destination that lost events it had been sent (a syslog connection dropped before they settled) names where
   * they start: the cursor goes back there durably, so that a failing resend, or a restart, starts there too.
   */
  async #rewind(err: unknown): Promise<void> {
    const from = err instanceof DestinationError ? err.resendFrom : undefined;
    if (from === undefined || (this.#saved !== null && this.#saved !== undefined && from - 1 >= this.#saved)) return;
    if (await this.#store.saveForwardCursor(this.#o.name, from - 1, this.#saved ?? null)) this.#saved = from - 1;
  }

  /** One batch: read, select, send, move the cursor. 'more' when the log holds more right away. */
  async step(): Promise<'more' | 'idle'> {
    const stored = (await this.#store.forwardCursors()).find((c) => c.name === this.#o.name)?.position ?? null;
    if (stored !== this.#saved) {
      // first step, a reset, or another collector drove it meanwhile: continue from the store's cursor
      this.#saved = stored;
      this.#read = stored ?? undefined;
    }
    const r = this.#settle(await this.#store.readLog(this.#read, this.#batch));
    this.#head = r.head;
    const lost = r.skipped + r.entries.filter((e) => !e.event).length;
    if (lost > 0) {
      this.#gap += lost;
      this.#o.metrics?.gap.inc(this.#labels, lost);
      this.#o.log?.error(
        { destination: this.#o.name, events: lost, after: this.#read ?? null },
        'forwarding gap: retention deleted events before this destination received them',
      );
    }
    const events = r.entries.flatMap((e) => (e.event ? [e.event] : []));
    const entryOf = new Map(r.entries.map((e) => [e.event, e] as const));
    const chosen = this.#o.select ? await this.#o.select(events) : events;
    if (chosen.length > 0) {
      const encode = OUTPUT_FORMATS[this.#o.format].encode;
      const batch: Delivery[] = chosen.map((event) => {
        const entry = entryOf.get(event)!;
        const d: Delivery = { position: entry.position, event, body: encode(event) };
        if (entry.replaced) d.replaced = true;
        return d;
      });
      try {
        await this.#o.destination.send(batch);
      } catch (err) {
        await this.#rewind(err);
        throw err;
      }
      this.#delivered += batch.length;
      this.#o.metrics?.delivered.inc(this.#labels, batch.length);
      this.#lagSeconds = r.upTo < r.head ? Math.max(0, (Date.now() - receivedMs(batch[0]!.event)) / 1000) : 0;
    } else if (r.upTo >= r.head) this.#lagSeconds = 0;
    this.#read = r.upTo;
    await this.#save();
    return r.upTo < r.head && !this.#seen.size ? 'more' : 'idle';
  }

  /** The read cut before the first entry younger than `settleMs` (which the next steps read again). */
  #settle(r: LogRead): LogRead {
    const ms = this.#o.settleMs;
    if (!ms) return r;
    const now = Date.now();
    const young = r.entries.findIndex((e) => {
      const seen = this.#seen.get(e.position) ?? now;
      this.#seen.set(e.position, seen);
      return now - seen < ms;
    });
    for (const p of this.#seen.keys())
      if (p <= (young < 0 ? r.upTo : r.entries[young]!.position - 1)) this.#seen.delete(p);
    if (young < 0) return r;
    return { ...r, entries: r.entries.slice(0, young), upTo: r.entries[young]!.position - 1 };
  }

  /** Saves the cursor where reading got (also back, after a destination asked to resend from further back). */
  async #save(): Promise<void> {
    const read = this.#read;
    if (read === undefined) return;
    const to = read;
    const lag = Math.max(0, this.#head - to);
    this.#o.metrics?.lagEvents.set(this.#labels, lag);
    this.#o.metrics?.lagSeconds.set(this.#labels, this.#lagSeconds);
    if (to === this.#saved) return;
    if (await this.#store.saveForwardCursor(this.#o.name, to, this.#saved ?? null)) this.#saved = to;
    else this.#saved = undefined; // moved by someone else (a reset): the next step reads it
  }

  status(): ForwardStatus {
    const position = this.#saved ?? null;
    return {
      name: this.#o.name,
      type: this.#o.type,
      target: this.#o.target,
      format: this.#o.format,
      driving: this.#driving,
      position,
      head: this.#head,
      lagEvents: Math.max(0, this.#head - (position ?? 0)),
      lagSeconds: this.#lagSeconds,
      delivered: this.#delivered,
      failed: this.#failed,
      gap: this.#gap,
      ...(this.#lastError
        ? { lastError: this.#lastError.message, lastErrorAt: new Date(this.#lastError.at).toISOString() }
        : {}),
    };
  }

  /** Stops after the step in progress; closes the destination. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#wake?.();
    await this.#loop?.catch(() => {});
    await this.#o.destination.close().catch(() => {});
  }
}
