// The filter bar: one chip per filter (exact "=" or fuzzy "contains", as the API offers for that field), free-text
// search, and the time range. Every change produces a new ViewState; the App puts it in the URL.
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { FREE_TEXT } from '#store/fields';
import { stats } from './api.ts';
import { formatTime, inputTime, parseInputTime, zoneLabel } from './format.ts';
import {
  apiParams,
  DEFAULT_RANGE,
  durationMs,
  FIELDS,
  type FieldDef,
  type Filter,
  type Mode,
  paramName,
  RANGES,
  resolveRange,
  splitValues,
  type ViewState,
} from './query.ts';

interface Props {
  view: ViewState;
  onChange: (view: ViewState) => void;
  searchRef: RefObject<HTMLInputElement | null>;
  onRefresh: () => void;
}

function modeLabel(m: Mode): string {
  return m === 'exact' ? 'is' : m === 'exclude' ? 'is not' : 'contains';
}

function defaultMode(f: FieldDef): Mode {
  // Case-insensitive substring by default where the API has it (what users of KubeSphere were promised).
  return f.fuzzy ? 'fuzzy' : 'exact';
}

function Editor(props: { initial?: Filter; view: ViewState; onDone: (f: Filter | undefined) => void }) {
  const [field, setField] = useState<FieldDef>(props.initial?.field ?? FIELDS[9]);
  const [mode, setMode] = useState<Mode>(props.initial?.mode ?? defaultMode(field));
  const [value, setValue] = useState(props.initial?.values.join(', ') ?? '');
  const [suggest, setSuggest] = useState<string[]>([]);
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => input.current?.focus(), [field]);
  useEffect(() => {
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) props.onDone(props.initial);
    };
    const esc = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onDone(props.initial);
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, []);
  // Top values of the field in the current view, as suggestions.
  useEffect(() => {
    setSuggest([]);
    if (!field.stats) return;
    const ac = new AbortController();
    const others = { ...props.view, filters: props.view.filters.filter((f) => f.field.key !== field.key) };
    const p = apiParams(others, resolveRange(others, Date.now()));
    p.set('by', field.stats);
    p.set('size', '20');
    stats(p, ac.signal).then(
      (s) => setSuggest(s.top.map((t) => t.key).filter(Boolean)),
      () => {},
    );
    return () => ac.abort();
  }, [field.key]);

  const submit = (e: Event) => {
    e.preventDefault();
    const values = splitValues(value);
    props.onDone(values.length ? { field, mode, values } : undefined);
  };

  return (
    <div class="popover editor" ref={box} role="dialog" aria-label="Filter">
      <form onSubmit={submit}>
        <label class="field-label">
          Field
          <select
            value={field.key}
            aria-label="Field"
            onChange={(e) => {
              const f = FIELDS.find((x) => x.key === (e.currentTarget as HTMLSelectElement).value) as FieldDef;
              setField(f);
              setMode(defaultMode(f));
            }}
          >
            {FIELDS.map((f) => (
              <option key={f.key} value={f.key}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <fieldset class="seg">
          <legend class="sr-only">Match</legend>
          {(['fuzzy', 'exact'] as const).map((m) => {
            const available = m === 'exact' ? !!field.exact : !!field.fuzzy;
            return (
              <button
                type="button"
                key={m}
                aria-pressed={mode === m}
                disabled={!available}
                class={mode === m ? 'on' : ''}
                title={m === 'exact' ? 'Whole value, case-sensitive' : 'Substring, case-insensitive'}
                onClick={() => setMode(m)}
              >
                {m === 'exact' ? 'Exact' : 'Contains'}
              </button>
            );
          })}
        </fieldset>
        <label class="field-label">
          Value
          <input
            ref={input}
            aria-label="Value"
            list="filter-suggest"
            value={value}
            placeholder={field.placeholder ?? 'value, another value'}
            onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
          />
          <datalist id="filter-suggest">
            {suggest.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <p class="hint">Separate several values with commas: any of them matches.</p>
        <div class="editor-actions">
          <button type="button" class="btn ghost" onClick={() => props.onDone(props.initial)}>
            Cancel
          </button>
          <button type="submit" class="btn primary">
            {props.initial ? 'Update' : 'Add filter'}
          </button>
        </div>
      </form>
    </div>
  );
}

/** A datetime-local value as epoch ms; NaN when it is no date or outside the years the API and the URL handle. */
function parseLocal(v: string): number {
  const t = parseInputTime(v);
  return Number.isFinite(t) && t >= 0 && t < Date.UTC(10000, 0, 1) ? t : Number.NaN;
}

function TimeRange({ view, onChange }: { view: ViewState; onChange: (v: ViewState) => void }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const w = resolveRange(view, Date.now());
  const toLocal = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? '' : inputTime(ms));
  const [invalid, setInvalid] = useState('');
  const [relative, setRelative] = useState('');
  const [from, setFrom] = useState(toLocal(w.start));
  const [to, setTo] = useState(toLocal(w.end));
  useEffect(() => {
    if (!open) return;
    setInvalid('');
    const r = resolveRange(view, Date.now());
    setFrom(toLocal(r.start));
    setTo(toLocal(r.end));
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  const label =
    view.range === 'all'
      ? 'All time'
      : view.range
        ? (RANGES.find((r) => r.key === view.range)?.label ?? `Last ${view.range}`)
        : `${view.start !== undefined ? formatTime(view.start) : '…'} → ${view.end !== undefined ? formatTime(view.end) : 'now'}`;
  /** Shift by half the span (earlier -1, later 1), or zoom out to twice it (0); never past now. */
  const step = (dir: -1 | 0 | 1) => {
    const now = Date.now();
    const r = resolveRange(view, now);
    const start = r.start ?? now - 7 * 86_400_000;
    const span = Math.max(r.end - start, 1000);
    let [a, b] =
      dir === 0 ? [start - span / 2, r.end + span / 2] : [start + (dir * span) / 2, r.end + (dir * span) / 2];
    // Past now: the same span, ending now.
    if (b > now) [a, b] = [a - (b - now), now];
    set({ start: Math.round(a), end: Math.round(b) });
  };
  const set = (patch: Partial<ViewState>) => {
    onChange({ ...view, range: undefined, start: undefined, end: undefined, ...patch });
    setOpen(false);
  };

  return (
    <div class="time-range" ref={box}>
      <button
        type="button"
        class="btn time-btn"
        aria-haspopup="true"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        data-testid="time-range"
      >
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6.2" fill="none" stroke="currentColor" stroke-width="1.4" />
          <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round" />
        </svg>
        {label}
      </button>
      <span class="range-steps">
        <button
          type="button"
          class="icon-btn"
          aria-label="Earlier"
          title="Earlier by half the range"
          onClick={() => step(-1)}
        >
          ‹
        </button>
        <button type="button" class="icon-btn" aria-label="Zoom out" title="Twice the range" onClick={() => step(0)}>
          −
        </button>
        <button
          type="button"
          class="icon-btn"
          aria-label="Later"
          title="Later by half the range"
          onClick={() => step(1)}
        >
          ›
        </button>
      </span>
      {!view.range || view.range !== DEFAULT_RANGE ? (
        <button
          type="button"
          class="icon-btn"
          title="Back to the last 12 hours"
          onClick={() => set({ range: DEFAULT_RANGE })}
        >
          ×
        </button>
      ) : null}
      {open ? (
        <div class="popover range-pop" role="dialog" aria-label="Time range">
          <ul class="range-list">
            {RANGES.map((r) => (
              <li key={r.key}>
                <button type="button" class={view.range === r.key ? 'on' : ''} onClick={() => set({ range: r.key })}>
                  {r.label}
                </button>
              </li>
            ))}
            <li>
              <button type="button" class={view.range === 'all' ? 'on' : ''} onClick={() => set({ range: 'all' })}>
                All time
              </button>
            </li>
          </ul>
          <form
            class="range-relative"
            onSubmit={(e) => {
              e.preventDefault();
              const v = relative.trim().toLowerCase();
              if (durationMs(v)) set({ range: v });
              else setInvalid('A relative range is a number and a unit: 90m, 36h, 2w.');
            }}
          >
            <label class="field-label">
              Last
              <input
                value={relative}
                placeholder="90m, 36h, 2w"
                aria-label="Custom relative range"
                onInput={(e) => setRelative(e.currentTarget.value)}
              />
            </label>
            <button type="submit" class="btn">
              Apply
            </button>
          </form>
          <p class="muted small">Times in {zoneLabel()}</p>
          <form
            class="range-custom"
            onSubmit={(e) => {
              e.preventDefault();
              const s = from ? parseLocal(from) : undefined;
              const t = to ? parseLocal(to) : undefined;
              if (Number.isNaN(s) || Number.isNaN(t)) setInvalid('Not a valid date and time (years 1970 to 9999).');
              else if (s !== undefined && t !== undefined && s > t) setInvalid('"From" is after "To".');
              else if (s !== undefined || t !== undefined) set({ start: s, end: t });
            }}
          >
            <label class="field-label">
              From
              <input type="datetime-local" step={1} value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
            </label>
            <label class="field-label">
              To
              <input type="datetime-local" step={1} value={to} onInput={(e) => setTo(e.currentTarget.value)} />
            </label>
            {invalid ? (
              <p class="error-text" role="alert">
                {invalid}
              </p>
            ) : null}
            <button type="submit" class="btn primary">
              Apply
            </button>
          </form>
        </div>
      ) : null}
    </div>
  );
}

export function FilterBar({ view, onChange, searchRef, onRefresh }: Props) {
  const [editing, setEditing] = useState<number | 'new' | null>(null);
  const [text, setText] = useState(view.q);
  useEffect(() => setText(view.q), [view.q]);
  // Free text goes to the server a moment after typing stops, not on every key; Enter sends it at once and cancels
  // the pending send. The send reads the view of its own moment (a filter added meanwhile stays).
  const latest = useRef(view);
  latest.current = view;
  const pending = useRef<ReturnType<typeof setTimeout>>(undefined);
  const sendText = (q: string) => {
    clearTimeout(pending.current);
    if (q !== latest.current.q) onChange({ ...latest.current, q });
  };
  useEffect(() => {
    if (text === view.q) return;
    pending.current = setTimeout(() => sendText(text), 350);
    return () => clearTimeout(pending.current);
  }, [text]);

  const done = (index: number | 'new', f: Filter | undefined) => {
    setEditing(null);
    const filters = [...view.filters];
    if (index === 'new') {
      if (f) filters.push(f);
    } else if (f) filters[index] = f;
    else filters.splice(index, 1);
    if (index !== 'new' || f) onChange({ ...view, filters });
  };

  return (
    <div class="filterbar" data-testid="filterbar">
      <div class="search">
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="7" cy="7" r="4.8" fill="none" stroke="currentColor" stroke-width="1.5" />
          <path d="M10.5 10.5L14 14" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
        </svg>
        <input
          ref={searchRef}
          type="search"
          aria-label="Search events"
          aria-describedby="search-scope"
          title={FREE_TEXT.description}
          placeholder="Search events…  ( / )"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') sendText(text);
            if (e.key === 'Escape') e.currentTarget.blur();
          }}
        />
        {/* What free text covers, read with the box (the field table says it, so it stays true). */}
        <span id="search-scope" class="sr-only">
          {FREE_TEXT.description}
        </span>
      </div>
      <div class="chips">
        {view.filters.map((f, i) => (
          <span class="chip-wrap" key={`${f.field.key}-${f.mode}-${i}`}>
            <span class="chip" data-param={paramName(f)}>
              <button type="button" class="chip-body" onClick={() => setEditing(i)} title="Edit filter">
                <span class="chip-field">{f.field.label}</span>
                <span class="chip-op">{modeLabel(f.mode)}</span>
                <span class="chip-val">{f.values.join(' or ')}</span>
              </button>
              <button
                type="button"
                class="chip-x"
                aria-label={`Remove ${f.field.label} filter`}
                onClick={() => done(i, undefined)}
              >
                ×
              </button>
            </span>
            {editing === i ? <Editor initial={f} view={view} onDone={(nf) => done(i, nf)} /> : null}
          </span>
        ))}
        <span class="chip-wrap">
          <button type="button" class="btn add-filter" onClick={() => setEditing('new')} data-testid="add-filter">
            + Filter
          </button>
          {editing === 'new' ? <Editor view={view} onDone={(nf) => done('new', nf)} /> : null}
        </span>
        {view.filters.length > 0 ? (
          <button type="button" class="link-btn" onClick={() => onChange({ ...view, filters: [] })}>
            Clear all
          </button>
        ) : null}
      </div>
      <TimeRange view={view} onChange={onChange} />
      <button type="button" class="btn refresh-btn" title="Refresh (r)" aria-label="Refresh" onClick={onRefresh}>
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path
            d="M13.5 8a5.5 5.5 0 11-1.6-3.9M13.5 2.5v3.2h-3.2"
            fill="none"
            stroke="currentColor"
            stroke-width="1.5"
            stroke-linecap="round"
            stroke-linejoin="round"
          />
        </svg>
      </button>
    </div>
  );
}
