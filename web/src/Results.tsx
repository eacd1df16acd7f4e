// The result list card: column heads (Time sorts), the virtualised rows (or the loading / empty / error state), the
// footer with the column chooser. Which columns show is the reader's choice, kept in this browser.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AuditEvent } from './api.ts';
import { CellMenu, type CellMenuAt } from './CellMenu.tsx';
import type { Pivot } from './Detail.tsx';
import { COLUMNS, type Column, EventRow } from './EventRow.tsx';
import { compactNumber, timeZone, todayString } from './format.ts';
import type { ListState } from './useEvents.ts';
import { VirtualList } from './VirtualList.tsx';

const ROW_HEIGHT = 34;
const COLUMNS_KEY = 'vigil.columns';

function savedColumns(): Set<string> {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null');
    if (Array.isArray(saved)) return new Set(saved.filter((k) => typeof k === 'string'));
  } catch {
    // none saved, or unreadable: the defaults
  }
  return new Set(COLUMNS.filter((c) => c.shown).map((c) => c.key));
}

/** Whether the window is narrow (the layout of styles.css's max-width: 900px): fewer columns fit. */
function useNarrowWindow(): boolean {
  const [narrow, setNarrow] = useState(() => matchMedia('(max-width: 900px)').matches);
  useEffect(() => {
    const m = matchMedia('(max-width: 900px)');
    const change = () => setNarrow(m.matches);
    m.addEventListener('change', change);
    return () => m.removeEventListener('change', change);
  }, []);
  return narrow;
}

function ColumnChooser({ shown, onChange }: { shown: Set<string>; onChange: (s: Set<string>) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <span class="menu-wrap">
      <button type="button" class="link-btn" aria-expanded={open} onClick={() => setOpen(!open)}>
        Columns
      </button>
      {open ? (
        <fieldset class="popover menu columns-menu">
          <legend class="sr-only">Columns</legend>
          {COLUMNS.map((c) => (
            <label key={c.key}>
              <input
                type="checkbox"
                checked={shown.has(c.key)}
                onChange={() => {
                  const next = new Set(shown);
                  if (next.has(c.key)) next.delete(c.key);
                  else next.add(c.key);
                  localStorage.setItem(COLUMNS_KEY, JSON.stringify([...next]));
                  onChange(next);
                }}
              />{' '}
              {c.label}
            </label>
          ))}
        </fieldset>
      ) : null}
    </span>
  );
}

function Head({ columns, asc, onSort }: { columns: Column[]; asc: boolean; onSort: () => void }) {
  return (
    <div class="thead">
      {columns.map((c) =>
        c.key === 'time' ? (
          <button
            type="button"
            key={c.key}
            class="sort-btn"
            aria-label={`Time, ${asc ? 'oldest' : 'newest'} first: sort ${asc ? 'newest' : 'oldest'} first`}
            onClick={onSort}
          >
            Time <span class="muted">{timeZone() === 'utc' ? 'UTC' : 'local'}</span> {asc ? '↑' : '↓'}
          </button>
        ) : (
          <span key={c.key}>{c.label}</span>
        ),
      )}
    </div>
  );
}

