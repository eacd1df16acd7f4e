// The agent's own metrics (its delivery is also counted as the sink `ship` in vigil_sink_*): how far behind the
// files it is, what it shipped, skipped and lost, and whether the collector answers.
import { type Counter, type Gauge, Registry } from '../metrics/registry.ts';

export type SkipReason = 'too_long' | 'invalid' | 'refused';

export class ShipMetrics {
  readonly registry: Registry;
  private readonly lagBytesG: Gauge;
  private readonly lagEventsG: Gauge;
  private readonly upG: Gauge;
  private readonly shippedC: Counter;
  private readonly failedC: Counter;
  private readonly skippedC: Counter;
  private readonly lostC: Counter;
  private readonly rotationsC: Counter;

  constructor(registry = new Registry()) {
    this.registry = registry;
    this.lagBytesG = registry.gauge('vigil_ship_lag_bytes', 'Bytes of the followed files not yet acknowledged.');
    this.lagEventsG = registry.gauge(
      'vigil_ship_lag_events',
      'Lines (one event each) of the followed files not yet acknowledged.',
    );
    this.upG = registry.gauge(
      'vigil_ship_collector_up',
      '1 when the last delivery was acknowledged, 0 after a failure.',
    );
    this.shippedC = registry.counter('vigil_ship_events_total', 'Events the collector acknowledged.');
    this.failedC = registry.counter('vigil_ship_delivery_failures_total', 'Delivery attempts that failed (retried).');
    this.skippedC = registry.counter(
      'vigil_ship_lines_skipped_total',
      'Lines not shipped: too_long (over --max-line-bytes), invalid (not an audit event), refused (by the collector).',
    );
    this.lostC = registry.counter('vigil_ship_lost_bytes_total', 'Bytes of files removed or truncated before read.');
    this.rotationsC = registry.counter('vigil_ship_rotations_total', 'Rotations seen: rotated, copied, truncated.');
  }

  lag(bytes: number, events: number): void {
    this.lagBytesG.set(undefined, bytes);
    this.lagEventsG.set(undefined, events);
  }
  up(ok: boolean): void {
    this.upG.set(undefined, ok ? 1 : 0);
  }
  shipped(n: number): void {
    this.shippedC.inc(undefined, n);
  }
  failed(): void {
    this.failedC.inc();
  }
  skipped(reason: SkipReason): void {
    this.skippedC.inc({ reason });
  }
  lost(bytes: number): void {
    this.lostC.inc(undefined, bytes);
  }
  rotation(kind: string): void {
    this.rotationsC.inc({ kind });
  }
}
