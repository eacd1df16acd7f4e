// Share and keep: a link to the view (its time range frozen to absolute times if asked, so it shows the same events
// later), saved searches with a name, and the recent ones — kept in this browser (localStorage).
import { useEffect, useRef, useState } from 'preact/hooks';
import { parseView, resolveRange, type ViewState, viewToSearch } from './query.ts';

const SAVED = 'vigil.saved';
const RECENT = 'vigil.recent';
const MAX_RECENT = 10;

interface Saved {
  name: string;
  search: string;
}

function read<T>(key: string): T[] {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/** Records a view's search among the recent ones (newest first, no repeats). */
export function rememberRecent(search: string): void {
  if (!search) return;
  try {
    const recent = [search, ...read<string>(RECENT).filter((s) => s !== search)].slice(0, MAX_RECENT);
    localStorage.setItem(RECENT, JSON.stringify(recent));
  } catch {
    // storage full or refused: nothing is remembered
  }
}

/** The view with its relative range replaced by the absolute times it covers now. */
function frozen(view: ViewState): ViewState {
  if (!view.range) return view;
  const w = resolveRange(view, Date.now());
  return { ...view, range: undefined, start: w.start ?? 0, end: w.end };
}

async function copy(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

function SearchList(props: { items: Saved[]; onOpen: (search: string) => void; onRemove?: (s: Saved) => void }) {
  return (
    <ul class="search-list">
      {props.items.map((s) => (
        <li key={s.name + s.search}>
          <button type="button" class="link-btn" title={s.search} onClick={() => props.onOpen(s.search)}>
            {s.name}
          </button>
          {props.onRemove ? (
            <button
              type="button"
              class="icon-btn"
              aria-label={`Remove saved search ${s.name}`}
              onClick={() => props.onRemove?.(s)}
            >
              ×
            </button>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

export function Searches({ view, onView }: { view: ViewState; onView: (v: ViewState) => void }) {
  const [open, setOpen] = useState(false);
  const [freeze, setFreeze] = useState(false);
  const [copied, setCopied] = useState(false);
  const [name, setName] = useState('');
  const [saved, setSaved] = useState<Saved[]>([]);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    setSaved(read<Saved>(SAVED));
    setCopied(false);
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);
  const link = `${location.origin}${location.pathname}${viewToSearch(freeze ? frozen(view) : view)}`;
  const go = (search: string) => {
    setOpen(false);
    onView(parseView(search));
  };
  const save = (e: Event) => {
    e.preventDefault();
    const search = viewToSearch(view);
    const next = [...saved.filter((s) => s.name !== name.trim()), { name: name.trim(), search }];
    localStorage.setItem(SAVED, JSON.stringify(next));
    setSaved(next);
    setName('');
  };
  const remove = (s: Saved) => {
    const next = saved.filter((x) => x !== s);
    localStorage.setItem(SAVED, JSON.stringify(next));
    setSaved(next);
  };
  const recent = read<string>(RECENT).map((search) => ({ name: decodeURIComponent(search.slice(1)), search }));
  return (
    <div class="menu-wrap" ref={box}>
      <button type="button" class="btn" aria-expanded={open} onClick={() => setOpen(!open)}>
        Share &amp; saved
      </button>
      {open ? (
        <div class="popover menu searches" role="dialog" aria-label="Share and saved searches">
          <h3>Link to this view</h3>
          <label class="check">
            <input type="checkbox" checked={freeze} onChange={() => setFreeze(!freeze)} /> Freeze the time range
          </label>
          <div class="row-inline">
            <input readOnly value={link} aria-label="Link" onFocus={(e) => e.currentTarget.select()} />
            <button type="button" class="btn small" onClick={() => copy(link).then(() => setCopied(true))}>
              {copied ? 'Copied' : 'Copy link'}
            </button>
          </div>
          <h3>Saved searches</h3>
          <form class="row-inline" onSubmit={save}>
            <input
              value={name}
              placeholder="Name this search"
              aria-label="Search name"
              onInput={(e) => setName(e.currentTarget.value)}
            />
            <button type="submit" class="btn small" disabled={!name.trim()}>
              Save
            </button>
          </form>
          {saved.length ? <SearchList items={saved} onOpen={go} onRemove={remove} /> : <p class="hint">None yet.</p>}
          <h3>Recent</h3>
          {recent.length ? <SearchList items={recent} onOpen={go} /> : <p class="hint">None yet.</p>}
        </div>
      ) : null}
    </div>
  );
}
