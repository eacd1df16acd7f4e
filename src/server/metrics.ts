// The collector's series, on the project's one metrics registry (src/metrics). Store size is read at scrape time.
import { Registry } from '../metrics/registry.ts';

export function collectorMetrics(storeSize: () => Promise<{ events: number; bytes: number }>) {
  const registry = new Registry();
  const storeEvents = registry.gauge('vigil_store_events', 'Events in the store');
  const storeBytes = registry.gauge('vigil_store_bytes', 'Bytes used by the store');
  return {
    registry,
    ingested: registry.counter('vigil_ingest_events_total', 'Events received by ingest path'),
    rejected: registry.counter(
      'vigil_ingest_rejected_total',
      'Requests or messages rejected by ingest path and reason',
    ),
    deduplicated: registry.counter('vigil_ingest_deduplicated_total', 'Events not stored again because already stored'),
    stored: registry.counter('vigil_ingest_stored_total', 'Events newly stored by ingest path'),
    ignored: registry.counter('vigil_rules_ignored_total', 'Events no rule archived, so not stored'),
    alerts: registry.counter('vigil_alerts_raised_total', 'Alerts raised by rule'),
    queryLatency: registry.histogram(
      'vigil_query_duration_seconds',
      'Query latency by endpoint',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
    /** Reads the store's size into its gauges, then renders every series. */
    async scrape(): Promise<string> {
      const s = await storeSize();
      storeEvents.set(undefined, s.events);
      storeBytes.set(undefined, s.bytes);
      return registry.render();
    },
  };
}
export type CollectorMetrics = ReturnType<typeof collectorMetrics>;
