// The console: trend chart, filter bar, virtualised result list, detail view, live tail, alerts, export, sign-in.
// All state that describes *what* is shown lives in the URL (query.ts); the rest is local UI state.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  type Alert,
  ApiError,
  type AuditEvent,
  followStream,
  getEvent,
  getToken,
  histogram,
  listAlerts,
  listEvents,
  setToken,
} from './api.ts';
import { Detail } from './Detail.tsx';
import { type ExportFormat, exportQuery } from './exporter.ts';
import { FilterBar } from './FilterBar.tsx';
import {
  codeClass,
  compactNumber,
  eventTime,
  formatListTime,
  formatTime,
  reasonPhrase,
  todayString,
} from './format.ts';
import {
  apiParams,
  CODE_CLASSES,
  DEFAULT_RANGE,
  durationMs,
  FIELDS,
  parseView,
  pickInterval,
  RANGES,
  resolveRange,
  type ViewState,
  viewToSearch,
} from './query.ts';
import { Trend, type TrendData } from './Trend.tsx';
import { VirtualList } from './VirtualList.tsx';

const ROW_HEIGHT = 34;

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
const PAGE_SIZE = 200;

type Theme = 'light' | 'dark';

function initialTheme(): Theme {
  const saved = document.documentElement.dataset.theme;
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

interface ListState {
  items: AuditEvent[];
  total: number;
  next?: string;
  loading: boolean;
  error?: string;
  /** The view (its URL search) these items answer; shown as data-key so tests can wait for the right answer. */
  key?: string;
}

/** Histogram counts per outcome class; each class is one request with its code list (intersected with the view's). */
async function loadTrend(
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
  const codeFilter = view.filters.find((f) => f.field.key === 'code');
  const wanted = codeFilter ? new Set(codeFilter.values) : undefined;
  const base = { ...view, filters: view.filters.filter((f) => f.field.key !== 'code') };
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
  // Four requests in parallel: everything, then each outcome class; what no class has is "no status code".
  const [all, ...classes] = await Promise.all([
    histogram(histParams(view), signal).then(bucketize),
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
  const none = all.map((n, i) => Math.max(0, n - ok[i] - client[i] - server[i]));
  return { times, ok, client, server, none, intervalMs, start: first, end: win.end };
}

function SignIn({ onDone, failed }: { onDone: () => void; failed: boolean }) {
  const [token, setTok] = useState('');
  const [error, setError] = useState(failed ? 'This server needs an access token.' : '');
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setToken(token.trim());
    try {
      await listEvents(new URLSearchParams({ size: '1' }));
      onDone();
    } catch (err) {
      setToken('');
      setError(err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="signin-backdrop">
      <form class="signin" onSubmit={submit} aria-label="Sign in">
        <div class="brand big">
          <Logo /> Vigil
        </div>
        <h1>Sign in to the audit log</h1>
        <p class="muted">Paste the access token your administrator gave you. It stays in this browser only.</p>
        <label class="field-label">
          Access token
          <input
            type="password"
            ref={input}
            autoComplete="off"
            value={token}
            aria-label="Access token"
            onInput={(e) => setTok(e.currentTarget.value)}
          />
        </label>
        {error ? <p class="error-text">{error}</p> : null}
        <button type="submit" class="btn primary wide" disabled={busy || !token.trim()}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}

function Logo() {
  return (
    <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <path
        d="M9 10l7 13 7-13"
        stroke="white"
        stroke-width="3"
        fill="none"
        stroke-linecap="round"
        stroke-linejoin="round"
      />
    </svg>
  );
}

function AlertsPanel(props: { view: ViewState; onClose: () => void; onOpenEvent: (id: string) => void }) {
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

const VERB_KIND: Record<string, string> = {
  create: 'write',
  update: 'write',
  patch: 'write',
  delete: 'danger',
  deletecollection: 'danger',
  post: 'write',
  put: 'write',
};

function EventRow({ e, today }: { e: AuditEvent; today: string }) {
  const t = formatListTime(e.requestReceivedTimestamp, today);
  const code = e.responseStatus?.code;
  const r = e.objectRef;
  return (
    <>
      <span class="c-time mono" title={e.requestReceivedTimestamp}>
        {t.date ? <span class="muted">{t.date} </span> : null}
        {t.time}
      </span>
      <span class="c-user" title={e.user?.username}>
        {e.user?.username || <span class="muted">—</span>}
      </span>
      <span class="c-verb">
        <span class={`verb ${VERB_KIND[e.verb ?? ''] ?? 'read'}`}>{e.verb}</span>
      </span>
      <span class="c-res" title={r?.subresource ? `${r.resource}/${r.subresource}` : r?.resource}>
        {r?.resource ?? <span class="muted">{e.requestURI}</span>}
        {r?.subresource ? <span class="muted">/{r.subresource}</span> : null}
      </span>
      <span class="c-name" title={r?.name}>
        {r?.name}
      </span>
      <span class="c-ns" title={r?.namespace}>
        {r?.namespace || (e.workspace ? <span class="muted">{e.workspace}</span> : null)}
      </span>
      <span
        class={`c-code ${codeClass(code)}`}
        title={code ? `${code} ${reasonPhrase(code)}`.trim() : 'No status code'}
      >
        <i class="dot" />
        {code ?? '—'}
      </span>
      <span class="c-ip mono" title={e.sourceIPs?.join(', ')}>
        {e.sourceIPs?.[0]}
      </span>
      <span class="c-src">{e.source ? <span class="pill">{e.source}</span> : null}</span>
    </>
  );
}

export function App() {
  const [view, setView] = useState<ViewState>(() => {
    const v = parseView(location.search);
    // One spelling per view: the URL is rewritten to the canonical form (same parameters, canonical order).
    history.replaceState(null, '', `${location.pathname}${viewToSearch(v)}`);
    return v;
  });
  const [trendKey, setTrendKey] = useState<string>();
  const [list, setList] = useState<ListState>({ items: [], total: 0, loading: true });
  const [trend, setTrend] = useState<TrendData>();
  const [trendLoading, setTrendLoading] = useState(true);
  const [selected, setSelectedState] = useState(-1);
  // Keys can arrive faster than renders (j j Enter): the handler reads the selection from this ref, which every
  // change updates at once, rather than from the render it was bound in.
  const selectedRef = useRef(-1);
  const itemCount = useRef(0);
  const setSelected = useCallback((next: number | ((s: number) => number)) => {
    selectedRef.current = typeof next === 'function' ? next(selectedRef.current) : next;
    setSelectedState(selectedRef.current);
  }, []);
  /** An event opened from elsewhere than the list (an alert), shown in the detail view. */
  const [pinned, setPinned] = useState<AuditEvent>();
  const [detailOpen, setDetailOpen] = useState(false);
  const [alertsOpen, setAlertsOpen] = useState(false);
  const [live, setLive] = useState(false);
  const [liveState, setLiveState] = useState<'off' | 'connecting' | 'on' | 'error'>('off');
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [auth, setAuth] = useState<'ok' | 'needed'>('ok');
  const [authVersion, setAuthVersion] = useState(0);
  const [refresh, setRefresh] = useState(0);
  const [exporting, setExporting] = useState<{ done: number; total: number; ac: AbortController } | null>(null);
  const [exportMenu, setExportMenu] = useState(false);
  const [toast, setToast] = useState('');
  const searchRef = useRef<HTMLInputElement>(null);
  /** The API parameters of the list on screen, so "load more" continues exactly that query. */
  const listQuery = useRef<URLSearchParams>(new URLSearchParams());
  const loadingMore = useRef(false);
  const [fetchingMore, setFetchingMore] = useState(false);
  const today = todayString();
  itemCount.current = list.items.length;

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  const navigate = useCallback((next: ViewState, replace = false) => {
    const url = `${location.pathname}${viewToSearch(next)}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    setView(next);
  }, []);

  useEffect(() => {
    const pop = () => setView(parseView(location.search));
    addEventListener('popstate', pop);
    return () => removeEventListener('popstate', pop);
  }, []);

  const failed = useCallback((err: unknown) => {
    if (err instanceof DOMException && err.name === 'AbortError') return true;
    if (err instanceof ApiError && err.status === 401) {
      setAuth('needed');
      return true;
    }
    return false;
  }, []);

  // Load the first page and the trend whenever the view changes.
  useEffect(() => {
    const ac = new AbortController();
    const win = resolveRange(view, Date.now());
    const params = apiParams(view, win);
    params.set('sort', 'desc');
    params.set('size', String(PAGE_SIZE));
    listQuery.current = params;
    const key = viewToSearch(view);
    setList((l) => ({ ...l, loading: true, error: undefined }));
    setSelected(-1);
    setDetailOpen(false);
    listEvents(params, ac.signal).then(
      (page) => {
        setAuth('ok');
        setList({ items: page.items, total: page.total, next: page.next, loading: false, key });
      },
      (err) => {
        if (!failed(err)) setList({ items: [], total: 0, loading: false, error: String(err.message ?? err), key });
      },
    );
    setTrendLoading(true);
    loadTrend(view, win, ac.signal).then(
      (t) => {
        setTrend(t);
        setTrendLoading(false);
        setTrendKey(key);
      },
      (err) => {
        if (failed(err)) return;
        setTrend(undefined);
        setTrendLoading(false);
        setTrendKey(key);
      },
    );
    return () => ac.abort();
  }, [view, refresh, authVersion]);

  const loadMore = useCallback(() => {
    if (loadingMore.current || !list.next || list.loading) return;
    loadingMore.current = true;
    setFetchingMore(true);
    const p = new URLSearchParams(listQuery.current);
    p.set('after', list.next);
    const q = listQuery.current;
    listEvents(p)
      .then(
        (page) => {
          if (q !== listQuery.current) return; // the view changed meanwhile
          setList((l) => {
            const seen = new Set(l.items.map((e) => e.id));
            return { ...l, items: l.items.concat(page.items.filter((e) => !seen.has(e.id))), next: page.next };
          });
        },
        (err) => {
          if (!failed(err)) setToast(`Could not load more: ${err.message ?? err}`);
        },
      )
      .finally(() => {
        loadingMore.current = false;
        setFetchingMore(false);
      });
  }, [list.next, list.loading]);

  // Live tail: new matching events stream in at the top; the trend's buckets count them too.
  useEffect(() => {
    if (!live || auth !== 'ok') {
      setLiveState('off');
      return;
    }
    const ac = new AbortController();
    const params = apiParams(view, { end: 0 });
    params.delete('start_time');
    params.delete('end_time');
    let pending: AuditEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending.reverse();
      pending = [];
      setList((l) => {
        const seen = new Set(l.items.slice(0, 2000).map((e) => e.id));
        const fresh = batch.filter((e) => !seen.has(e.id));
        if (fresh.length === 0) return l;
        setSelected((s) => (s >= 0 ? s + fresh.length : s));
        return { ...l, items: fresh.concat(l.items), total: l.total + fresh.length };
      });
      setTrend((t) => {
        if (!t) return t;
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
      });
    };
    const run = async () => {
      let backoff = 1000;
      while (!ac.signal.aborted) {
        setLiveState('connecting');
        try {
          await followStream(
            params,
            (e) => {
              pending.push(e);
              if (!frame) frame = requestAnimationFrame(flush);
            },
            ac.signal,
            () => {
              setLiveState('on');
              backoff = 1000;
            },
          );
        } catch (err) {
          if (failed(err)) return;
          setLiveState('error');
        }
        if (ac.signal.aborted) return;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 15_000);
      }
    };
    run();
    return () => {
      ac.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [live, view, auth, authVersion]);

  const toggleLive = () => {
    // Live tail follows "now": an absolute range that ended in the past would hide the new events.
    if (!live && !view.range) navigate({ ...view, range: DEFAULT_RANGE, start: undefined, end: undefined });
    setLive(!live);
  };

  const addFilter = (fieldKey: string, value: string) => {
    const field = FIELDS.find((f) => f.key === fieldKey);
    if (!field) return;
    const filters = view.filters.filter((f) => !(f.field.key === fieldKey && f.mode === 'exact'));
    navigate({ ...view, filters: [...filters, { field, mode: field.exact ? 'exact' : 'fuzzy', values: [value] }] });
  };

  const zoom = (start: number, end: number) => {
    setLive(false);
    navigate({ ...view, range: undefined, start, end });
  };

  const startExport = async (format: ExportFormat) => {
    setExportMenu(false);
    const ac = new AbortController();
    setExporting({ done: 0, total: list.total, ac });
    const params = new URLSearchParams(listQuery.current);
    params.delete('size');
    try {
      const blob = await exportQuery(params, format, (done, total) => setExporting({ done, total, ac }), ac.signal);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      download(blob, `vigil-events-${stamp}.${format === 'csv' ? 'csv' : 'jsonl'}`);
    } catch (err) {
      if (!failed(err)) setToast(`Export failed: ${(err as Error).message ?? err}`);
    } finally {
      setExporting(null);
    }
  };

  // Keyboard: j/k or arrows move, Enter opens, Esc closes, / focuses search.
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      const typing = t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT';
      if (e.key === 'Escape') {
        if (typing) return;
        if (detailOpen || pinned) {
          setDetailOpen(false);
          setPinned(undefined);
        } else if (alertsOpen) setAlertsOpen(false);
        else if (exportMenu) setExportMenu(false);
        return;
      }
      if (typing || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === '/') {
        e.preventDefault();
        searchRef.current?.focus();
      } else if (e.key === 'r') {
        setRefresh((r) => r + 1);
      } else if (e.key === 'j' || e.key === 'ArrowDown') {
        e.preventDefault();
        setPinned(undefined);
        setSelected((s) => Math.min(s + 1, itemCount.current - 1));
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        e.preventDefault();
        setPinned(undefined);
        setSelected((s) => Math.max(s - 1, 0));
      } else if (e.key === 'Enter' && selectedRef.current >= 0) {
        e.preventDefault();
        setDetailOpen(true);
        setAlertsOpen(false);
      }
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, [detailOpen, alertsOpen, exportMenu, pinned]);

  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(''), 5000);
    return () => clearTimeout(t);
  }, [toast]);

  const current = pinned ?? (detailOpen && selected >= 0 ? list.items[selected] : undefined);
  const openEvent = (id: string) => {
    getEvent(id).then(
      (e) => {
        setPinned(e);
        setAlertsOpen(false);
      },
      (err) => {
        if (!failed(err)) setToast(`Could not open the event: ${err.message ?? err}`);
      },
    );
  };
  const closeDetail = () => {
    setPinned(undefined);
    setDetailOpen(false);
  };
  const win = resolveRange(view, Date.now());
  const rangeText =
    view.range === 'all'
      ? 'all time'
      : view.range
        ? `the ${(RANGES.find((r) => r.key === view.range)?.label ?? `last ${view.range}`).toLowerCase()}`
        : 'the selected range';
  const codeValues = view.filters.find((f) => f.field.key === 'code')?.values;

  return (
    <div class="app">
      <header class="topbar">
        <div class="brand">
          <Logo />
          <span>Vigil</span>
          <span class="brand-sub">Audit log</span>
        </div>
        <div class="topbar-actions">
          <button
            type="button"
            class={`btn live-btn ${live ? 'on' : ''} ${liveState}`}
            aria-pressed={live}
            onClick={toggleLive}
            data-testid="live"
            title="Stream new matching events into the list"
          >
            <i class="live-dot" />
            {live
              ? liveState === 'on'
                ? 'Live'
                : liveState === 'error'
                  ? 'Reconnecting…'
                  : 'Connecting…'
              : 'Live tail'}
          </button>
          <div class="menu-wrap">
            <button
              type="button"
              class="btn"
              aria-haspopup="true"
              aria-expanded={exportMenu}
              onClick={() => setExportMenu(!exportMenu)}
              disabled={!!exporting}
            >
              {exporting ? `Exporting ${compactNumber(exporting.done)} / ${compactNumber(exporting.total)}` : 'Export'}
            </button>
            {exporting ? (
              <button type="button" class="link-btn" onClick={() => exporting.ac.abort()}>
                Cancel
              </button>
            ) : null}
            {exportMenu ? (
              <div class="popover menu" role="menu">
                <button type="button" role="menuitem" onClick={() => startExport('jsonl')}>
                  JSON lines <span class="muted">.jsonl</span>
                </button>
                <button type="button" role="menuitem" onClick={() => startExport('csv')}>
                  CSV <span class="muted">.csv</span>
                </button>
                <p class="hint">All {compactNumber(list.total)} events of the current query.</p>
              </div>
            ) : null}
          </div>
          <button
            type="button"
            class={`btn ${alertsOpen ? 'on' : ''}`}
            aria-pressed={alertsOpen}
            onClick={() => {
              setAlertsOpen(!alertsOpen);
              closeDetail();
            }}
          >
            Alerts
          </button>
          <button
            type="button"
            class="icon-btn theme-btn"
            title={theme === 'dark' ? 'Light theme' : 'Dark theme'}
            aria-label="Toggle theme"
            onClick={() => {
              const t = theme === 'dark' ? 'light' : 'dark';
              localStorage.setItem('vigil.theme', t);
              setTheme(t);
            }}
          >
            {theme === 'dark' ? (
              <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
                <circle cx="8" cy="8" r="3.2" fill="currentColor" />
                <path
                  d="M8 1v2M8 13v2M1 8h2M13 8h2M3 3l1.4 1.4M11.6 11.6L13 13M3 13l1.4-1.4M11.6 4.4L13 3"
                  stroke="currentColor"
                  stroke-width="1.4"
                  stroke-linecap="round"
                />
              </svg>
            ) : (
              <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
                <path d="M13.5 10.2A6 6 0 015.8 2.5a6 6 0 107.7 7.7z" fill="currentColor" />
              </svg>
            )}
          </button>
          {getToken() ? (
            <button
              type="button"
              class="btn ghost"
              onClick={() => {
                setToken('');
                setLive(false);
                setAuth('needed');
              }}
            >
              Sign out
            </button>
          ) : null}
        </div>
      </header>

      <FilterBar
        view={view}
        onChange={(v) => navigate(v)}
        searchRef={searchRef}
        onRefresh={() => setRefresh((r) => r + 1)}
      />

      <section class="card trend-card" aria-label="Trend" data-loading={trendLoading} data-key={trendKey}>
        <div class="card-head">
          <h2>
            <span data-testid="total">{list.loading && !list.items.length ? '…' : compactNumber(list.total)}</span>{' '}
            {list.total === 1 ? 'event' : 'events'} <span class="muted">in {rangeText}</span>
          </h2>
          <span class="muted small">
            {win.start !== undefined ? formatTime(win.start) : 'beginning'} → {formatTime(win.end)}
            {codeValues ? ` · codes ${codeValues.join(', ')}` : ''}
          </span>
        </div>
        <Trend data={trend} theme={theme} onZoom={zoom} />
      </section>

      <main class={`content ${current || alertsOpen ? 'split' : ''}`}>
        <section class="card results" aria-label="Events" data-loading={list.loading} data-key={list.key}>
          <div class="thead">
            <span>Time</span>
            <span>Operator</span>
            <span>Verb</span>
            <span>Resource</span>
            <span>Name</span>
            <span>Project</span>
            <span>Code</span>
            <span>Source IP</span>
            <span>Source</span>
          </div>
          {list.error ? (
            <div class="empty">
              <b>Could not load events.</b>
              <p class="muted">{list.error}</p>
              <button type="button" class="btn" onClick={() => setRefresh(refresh + 1)}>
                Retry
              </button>
            </div>
          ) : (
            <VirtualList
              items={list.items}
              rowHeight={ROW_HEIGHT}
              selected={selected}
              label="Audit events"
              renderRow={(e) => <EventRow e={e} today={today} />}
              onOpen={(i) => {
                setPinned(undefined);
                setSelected(i);
                setDetailOpen(true);
                setAlertsOpen(false);
              }}
              onEndReached={list.next ? loadMore : undefined}
              empty={
                list.loading ? (
                  <div class="empty">
                    <span class="spinner" /> Loading events…
                  </div>
                ) : (
                  <div class="empty">
                    <b>No events match.</b>
                    <p class="muted">Widen the time range or remove a filter.</p>
                  </div>
                )
              }
            />
          )}
          <div class="tfoot muted">
            {list.items.length > 0
              ? `Showing ${compactNumber(list.items.length)} of ${compactNumber(list.total)} · newest first`
              : ''}
            {fetchingMore ? (
              <span class="more">
                <span class="spinner small" /> loading more…
              </span>
            ) : null}
            <span class="keys">
              <kbd>j</kbd>
              <kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> close · <kbd>/</kbd> search · <kbd>r</kbd>{' '}
              refresh
            </span>
          </div>
        </section>
        {current ? (
          <Detail event={current} onClose={closeDetail} onFilter={(field, value) => addFilter(field, value)} />
        ) : alertsOpen ? (
          <AlertsPanel view={view} onClose={() => setAlertsOpen(false)} onOpenEvent={openEvent} />
        ) : null}
      </main>

      {toast ? (
        <div class="toast" role="status">
          {toast}
        </div>
      ) : null}
      {auth === 'needed' ? (
        <SignIn
          failed={!getToken()}
          onDone={() => {
            setAuth('ok');
            setAuthVersion(authVersion + 1);
          }}
        />
      ) : null}
    </div>
  );
}
