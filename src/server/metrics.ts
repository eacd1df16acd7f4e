// A small Prometheus text-format registry (exposition format 0.0.4): counters, gauges read at scrape time, and
// histograms with fixed buckets. Enough for Vigil's handful of series without a client library.

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Counter {
  readonly name: string;
  readonly help: string;
  private readonly values = new Map<string, number>();
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  inc(labels: Labels = {}, by = 1): void {
    if (by === 0) return;
    const k = labelText(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

export class Histogram {
  readonly name: string;
  readonly help: string;
  private readonly bounds: number[];
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number; labels: Labels }>();
  constructor(name: string, help: string, bounds: number[]) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
  }
  observe(labels: Labels, value: number): void {
    const k = labelText(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array(this.bounds.length).fill(0), sum: 0, count: 0, labels };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.bounds.forEach((b, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`);
      });
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** A gauge whose value is read when scraped. */
export class Gauge {
  readonly name: string;
  readonly help: string;
  private readonly read: () => Promise<number> | number;
  constructor(name: string, help: string, read: () => Promise<number> | number) {
    this.name = name;
    this.help = help;
    this.read = read;
  }
  async render(): Promise<string> {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${await this.read()}`;
  }
}

export class Registry {
  private readonly items: (Counter | Histogram | Gauge)[] = [];
  add<T extends Counter | Histogram | Gauge>(m: T): T {
    this.items.push(m);
    return m;
  }
  async render(): Promise<string> {
    const parts = await Promise.all(this.items.map((m) => m.render()));
    return `${parts.join('\n')}\n`;
  }
}

/** The collector's series. */
export function collectorMetrics(storeSize: () => Promise<{ events: number; bytes: number }>) {
  const registry = new Registry();
  let cached: Promise<{ events: number; bytes: number }> | undefined;
  // One store.size() per scrape serves both gauges.
  const size = () => (cached ??= storeSize().finally(() => setTimeout(() => (cached = undefined), 0)));
  return {
    registry,
    ingested: registry.add(new Counter('vigil_ingest_events_total', 'Events received by ingest path')),
    rejected: registry.add(
      new Counter('vigil_ingest_rejected_total', 'Requests or messages rejected by ingest path and reason'),
    ),
    deduplicated: registry.add(
      new Counter('vigil_ingest_deduplicated_total', 'Events not stored again because already stored'),
    ),
    stored: registry.add(new Counter('vigil_ingest_stored_total', 'Events newly stored by ingest path')),
    queryLatency: registry.add(
      new Histogram(
        'vigil_query_duration_seconds',
        'Query latency by endpoint',
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ),
    ),
    storeEvents: registry.add(
      new Gauge('vigil_store_events', 'Events in the store', async () => (await size()).events),
    ),
    storeBytes: registry.add(
      new Gauge('vigil_store_bytes', 'Bytes used by the store', async () => (await size()).bytes),
    ),
  };
}
export type CollectorMetrics = ReturnType<typeof collectorMetrics>;
