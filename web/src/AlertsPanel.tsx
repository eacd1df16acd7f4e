// The alerts panel: alerts raised in the view's time range, newest first, a page at a time with "Load more", each
// able to open the event that raised it. The panel stays mounted while that event's detail is shown, so "Back to
// alerts" returns to the same pages and scroll position.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { type Alert, listAlerts } from './api.ts';
import { compactNumber, formatTime } from './format.ts';
import { resolveRange, type ViewState } from './query.ts';

const PAGE = 50;

interface Loaded {
  items: Alert[];
  total: number;
  alerting?: boolean;
}

function AlertItem({ a, onOpenEvent }: { a: Alert; onOpenEvent: (id: string) => void }) {
  return (
    <li>
      {a.eventId ? (
        <button type="button" class="link-btn alert-open" onClick={() => onOpenEvent(a.eventId as string)}>
          Open event
        </button>
      ) : null}
      <div>
        <span class={`pill prio ${String(a.priority ?? '').toLowerCase()}`}>{a.priority ?? 'ALERT'}</span>{' '}
        <b>{a.rule}</b>
      </div>
      <div>{a.message}</div>
      <div class="muted small">
        {a.createdAt ? formatTime(a.createdAt) : ''}
        {a.namespace ? ` · project ${a.namespace}` : a.workspace ? ` · workspace ${a.workspace}` : ''}
        {a.repeats ? ` · repeated ${a.repeats}×` : ''}
      </div>
    </li>
  );
}

export function AlertsPanel(props: {
  view: ViewState;
  hidden?: boolean;
  onClose: () => void;
  onOpenEvent: (id: string) => void;
}) {
  const { view, onClose } = props;
  // null: loading; undefined: the server has no alerts API.
  const [alerts, setAlerts] = useState<Loaded | undefined | null>(null);
  const [error, setError] = useState('');
  const [more, setMore] = useState(false);
  const window = useRef<URLSearchParams>(new URLSearchParams());
  useEffect(() => {
    const ac = new AbortController();
    const w = resolveRange(view, Date.now());
    const p = new URLSearchParams();
    if (w.start !== undefined) p.set('start_time', String(Math.floor(w.start / 1000)));
    p.set('end_time', String(Math.ceil(w.end / 1000)));
    p.set('size', String(PAGE));
    window.current = p;
    setAlerts(null);
    listAlerts(p, ac.signal).then(setAlerts, (e) => setError(String(e.message ?? e)));
    return () => ac.abort();
  }, [view]);
  // Hidden behind an opened event's detail, the list keeps its scroll position for the way back.
  const body = useRef<HTMLDivElement>(null);
  const scroll = useRef(0);
  useLayoutEffect(() => {
    if (!body.current) return;
    if (props.hidden) return;
    body.current.scrollTop = scroll.current;
  }, [props.hidden]);
  const loadMore = () => {
    if (!alerts || more) return;
    const asked = window.current;
    const p = new URLSearchParams(asked);
    p.set('from', String(alerts.items.length));
    setMore(true);
    listAlerts(p)
      .then(
        (page) => {
          if (asked !== window.current || !page) return;
          setAlerts((a) => a && { ...a, items: a.items.concat(page.items), total: page.total });
        },
        (e) => setError(String(e.message ?? e)),
      )
      .finally(() => setMore(false));
  };
  return (
    <aside class="detail alerts-panel" aria-label="Alerts" data-testid="alerts" hidden={props.hidden}>
      <header class="detail-head">
        <div class="detail-title">
          <h2>Alerts</h2>
          {alerts ? (
            <span class="muted small" data-testid="alerts-count">
              {alerts.items.length < alerts.total
                ? `Showing ${compactNumber(alerts.items.length)} of ${compactNumber(alerts.total)}`
                : `${compactNumber(alerts.total)} in this time range`}
            </span>
          ) : null}
        </div>
        <button type="button" class="icon-btn close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <div
        class="detail-body"
        ref={body}
        onScroll={(e) => {
          if (!props.hidden) scroll.current = e.currentTarget.scrollTop;
        }}
      >
        {error ? (
          <p class="error-text">{error}</p>
        ) : alerts === null ? (
          <p class="muted">Loading…</p>
        ) : alerts === undefined ? (
          <div class="empty small">
            <b>Alerts are not available on this server yet.</b>
            <p class="muted">When alerting rules are configured, alerts raised by matching events appear here.</p>
          </div>
        ) : alerts.alerting === false && alerts.items.length === 0 ? (
          <div class="empty small">
            <b>Alerting is turned off on this server.</b>
            <p class="muted">Its rules are disabled (rules.enabled: false), so no event raises an alert.</p>
          </div>
        ) : alerts.items.length === 0 ? (
          <div class="empty small">
            <b>No alerts in this time range.</b>
          </div>
        ) : (
          <ul class="alert-list">
            {alerts.items.map((a, i) => (
              <AlertItem key={a.id ?? i} a={a} onOpenEvent={props.onOpenEvent} />
            ))}
          </ul>
        )}
        {alerts && alerts.items.length < alerts.total ? (
          <button type="button" class="btn" onClick={loadMore} disabled={more}>
            {more ? 'Loading…' : `Load ${compactNumber(Math.min(PAGE, alerts.total - alerts.items.length))} more`}
          </button>
        ) : null}
      </div>
    </aside>
  );
}
