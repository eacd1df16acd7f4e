// A tiny Prometheus-style metrics registry (counters, gauges, histograms) rendered in the text exposition
// format 0.0.4. prom-client is not a dependency and nothing in fastify's tree provides one; this is all a
// /metrics endpoint needs. Families are registered once by name and shared: asking again for the same
// name returns the existing family, so several sinks (or stages) can label the same metric.

export type Labels = Readonly<Record<string, string>>;

type Kind = 'counter' | 'gauge' | 'histogram';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',');
}

function fmt(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

abstract class Family {
  readonly name: string;
  readonly help: string;
  abstract readonly kind: Kind;
  constructor(name: string, help: string) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name "${name}"`);
    this.name = name;
    this.help = help;
  }
  abstract samples(): string[];
  render(): string {
    const lines = [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.kind}`,
      ...this.samples(),
    ];
    return `${lines.join('\n')}\n`;
  }
}

export class Counter extends Family {
  readonly kind = 'counter';
  private readonly values = new Map<string, number>();
  inc(labels?: Labels, n = 1): void {
    if (n < 0) throw new Error(`counter ${this.name} cannot decrease`);
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  /** One series with its labels resolved once, for a counter bumped on a hot path (once per audit event). */
  series(labels?: Labels): CounterSeries {
    const k = labelKey(labels);
    return {
      inc: (n = 1) => {
        if (n < 0) throw new Error(`counter ${this.name} cannot decrease`);
        this.values.set(k, (this.values.get(k) ?? 0) + n);
      },
    };
  }
  samples(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
  }
}

export interface CounterSeries {
  inc(n?: number): void;
}

export class Gauge extends Family {
  readonly kind = 'gauge';
  private readonly values = new Map<string, number>();
  set(labels: Labels | undefined, v: number): void {
    this.values.set(labelKey(labels), v);
  }
  inc(labels?: Labels, n = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + n);
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  samples(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Histogram extends Family {
  readonly kind = 'histogram';
  readonly buckets: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();
  constructor(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS) {
    super(name, help);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels | undefined, v: number): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  count(labels?: Labels): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  samples(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      this.buckets.forEach((b, i) => {
        out.push(`${this.name}_bucket{${sep}le="${fmt(b)}"} ${s.counts[i]}`);
      });
      out.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly families = new Map<string, Family>();

  private family<T extends Family>(name: string, kind: Kind, make: () => T): T {
    const f = this.families.get(name);
    if (f) {
      if (f.kind !== kind) throw new Error(`metric ${name} is already registered as a ${f.kind}`);
      return f as T;
    }
    const created = make();
    this.families.set(name, created);
    return created;
  }

  counter(name: string, help: string): Counter {
    return this.family(name, 'counter', () => new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.family(name, 'gauge', () => new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.family(name, 'histogram', () => new Histogram(name, help, buckets));
  }

  /** Prometheus text exposition format (Content-Type `text/plain; version=0.0.4`). */
  render(): string {
    return [...this.families.values()].map((f) => f.render()).join('');
  }
}
