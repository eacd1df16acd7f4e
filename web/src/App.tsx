// The console: trend chart, filter bar, virtualised result list, detail view, live tail, alerts, export, sign-in.
// All state that describes *what* is shown lives in the URL (useView, query.ts); the rest is local UI state. The
// parts live beside this file by concern: data (useEvents, trendData), live tail (useLiveTail), keyboard
// (useKeyboard), side panel (usePanels), export (useExport), sign-in/theme/toast (useSession), and the layout's
// components (TopBar, TrendCard, Results, Detail, AlertsPanel, SignIn).
import { useRef, useState } from 'preact/hooks';
import { AlertsPanel } from './AlertsPanel.tsx';
import { getEvent, getToken, setToken } from './api.ts';
import { Detail } from './Detail.tsx';
import { FilterBar } from './FilterBar.tsx';
import { DEFAULT_RANGE, FIELDS, type ViewState } from './query.ts';
import { Results } from './Results.tsx';
import { SignIn } from './SignIn.tsx';
import { TopBar } from './TopBar.tsx';
import { TrendCard } from './TrendCard.tsx';
import { useEvents } from './useEvents.ts';
import { useExport } from './useExport.ts';
import { useKeyboard } from './useKeyboard.ts';
import { useLiveTail } from './useLiveTail.ts';
import { usePanels } from './usePanels.ts';
import { useAuth, useTheme, useToast } from './useSession.ts';
import { useView } from './useView.ts';

/** The view with one exact filter set to a value (replacing that field's exact filter). */
function withFilter(view: ViewState, fieldKey: string, value: string): ViewState | undefined {
  const field = FIELDS.find((f) => f.key === fieldKey);
  if (!field) return undefined;
  const filters = view.filters.filter((f) => !(f.field.key === fieldKey && f.mode === 'exact'));
  return { ...view, filters: [...filters, { field, mode: field.exact ? 'exact' : 'fuzzy', values: [value] }] };
}

export function App() {
  const { view, navigate } = useView();
  const panels = usePanels();
  const { selected, setSelected, pinned, detailOpen, alertsOpen } = panels;
  const { auth, setAuth, authVersion, failed, signedIn } = useAuth();
  const [theme, toggleTheme] = useTheme();
  const [toast, setToast] = useToast();
  const [live, setLive] = useState(false);
  const [refresh, setRefresh] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);

  const events = useEvents({
    view,
    reload: `${refresh}/${authVersion}`,
    failed,
    onLoaded: () => setAuth('ok'),
    onNewView: panels.reset,
    onError: setToast,
  });
  const { list } = events;
  const liveState = useLiveTail({
    live,
    view,
    enabled: auth === 'ok',
    reconnect: authVersion,
    events,
    failed,
    onPrepend: (n) => setSelected((s) => (s >= 0 ? s + n : s)),
  });
  const exp = useExport({
    query: () => events.listQuery.current,
    total: () => list.total,
    failed,
    onError: setToast,
  });

  const toggleLive = () => {
    // Live tail follows "now": an absolute range that ended in the past would hide the new events.
    if (!live && !view.range) navigate({ ...view, range: DEFAULT_RANGE, start: undefined, end: undefined });
    setLive(!live);
  };
  const zoom = (start: number, end: number) => {
    setLive(false);
    navigate({ ...view, range: undefined, start, end });
  };
  const openEvent = (id: string) => {
    getEvent(id).then(panels.openPinned, (err) => {
      if (!failed(err)) setToast(`Could not open the event: ${err.message ?? err}`);
    });
  };

  useKeyboard({
    escape: () => panels.closeTop() || exp.setExportMenu(false),
    focusSearch: () => searchRef.current?.focus(),
    refresh: () => setRefresh((r) => r + 1),
    move: (by) => panels.move(by, list.items.length),
    open: panels.openSelected,
  });

  const current = pinned ?? (detailOpen && selected >= 0 ? list.items[selected] : undefined);
  return (
    <div class="app">
      <TopBar
        live={live}
        liveState={liveState}
        onToggleLive={toggleLive}
        {...exp}
        onExport={exp.startExport}
        total={list.total}
        alertsOpen={alertsOpen}
        onToggleAlerts={panels.toggleAlerts}
        theme={theme}
        onToggleTheme={toggleTheme}
        onSignOut={() => {
          setToken('');
          setLive(false);
          setAuth('needed');
        }}
      />
      <FilterBar
        view={view}
        onChange={(v) => navigate(v)}
        searchRef={searchRef}
        onRefresh={() => setRefresh((r) => r + 1)}
      />
      <TrendCard view={view} list={list} trend={events.trend} theme={theme} onZoom={zoom} />
      <main class={`content ${current || alertsOpen ? 'split' : ''}`}>
        <Results
          list={list}
          selected={selected}
          fetchingMore={events.fetchingMore}
          onOpen={panels.openRow}
          onEndReached={list.next ? events.loadMore : undefined}
          onRetry={() => setRefresh(refresh + 1)}
        />
        {current ? (
          <Detail
            event={current}
            onClose={panels.closeDetail}
            onFilter={(field, value) => {
              const next = withFilter(view, field, value);
              if (next) navigate(next);
            }}
          />
        ) : alertsOpen ? (
          <AlertsPanel view={view} onClose={() => panels.setAlertsOpen(false)} onOpenEvent={openEvent} />
        ) : null}
      </main>
      {toast ? (
        <div class="toast" role="status">
          {toast}
        </div>
      ) : null}
      {auth === 'needed' ? <SignIn failed={!getToken()} onDone={signedIn} /> : null}
    </div>
  );
}
