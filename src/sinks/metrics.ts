// Per-sink counters, labelled {sink="<name>"}, in a registry the collector's /metrics can render too.
// Modelled on apiserver_audit_event_total / apiserver_audit_error_total, plus what a spool adds.
import { type Counter, type CounterSeries, type Gauge, type Histogram, Registry } from '../metrics/registry.ts';

/** The process-wide registry sinks register into unless given another. */
export const sinkRegistry = new Registry();

/** Prometheus text of every sink metric in the default registry. */
export function render(): string {
  return sinkRegistry.render();
}

export const DROP_REASONS = ['buffer_full', 'spool_full', 'too_large', 'delivery_failed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export class SinkMetrics {
  readonly labels: { sink: string };
  private readonly eventsC: Counter;
  private readonly deliveredC: Counter;
  private readonly errorsC: Counter;
  private readonly retriesC: Counter;
  private readonly spooledC: Counter;
  private readonly replayedC: Counter;
  private readonly droppedC: Counter;
  private readonly truncatedC: Counter;
  private readonly spoolBytesG: Gauge;
  private readonly latencyH: Histogram;
  // Bumped for every event: their label key is computed once, not per call.
  private readonly eventsS: CounterSeries;
  private readonly deliveredS: CounterSeries;

  constructor(name: string, registry: Registry = sinkRegistry) {
    this.labels = { sink: name };
    this.eventsC = registry.counter('vigil_sink_events_total', 'Events handed to the sink.');
    this.deliveredC = registry.counter(
      'vigil_sink_delivered_events_total',
      'Events the destination acknowledged (2xx, broker confirm, written to the log).',
    );
    this.errorsC = registry.counter('vigil_sink_errors_total', 'Failed delivery attempts (batches).');
    this.retriesC = registry.counter('vigil_sink_retries_total', 'Delivery attempts that were retries.');
    this.spooledC = registry.counter('vigil_sink_spooled_events_total', 'Events written to the on-disk spool.');
    this.replayedC = registry.counter(
      'vigil_sink_replayed_events_total',
      'Spooled events delivered and removed from the spool.',
    );
    this.droppedC = registry.counter('vigil_sink_dropped_events_total', 'Events lost, by reason.');
    this.truncatedC = registry.counter(
      'vigil_sink_truncated_events_total',
      'Events whose request/response objects were removed for size.',
    );
    this.spoolBytesG = registry.gauge('vigil_sink_spool_bytes', 'Unacknowledged bytes in the spool.');
    this.latencyH = registry.histogram('vigil_sink_batch_duration_seconds', 'Time to deliver one batch (one attempt).');
    this.eventsS = this.eventsC.series(this.labels);
    this.deliveredS = this.deliveredC.series(this.labels);
  }

  events(n: number): void {
    this.eventsS.inc(n);
  }
  delivered(n: number): void {
    this.deliveredS.inc(n);
  }
  error(): void {
    this.errorsC.inc(this.labels);
  }
  retry(): void {
    this.retriesC.inc(this.labels);
  }
  spooled(n: number): void {
    this.spooledC.inc(this.labels, n);
  }
  replayed(n: number): void {
    this.replayedC.inc(this.labels, n);
  }
  dropped(reason: DropReason, n: number): void {
    this.droppedC.inc({ ...this.labels, reason }, n);
  }
  truncated(n: number): void {
    this.truncatedC.inc(this.labels, n);
  }
  spoolBytes(bytes: number): void {
    this.spoolBytesG.set(this.labels, bytes);
  }
  batchSeconds(s: number): void {
    this.latencyH.observe(this.labels, s);
  }

  /** Current values, for tests and status pages. */
  snapshot(): {
    events: number;
    delivered: number;
    errors: number;
    retries: number;
    spooled: number;
    replayed: number;
    dropped: Record<DropReason, number>;
    truncated: number;
    spoolBytes: number;
    batches: number;
  } {
    const dropped = {} as Record<DropReason, number>;
    for (const r of DROP_REASONS) dropped[r] = this.droppedC.get({ ...this.labels, reason: r });
    return {
      events: this.eventsC.get(this.labels),
      delivered: this.deliveredC.get(this.labels),
      errors: this.errorsC.get(this.labels),
      retries: this.retriesC.get(this.labels),
      spooled: this.spooledC.get(this.labels),
      replayed: this.replayedC.get(this.labels),
      dropped,
      truncated: this.truncatedC.get(this.labels),
      spoolBytes: this.spoolBytesG.get(this.labels),
      batches: this.latencyH.count(this.labels),
    };
  }
}
