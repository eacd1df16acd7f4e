// The trend chart's data: loaded per outcome class from the histogram API, and grown by live-tailed events.
import { type AuditEvent, histogram } from './api.ts';
import { codeClass, eventTime } from './format.ts';
import { apiParams, CODE_CLASSES, durationMs, expandCodes, pickInterval, type ViewState } from './query.ts';
import type { TrendData } from './Trend.tsx';

/** Histogram counts per outcome class; each class is one request with its code list (intersected with the view's). */
export async function loadTrend(
  view: ViewState,
  win: { start?: number; end: number },
  signal: AbortSignal,
): Promise<TrendData> {
  let start = win.start;
  if (start === undefined) {
    // "All time": the first daily bucket tells where the data begins.
    const p = apiParams(view, win);
    p.set('interval', '1d');
    const h = await histogram(p, signal);
    start = h.buckets.length ? Math.min(...h.buckets.map((b) => b.time)) : win.end - 7 * 86_400_000;
  }
  const span = Math.max(win.end - start, 1000);
  const interval = pickInterval(span);
  const intervalMs = durationMs(interval) as number;
  const codeFilter = view.filters.find((f) => f.field.key === 'code' && f.mode === 'exact');
  const wanted = codeFilter ? expandCodes(codeFilter.values) : undefined;
  const base = { ...view, filters: view.filters.filter((f) => f !== codeFilter) };
  const first = Math.floor(start / intervalMs) * intervalMs;
  const times: number[] = [];
  for (let t = first; t < win.end; t += intervalMs) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const bucketize = (h: { buckets: { time: number; count: number }[] }) => {
    const out = new Array<number>(times.length).fill(0);
    for (const b of h.buckets) {
      const i = index.get(Math.floor(b.time / intervalMs) * intervalMs);
      if (i !== undefined) out[i] += b.count;
    }
    return out;
  };
  const histParams = (v: ViewState) => {
    const p = apiParams(v, { start, end: win.end });
    p.set('interval', interval);
    return p;
  };
  // Four requests in parallel: everything, then each outcome class; what no class has is "no status code". With a
  // code filter no event without a code matches, so "everything" is the classes' sum and is not asked for.
  const [all, ...classes] = await Promise.all([
    wanted ? undefined : histogram(histParams(view), signal).then(bucketize),
    ...CODE_CLASSES.map(async (cls) => {
      let codes = cls.codes.split(',');
      if (wanted) codes = codes.filter((c) => wanted.has(c));
      if (codes.length === 0) return new Array<number>(times.length).fill(0);
      const p = histParams(base);
      p.set('response_code_filter', codes.join(','));
      return bucketize(await histogram(p, signal));
    }),
  ]);
  const [ok, client, server] = classes;
  const none = all ? all.map((n, i) => Math.max(0, n - ok[i] - client[i] - server[i])) : ok.map(() => 0);
  return { times, ok, client, server, none, intervalMs, start: first, end: win.end };
}

/** The trend with live-tailed events counted in; buckets that did not exist when the chart loaded are added. */
export function addToTrend(t: TrendData, batch: AuditEvent[]): TrendData {
  const add = { ok: [...t.ok], client: [...t.client], server: [...t.server], none: [...t.none] };
  let grown = t;
  for (const e of batch) {
    const time = eventTime(e);
    let i = Math.floor((time - t.start) / t.intervalMs);
    if (i >= t.times.length && time <= Date.now() + t.intervalMs) {
      // the bucket the event falls in did not exist when the chart loaded
      grown = { ...grown, times: [...grown.times], end: Math.max(grown.end, time + 1) };
      while (grown.times.length <= i) {
        grown.times.push(t.start + grown.times.length * t.intervalMs);
        add.ok.push(0);
        add.client.push(0);
        add.server.push(0);
        add.none.push(0);
      }
    }
    i = Math.floor((time - t.start) / t.intervalMs);
    if (i < 0 || i >= add.ok.length) continue;
    const cls = codeClass(e.responseStatus?.code);
    if (cls === 'ok') add.ok[i]++;
    else if (cls === 'client') add.client[i]++;
    else if (cls === 'server') add.server[i]++;
    else add.none[i]++;
  }
  return { ...grown, ...add };
}
