// The view (what is shown) lives in the URL: read once at load (rewritten to its canonical spelling), pushed on
// every change, and read back on Back/Forward.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { parseView, type ViewState, viewToSearch } from './query.ts';
import { rememberRecent } from './Searches.tsx';

export function useView(): { view: ViewState; navigate: (next: ViewState, replace?: boolean) => void } {
  const [view, setView] = useState<ViewState>(() => {
    const v = parseView(location.search);
    // One spelling per view: the URL is rewritten to the canonical form (same parameters, canonical order).
    history.replaceState(null, '', `${location.pathname}${viewToSearch(v)}`);
    return v;
  });
  const navigate = useCallback((next: ViewState, replace = false) => {
    const search = viewToSearch(next);
    // The same view again (Enter after the search was sent, a chip re-applied): no second entry, no second request.
    if (search === location.search) return;
    const url = `${location.pathname}${search}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    rememberRecent(search);
    setView(next);
  }, []);
  useEffect(() => {
    const pop = () => setView(parseView(location.search));
    addEventListener('popstate', pop);
    return () => removeEventListener('popstate', pop);
  }, []);
  return { view, navigate };
}
