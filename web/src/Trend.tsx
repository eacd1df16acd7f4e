// The trend chart: event counts per time bucket, stacked by outcome (success, 4xx, 5xx). Dragging across it (or
// clicking one bar) narrows the view's time range to that span.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bucketLabel, clock, compactNumber, fields, shortDate, timeZone } from './format.ts';

export interface TrendData {
  /** Bucket start times, epoch ms. */
  times: number[];
  ok: number[];
  client: number[];
  server: number[];
  /** Events without a status code (e.g. RequestReceived-stage events). */
  none: number[];
  intervalMs: number;
  start: number;
  end: number;
}

interface Props {
  data?: TrendData;
  /** The counts are being (re)loaded: the legend shows no number rather than an old or zero one. */
  loading?: boolean;
  /** The status classes the view's code filter has (`ok`, `client`, `server`); a legend click toggles one. */
  classes?: string[];
  onClass?: (cls: 'ok' | 'client' | 'server') => void;
  theme: string;
  onZoom: (start: number, end: number) => void;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function stacked(d: TrendData): uPlot.AlignedData {
  const n = d.times.length;
  const x = new Float64Array(n);
  const all = new Float64Array(n);
  const okClient = new Float64Array(n);
  const ok = new Float64Array(n);
  const coded = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = d.times[i] / 1000;
    ok[i] = d.ok[i];
    okClient[i] = d.ok[i] + d.client[i];
    coded[i] = okClient[i] + d.server[i];
    all[i] = coded[i] + d.none[i];
  }
  // Drawn in this order, each over the last: the whole stack first (no-code on top), success last at the bottom.
  return [x, all, coded, okClient, ok] as unknown as uPlot.AlignedData;
}

/**
 * The bucket under the pointer. A bar spans [its start, the next start), so the bucket is the one whose span holds
 * the pointer's time — not uPlot's nearest x value, which over a bar's right half is the next bucket's start.
 */
function bucketAt(u: uPlot, d: TrendData | undefined): number | null {
  const left = u.cursor.left;
  if (!d || left == null || left < 0) return null;
  const i = Math.floor((u.posToVal(left, 'x') * 1000 - d.start) / d.intervalMs);
  return i >= 0 && i < d.times.length ? i : null;
}

export function Trend({ data, loading, theme, onZoom, classes, onClass }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef({ data, onZoom });
  latest.current = { data, onZoom };
  const [hover, setHover] = useState<number | null>(null);

  // (Re)build the chart when the theme changes (colours come from CSS variables) or the time span does.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || !data) return;
    const bars = uPlot.paths.bars?.({ size: [0.82, 48], align: 1, gap: 1 });
    const text = cssVar('--muted');
    const grid = cssVar('--grid');
    const series = (color: string): uPlot.Series => ({
      stroke: color,
      fill: color,
      width: 0,
      paths: bars,
      points: { show: false },
    });
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: el.clientHeight || 150,
      padding: [10, 12, 0, 4],
      // Ticks fall on the chosen zone's hours and midnights.
      ...(timeZone() === 'utc' ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') } : {}),
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false, x: true },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: true, range: () => [data.start / 1000, data.end / 1000] },
        y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] },
      },
      axes: [
        {
          stroke: text,
          grid: { show: false },
          ticks: { stroke: grid, size: 4 },
          font: '11px system-ui, sans-serif',
          space: 70,
          // 24-hour clock; the date under the first tick and under each midnight, dates only for long spans.
          values: (_u, splits) => {
            const step = splits.length > 1 ? (splits[1] - splits[0]) * 1000 : 0;
            return splits.map((s, i) => {
              const ms = s * 1000;
              if (step >= 86_400_000) return shortDate(ms);
              const d = fields(ms);
              const midnight = d.hours === 0 && d.minutes === 0 && d.seconds === 0;
              const t = clock(ms, step < 60_000);
              return i === 0 || midnight ? `${t}\n${shortDate(ms)}` : t;
            });
          },
        },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          font: '11px system-ui, sans-serif',
          size: 44,
          space: 28,
          values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? compactNumber(v) : '')),
        },
      ],
      series: [{}, series(cssVar('--none')), series(cssVar('--err')), series(cssVar('--warn')), series(cssVar('--ok'))],
      hooks: {
        setCursor: [(u) => setHover(bucketAt(u, latest.current.data))],
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const a = u.posToVal(u.select.left, 'x') * 1000;
            const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            latest.current.onZoom(Math.round(a), Math.round(b));
          },
        ],
      },
    };
    const u = new uPlot(opts, stacked(data), el);
    plot.current = u;
    // A click without a drag zooms into the bar under the cursor, as KubeSphere's console does.
    let downX = 0;
    const down = (e: MouseEvent) => {
      downX = e.clientX;
    };
    const up = (e: MouseEvent) => {
      const d = latest.current.data;
      const idx = bucketAt(u, d);
      if (!d || Math.abs(e.clientX - downX) > 3 || idx === null) return;
      const all = d.ok[idx] + d.client[idx] + d.server[idx] + d.none[idx];
      if (all > 0) latest.current.onZoom(d.times[idx], d.times[idx] + d.intervalMs);
    };
    u.over.addEventListener('mousedown', down);
    u.over.addEventListener('mouseup', up);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height: el.clientHeight }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [theme, timeZone(), data?.start, data?.end, data?.intervalMs, data !== undefined]);

  // New counts for the same span: just swap the data.
  useEffect(() => {
    if (plot.current && data) plot.current.setData(stacked(data), true);
  }, [data]);

  const sum = (a: number[] | undefined) => (a ? a.reduce((s, v) => s + v, 0) : 0);
  const i = hover;
  const inBucket = data && i !== null && i >= 0 && i < data.times.length;
  const ok = inBucket ? data.ok[i] : sum(data?.ok);
  const client = inBucket ? data.client[i] : sum(data?.client);
  const server = inBucket ? data.server[i] : sum(data?.server);
  const none = inBucket ? data.none[i] : sum(data?.none);
  const anyNone = sum(data?.none) > 0;
  const count = (n: number) => (loading ? '…' : data ? compactNumber(n) : '—');

  return (
    <div class="trend">
      <div class="trend-legend" aria-live="polite">
        <span class="trend-when">{inBucket ? bucketLabel(data.times[i], data.intervalMs) : 'Whole range'}</span>
        {(
          [
            ['ok', 'Success', ok],
            ['client', '4xx', client],
            ['server', '5xx', server],
          ] as const
        ).map(([cls, label, n]) => (
          <button
            type="button"
            key={cls}
            class={`legend-item ${classes?.includes(cls) ? 'on' : ''}`}
            data-series={cls}
            aria-pressed={!!classes?.includes(cls)}
            title={`Show only ${label === 'Success' ? 'successful' : label} events (again: not only)`}
            onClick={() => onClass?.(cls)}
          >
            <i class={`swatch ${cls}`} />
            {label} <b>{count(n)}</b>
          </button>
        ))}
        {anyNone ? (
          <span
            class="legend-item"
            data-series="none"
            title="Events without a status code, e.g. at stage RequestReceived"
          >
            <i class="swatch none" />
            No status <b>{count(none)}</b>
          </span>
        ) : null}
        <span class="trend-hint">Drag across the chart to zoom</span>
      </div>
      <div ref={box} class="trend-plot" data-testid="trend" />
    </div>
  );
}
