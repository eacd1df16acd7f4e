// The list and the trend of the view on screen: the first page and the chart load whenever the view changes (or
// on refresh / after sign-in); "load more" continues exactly the query on screen with its cursor.
import { type Dispatch, type StateUpdater, useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type AuditEvent, listEvents } from './api.ts';
import { apiParams, resolveRange, type ViewState, viewToSearch } from './query.ts';
import type { TrendData } from './Trend.tsx';
import { loadTrend } from './trendData.ts';

const PAGE_SIZE = 200;

export interface ListState {
  items: AuditEvent[];
  total: number;
  next?: string;
  loading: boolean;
  error?: string;
  /** The view (its URL search) these items answer; shown as data-key so tests can wait for the right answer. */
  key?: string;
}

export interface TrendState {
  data?: TrendData;
  loading: boolean;
  /** The view (its URL search) the chart answers. */
  key?: string;
}

export interface Events {
  list: ListState;
  setList: Dispatch<StateUpdater<ListState>>;
  trend: TrendState;
  setTrendData: (update: (t: TrendData | undefined) => TrendData | undefined) => void;
  loadMore: () => void;
  fetchingMore: boolean;
  /** The API parameters of the list on screen (exports continue exactly that query). */
  listQuery: { current: URLSearchParams };
}

/**
 * `failed` says whether an error was handled (an abort, or a 401 that asks for sign-in); `onNewView` runs when a new
 * first page is requested (the selection and the detail belong to the previous one); `onError` reports "load more".
 */
export function useEvents(opts: {
  view: ViewState;
  reload: unknown;
  failed: (err: unknown) => boolean;
  onLoaded: () => void;
  onNewView: () => void;
  onError: (message: string) => void;
}): Events {
  const { view } = opts;
  const [list, setList] = useState<ListState>({ items: [], total: 0, loading: true });
  const [trend, setTrend] = useState<TrendState>({ loading: true });
  const listQuery = useRef<URLSearchParams>(new URLSearchParams());
  const loadingMore = useRef(false);
  const [fetchingMore, setFetchingMore] = useState(false);
  const latest = useRef(opts);
  latest.current = opts;

  useEffect(() => {
    const { failed, onLoaded, onNewView } = latest.current;
    const ac = new AbortController();
    const win = resolveRange(view, Date.now());
    const params = apiParams(view, win);
    params.set('sort', view.sort ?? 'desc');
    params.set('size', String(PAGE_SIZE));
    listQuery.current = params;
    const key = viewToSearch(view);
    setList((l) => ({ ...l, loading: true, error: undefined }));
    onNewView();
    listEvents(params, ac.signal).then(
      (page) => {
        onLoaded();
        setList({ items: page.items, total: page.total, next: page.next, loading: false, key });
      },
      (err) => {
        if (!failed(err)) setList({ items: [], total: 0, loading: false, error: String(err.message ?? err), key });
      },
    );
    setTrend((t) => ({ ...t, loading: true }));
    loadTrend(view, win, ac.signal).then(
      (data) => setTrend({ data, loading: false, key }),
      (err) => {
        if (!failed(err)) setTrend({ data: undefined, loading: false, key });
      },
    );
    return () => ac.abort();
  }, [view, opts.reload]);

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
          if (!latest.current.failed(err)) latest.current.onError(`Could not load more: ${err.message ?? err}`);
        },
      )
      .finally(() => {
        loadingMore.current = false;
        setFetchingMore(false);
      });
  }, [list.next, list.loading]);

  const setTrendData = useCallback(
    (update: (t: TrendData | undefined) => TrendData | undefined) => setTrend((t) => ({ ...t, data: update(t.data) })),
    [],
  );
  return { list, setList, trend, setTrendData, loadMore, fetchingMore, listQuery };
}
