// The alerts panel: alerts raised in the view's time range, each able to open the event that raised it.
import { useEffect, useState } from 'preact/hooks';
import { type Alert, listAlerts } from './api.ts';
import { formatTime } from './format.ts';
import { resolveRange, type ViewState } from './query.ts';

export function AlertsPanel(props: { view: ViewState; onClose: () => void; onOpenEvent: (id: string) => void }) {
  const { view, onClose } = props;
  const [alerts, setAlerts] = useState<Alert[] | undefined | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const ac = new AbortController();
    const w = resolveRange(view, Date.now());
    const p = new URLSearchParams();
    if (w.start !== undefined) p.set('start_time', String(Math.floor(w.start / 1000)));
    p.set('end_time', String(Math.ceil(w.end / 1000)));
    listAlerts(p, ac.signal).then(setAlerts, (e) => setError(String(e.message ?? e)));
    return () => ac.abort();
  }, [view]);
  return (
    <aside class="detail alerts-panel" aria-label="Alerts" data-testid="alerts">
      <header class="detail-head">
        <div class="detail-title">
          <h2>Alerts</h2>
        </div>
        <button type="button" class="icon-btn close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <div class="detail-body">
        {error ? (
          <p class="error-text">{error}</p>
        ) : alerts === null ? (
          <p class="muted">Loading…</p>
        ) : alerts === undefined ? (
          <div class="empty small">
            <b>Alerts are not available on this server yet.</b>
            <p class="muted">When alerting rules are configured, alerts raised by matching events appear here.</p>
          </div>
        ) : alerts.length === 0 ? (
          <div class="empty small">
            <b>No alerts in this time range.</b>
          </div>
        ) : (
          <ul class="alert-list">
            {alerts.map((a, i) => (
              <li key={a.id ?? i}>
                {a.eventId ? (
                  <button
                    type="button"
                    class="link-btn alert-open"
                    onClick={() => props.onOpenEvent(a.eventId as string)}
                  >
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
            ))}
          </ul>
        )}
      </div>
    </aside>
  );
}
