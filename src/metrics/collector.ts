// The collector's series, on the project's one metrics registry. Store size is read at scrape time.
import { Registry } from './registry.ts';

/** What the collector's gauges read from the store at scrape time (a Store has both). */
export interface StoreGauges {
  size(): Promise<{ events: number; bytes: number }>;
  /** The SQLite writer thread's V8 heap (absent on stores without one). */
  writerHeap?(): Promise<{ used: number; total: number } | undefined>;
}

/** Bytes per stored event, rounded (0 for an empty store). */
export function bytesPerEvent(s: { events: number; bytes: number }): number {
  return s.events > 0 ? Math.round(s.bytes / s.events) : 0;
}

export function collectorMetrics(store: StoreGauges) {
  const registry = new Registry();
  const storeEvents = registry.gauge('vigil_store_events', 'Events in the store');
  const storeBytes = registry.gauge('vigil_store_bytes', 'Bytes used by the store');
  const perEvent = registry.gauge(
    'vigil_store_bytes_per_event',
    'Bytes used by the store per stored event, indexes included (sizing: events/s × retention × this)',
  );
  // The process's memory under prom-client's names, so that a soak (or an operator) sees a leak from outside.
  const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes');
  const heapUsed = registry.gauge('nodejs_heap_size_used_bytes', 'V8 heap used in bytes');
  const heapTotal = registry.gauge('nodejs_heap_size_total_bytes', 'V8 heap allocated in bytes');
  const external = registry.gauge(
    'nodejs_external_memory_bytes',
    'Memory of C++ objects bound to JS objects, in bytes',
  );
  // SQLite's writer thread has a V8 heap of its own, outside the process's nodejs_heap_* figures.
  const writer = registry.gauge('vigil_store_writer_heap_bytes', 'V8 heap of the store writer thread, used and total');
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
    /** Reads the store's size and the process's memory into their gauges, then renders every series. */
    async scrape(): Promise<string> {
      const s = await store.size();
      storeEvents.set(undefined, s.events);
      storeBytes.set(undefined, s.bytes);
      perEvent.set(undefined, bytesPerEvent(s));
      const m = process.memoryUsage();
      rss.set(undefined, m.rss);
      heapUsed.set(undefined, m.heapUsed);
      heapTotal.set(undefined, m.heapTotal);
      external.set(undefined, m.external);
      const w = await store.writerHeap?.();
      if (w) {
        writer.set({ kind: 'used' }, w.used);
        writer.set({ kind: 'total' }, w.total);
      }
      return registry.render();
    },
  };
}
export type CollectorMetrics = ReturnType<typeof collectorMetrics>;
