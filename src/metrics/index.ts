// Public surface of metrics: the Prometheus-style registry every stage counts on, and the collector's series.
export { bytesPerEvent, type CollectorMetrics, collectorMetrics, type StoreGauges } from './collector.ts';
export { Counter, DEFAULT_BUCKETS, Gauge, Histogram, type Labels, Registry } from './registry.ts';