export function Results(props: {
  list: ListState;
  selected: number;
  fetchingMore: boolean;
  onOpen: (index: number, e: AuditEvent) => void;
  onEndReached?: () => void;
  onRetry: () => void;
  /** The event open in the detail: its row is marked. */
  anchor?: string;
  /** The detail is open beside the list: only the columns marked narrow show. */
  narrow: boolean;
  asc: boolean;
  onSort: () => void;
  /** Live tail: events held while the reader reads, and the ids it added (marked). */
  live?: { held: number; release: () => void; fresh: Set<string> };
  /** The reader is reading (scrolled down or pointing at the list), or stopped. */
  onReading: (reading: boolean) => void;
  /** Include or exclude a cell's value (the cell menu). */
  onPivot: Pivot;
}) {
  const { list } = props;
  const today = todayString();
  const [shown, setShown] = useState(savedColumns);
  const [menu, setMenu] = useState<CellMenuAt | null>(null);
  const box = useRef<HTMLElement>(null);
  const reading = useRef({ scrolled: false, hover: false });
  const report = (patch: Partial<{ scrolled: boolean; hover: boolean }>) => {
    const before = reading.current.scrolled || reading.current.hover;
    reading.current = { ...reading.current, ...patch };
    const now = reading.current.scrolled || reading.current.hover;
    if (now !== before) props.onReading(now);
  };
  const showNew = () => {
    const list = box.current?.querySelector('.vlist');
    if (list) list.scrollTop = 0;
    reading.current.scrolled = false;
    props.live?.release();
  };
  const small = useNarrowWindow();
  const narrow = props.narrow || small;
  const columns = COLUMNS.filter((c) => shown.has(c.key) && (!narrow || c.narrow));
  // Shift+F10 or the menu key: the cell menu of the selected row, every shown column's values.
  const menuKey = useRef<() => void>(() => {});
  menuKey.current = () => {
    const e = list.items[props.selected];
    const row = box.current?.querySelector<HTMLElement>(`.vlist .row[data-index="${props.selected}"]`);
    if (!e || !row) return;
    const r = row.getBoundingClientRect();
    setMenu({ e, columns, x: r.left + 24, y: r.bottom });
  };
  useEffect(() => {
    const key = (ev: KeyboardEvent) => {
      const t = ev.target as HTMLElement;
      if (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return;
      if (ev.key === 'ContextMenu' || (ev.key === 'F10' && ev.shiftKey)) {
        ev.preventDefault();
        menuKey.current();
      }
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, []);
  return (
    <section
      class="card results"
      aria-label="Events"
      data-loading={list.loading}
      data-key={list.key}
      ref={box}
      onMouseEnter={() => report({ hover: true })}
      onMouseLeave={() => report({ hover: false })}
      // Narrow (detail beside, or a small window): the flexible columns may shrink below their usual minimum.
      style={{
        '--cols': columns.map((c) => (narrow ? c.width.replace(/minmax\(\d+px/, 'minmax(0') : c.width)).join(' '),
      }}
    >
      <Head columns={columns} asc={props.asc} onSort={props.onSort} />
      {props.live?.held ? (
        <button type="button" class="new-pill" onClick={showNew} data-testid="new-events">
          {props.live.held === 1 ? '1 new event' : `${compactNumber(props.live.held)} new events`}
        </button>
      ) : null}
      {list.error ? (
        <div class="empty">
          <b>Could not load events.</b>
          <p class="muted">{list.error}</p>
          <button type="button" class="btn" onClick={props.onRetry}>
            Retry
          </button>
        </div>
      ) : (
        <VirtualList
          items={list.items}
          rowHeight={ROW_HEIGHT}
          selected={props.selected}
          label="Audit events"
          renderRow={(e) => <EventRow e={e} today={today} columns={columns} />}
          rowClass={(e) =>
            [e.id === props.anchor ? 'anchor' : '', props.live?.fresh.has(e.id) ? 'fresh' : '']
              .filter(Boolean)
              .join(' ')
          }
          onScrolled={(top) => report({ scrolled: top > 0 })}
          onOpen={(i) => props.onOpen(i, list.items[i])}
          onRowMenu={(i, x, y, cell) => {
            const e = list.items[i];
            const on = columns.filter((c) => c.key === cell && c.pivot);
            if (e) setMenu({ e, columns: on.length > 0 ? on : columns, x, y });
          }}
          onEndReached={props.onEndReached}
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
        <ColumnChooser shown={shown} onChange={setShown} />
        {list.items.length > 0
          ? `Showing ${compactNumber(list.items.length)} of ${compactNumber(list.total)} · ${props.asc ? 'oldest' : 'newest'} first`
          : ''}
        {props.fetchingMore ? (
          <span class="more">
            <span class="spinner small" /> loading more…
          </span>
        ) : null}
        <span class="keys">
          <kbd>j</kbd>
          <kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> close · <kbd>/</kbd> search · <kbd>r</kbd> refresh
          · <kbd>⇧F10</kbd> filter on the row
        </span>
      </div>
      {menu ? <CellMenu at={menu} onPivot={props.onPivot} onClose={() => setMenu(null)} /> : null}
    </section>
  );
}
