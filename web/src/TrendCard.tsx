// The trend card: the view's total and time window above the chart.
import { compactNumber, formatTime } from './format.ts';
import { RANGES, resolveRange, type ViewState } from './query.ts';
import { Trend } from './Trend.tsx';
import type { ListState, TrendState } from './useEvents.ts';

export function TrendCard(props: {
  view: ViewState;
  list: ListState;
  trend: TrendState;
  theme: string;
  onZoom: (start: number, end: number) => void;
}) {
  const { view, list, trend } = props;
  const win = resolveRange(view, Date.now());
  const rangeText =
    view.range === 'all'
      ? 'all time'
      : view.range
        ? `the ${(RANGES.find((r) => r.key === view.range)?.label ?? `last ${view.range}`).toLowerCase()}`
        : 'the selected range';
  const codeValues = view.filters.find((f) => f.field.key === 'code')?.values;
  return (
    <section class="card trend-card" aria-label="Trend" data-loading={trend.loading} data-key={trend.key}>
      <div class="card-head">
        <h2>
          {/* Never a number that is not this view's: '…' while it loads, '—' when the server could not answer. */}
          <span data-testid="total">{list.error ? '—' : list.loading ? '…' : compactNumber(list.total)}</span>{' '}
          {list.total === 1 && !list.loading && !list.error ? 'event' : 'events'}{' '}
          <span class="muted">in {rangeText}</span>
        </h2>
        <span class="muted small">
          {win.start !== undefined ? formatTime(win.start) : 'beginning'} → {formatTime(win.end)}
          {codeValues ? ` · codes ${codeValues.join(', ')}` : ''}
        </span>
      </div>
      <Trend data={trend.data} loading={trend.loading} theme={props.theme} onZoom={props.onZoom} />
    </section>
  );
}
