// The console: trend chart, filter bar, virtualised result list, detail view, live tail, alerts, export, sign-in.
// All state that describes *what* is shown lives in the URL (useView, query.ts); the rest is local UI state. The
// parts live beside this file by concern: data (useEvents, trendData), live tail (useLiveTail), keyboard
// (useKeyboard), side panel (usePanels), export (useExport), sign-in/theme/toast (useSession), and the layout's
// components (TopBar, TrendCard, Results, Detail, AlertsPanel, SignIn).
import { useRef, useState } from 'preact/hooks';
import { AlertsPanel } from './AlertsPanel.tsx';
import { getEvent, getToken, setToken } from './api.ts';
import { Detail } from './Detail.tsx';
import { Facets } from './Facets.tsx';
import { FilterBar } from './FilterBar.tsx';
import { ALL_FIELDS, DEFAULT_RANGE, type ViewState } from './query.ts';
import { Results } from './Results.tsx';
import { SignIn } from './SignIn.tsx';
import { TopBar } from './TopBar.tsx';
import { TrendCard } from './TrendCard.tsx';
import { useEvents } from './useEvents.ts';
import { useExport } from './useExport.ts';
import { useKeyboard } from './useKeyboard.ts';
import { useLiveTail } from './useLiveTail.ts';
import { usePanels } from './usePanels.ts';
import { useAuth, useStoredFlag, useTheme, useTimeZone, useToast } from './useSession.ts';
import { useView } from './useView.ts';

/**
 * A pivot from a value: include (the field's exact filter becomes that value) or exclude (the value joins the
 * field's exclusions). Either way the opposite for the same value goes.
 */
function withPivot(view: ViewState, fieldKey: string, value: string, exclude = false): ViewState | undefined {
  const field = ALL_FIELDS.find((f) => f.key === fieldKey);
  if (!field || (exclude && !field.exclude)) return undefined;
  const others = view.filters.filter((f) => f.field.key !== fieldKey);
  const own = view.filters.filter((f) => f.field.key === fieldKey);
  if (!exclude) {
    const kept = own.filter((f) => f.mode === 'fuzzy');
    const excl = own
      .filter((f) => f.mode === 'exclude')
      .map((f) => ({ ...f, values: f.values.filter((v) => v !== value) }));
    const mine = [...kept, ...excl.filter((f) => f.values.length), { field, mode: 'exact' as const, values: [value] }];
    return { ...view, filters: [...others, ...mine] };
  }
  const prev = own.find((f) => f.mode === 'exclude');
  const exact = own
    .filter((f) => f.mode === 'exact')
    .map((f) => ({ ...f, values: f.values.filter((v) => v !== value) }))
    .filter((f) => f.values.length);
  const excl = { field, mode: 'exclude' as const, values: [...(prev?.values ?? []).filter((v) => v !== value), value] };
  return { ...view, filters: [...others, ...own.filter((f) => f.mode === 'fuzzy'), ...exact, excl] };
}

/** Live tail on or off; starting it moves the view to "now", newest first; a zoom into the past stops it. */
function useLive(view: ViewState, navigate: (v: ViewState) => void) {
  const [live, setLive] = useState(false);
  const toggleLive = () => {
    // Live tail follows "now": an absolute range that ended in the past would hide the new events.
    // New events go on top, so the list is newest first.
    if (!live && (!view.range || view.sort))
      navigate({ ...view, range: view.range ?? DEFAULT_RANGE, start: undefined, end: undefined, sort: undefined });
    setLive(!live);
  };
  const zoom = (start: number, end: number) => {
    setLive(false);
    navigate({ ...view, range: undefined, start, end });
  };
  return { live, setLive, toggleLive, zoom };
}

export function App() {
  const { view, navigate } = useView();
  const panels = usePanels();
  const { selected, setSelected, pinned, detailOpen, alertsOpen } = panels;
  const { auth, setAuth, authVersion, failed, signedIn } = useAuth();
  const [theme, toggleTheme] = useTheme();
  const [tz, toggleTz] = useTimeZone();
  const [facetsOpen, toggleFacets] = useStoredFlag('vigil.facets');
  const [toast, setToast] = useToast();
  const { live, setLive, toggleLive, zoom } = useLive(view, navigate);
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
  const reading = useRef(false);
  const tail = useLiveTail({
    live,
    view,
    enabled: auth === 'ok',
    reconnect: authVersion,
    events,
    failed,
    onPrepend: (n) => setSelected((s) => (s >= 0 ? s + n : s)),
    // A list that failed while the server was away loads again once the stream says it is back.
    onConnected: () => {
      if (list.error) setRefresh((r) => r + 1);
    },
    reading: () => reading.current,
  });
  const exp = useExport({ query: () => events.listQuery.current, total: () => list.total, failed, onError: setToast });

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
  panels.useKept(list.items, view.filters.find((f) => f.field.key === 'auditid' && f.mode === 'exact')?.values[0]);
  /** A pivot or a context keeps the place: the event stays open (and selected again if the new list has it). */
  const keepAndGo = (next: ViewState | undefined) => {
    if (!next) return;
    panels.keep(current);
    navigate(next);
  };
  const anchor = current?.id;
  return (
    <div class="app">
      <TopBar
        live={live}
        liveState={tail.state}
        onToggleLive={toggleLive}
        exporter={exp}
        total={list.total}
        alertsOpen={alertsOpen}
        onToggleAlerts={panels.toggleAlerts}
        settings={{ theme, toggleTheme, tz, toggleTz }}
        view={view}
        onView={navigate}
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
      <TrendCard
        view={view}
        list={list}
        trend={events.trend}
        theme={theme}
        onZoom={zoom}
        onView={navigate}
        facetsOpen={facetsOpen}
        onToggleFacets={toggleFacets}
      />
      {facetsOpen ? <Facets view={view} onFilter={(f, v, x) => keepAndGo(withPivot(view, f, v, x))} /> : null}
      <main class={`content ${current || alertsOpen ? 'split' : ''}`}>
        <Results
          list={list}
          selected={selected}
          fetchingMore={events.fetchingMore}
          onOpen={panels.openRow}
          anchor={anchor}
          narrow={!!current || alertsOpen}
          asc={view.sort === 'asc'}
          onSort={() => navigate({ ...view, sort: view.sort === 'asc' ? undefined : 'asc' })}
          live={live ? tail : undefined}
          onReading={(r) => {
            reading.current = r;
            if (!r) tail.release();
          }}
          onEndReached={list.next ? events.loadMore : undefined}
          onRetry={() => setRefresh(refresh + 1)}
          onPivot={(field, value, exclude) => keepAndGo(withPivot(view, field, value, exclude))}
        />
        {current ? (
          <Detail
            event={current}
            onClose={panels.closeDetail}
            onFilter={(field, value, exclude) => keepAndGo(withPivot(view, field, value, exclude))}
            onView={(v) => {
              setLive(false);
              keepAndGo(v);
            }}
            onBack={pinned && alertsOpen ? panels.closeDetail : undefined}
          />
        ) : null}
        {alertsOpen ? (
          <AlertsPanel
            view={view}
            hidden={!!current}
            onClose={() => panels.setAlertsOpen(false)}
            onOpenEvent={openEvent}
          />
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
