// The trend card: the view's total and time window above the chart.
import { compactNumber, formatTime } from './format.ts';
import { ALL_FIELDS, CLASS_VALUE, RANGES, resolveRange, type ViewState } from './query.ts';
import { Trend } from './Trend.tsx';
import type { ListState, TrendState } from './useEvents.ts';

export function TrendCard(props: {
  view: ViewState;
  list: ListState;
  trend: TrendState;
  theme: string;
  onZoom: (start: number, end: number) => void;
  onView: (view: ViewState) => void;
  facetsOpen: boolean;
  onToggleFacets: () => void;
}) {
  const { view, list, trend } = props;
  const win = resolveRange(view, Date.now());
  const rangeText =
    view.range === 'all'
      ? 'all time'
      : view.range
        ? `the ${(RANGES.find((r) => r.key === view.range)?.label ?? `last ${view.range}`).toLowerCase()}`
        : 'the selected range';
  const codeFilter = view.filters.find((f) => f.field.key === 'code' && f.mode === 'exact');
  const codeValues = codeFilter?.values;
  const classes = (Object.keys(CLASS_VALUE) as (keyof typeof CLASS_VALUE)[]).filter((c) =>
    codeValues?.includes(CLASS_VALUE[c]),
  );
  // A legend click toggles its class in the code filter (`response_code_filter=4xx,5xx`).
  const toggleClass = (cls: keyof typeof CLASS_VALUE) => {
    const v = CLASS_VALUE[cls];
    const values = codeValues?.includes(v) ? codeValues.filter((x) => x !== v) : [...(codeValues ?? []), v];
    const field = ALL_FIELDS.find((f) => f.key === 'code');
    if (!field) return;
    const others = view.filters.filter((f) => f !== codeFilter);
    props.onView({ ...view, filters: values.length ? [...others, { field, mode: 'exact', values }] : others });
  };
  return (
    <section class="card trend-card" aria-label="Trend" data-loading={trend.loading} data-key={trend.key}>
      <div class="card-head">
        <h2>
          {/* Never a number that is not this view's: '…' while it loads, '—' when the server could not answer. */}
          <span data-testid="total">{list.error ? '—' : list.loading ? '…' : compactNumber(list.total)}</span>{' '}
          {list.total === 1 && !list.loading && !list.error ? 'event' : 'events'}{' '}
          <span class="muted">in {rangeText}</span>
        </h2>
        <button
          type="button"
          class={`btn small ${props.facetsOpen ? 'on' : ''}`}
          aria-pressed={props.facetsOpen}
          onClick={props.onToggleFacets}
        >
          Facets
        </button>
        <span class="muted small">
          {win.start !== undefined ? formatTime(win.start) : 'beginning'} → {formatTime(win.end)}
          {codeValues ? ` · codes ${codeValues.join(', ')}` : ''}
        </span>
      </div>
      <Trend
        data={trend.data}
        loading={trend.loading}
        theme={props.theme}
        onZoom={props.onZoom}
        classes={classes}
        onClass={toggleClass}
      />
    </section>
  );
}
