// Live tail: new matching events stream in at the top of the list; the trend's buckets count them too. The stream
// reconnects with a growing back-off while live is on.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type AuditEvent, followStream } from './api.ts';
import { apiParams, type ViewState } from './query.ts';
import { addToTrend } from './trendData.ts';
import type { Events } from './useEvents.ts';

export type LiveState = 'off' | 'connecting' | 'on' | 'error';

export function useLiveTail(opts: {
  live: boolean;
  view: ViewState;
  enabled: boolean;
  reconnect: unknown;
  events: Pick<Events, 'setList' | 'setTrendData'>;
  failed: (err: unknown) => boolean;
  /** Called with the number of events added at the top (the selection moves down with its row). */
  onPrepend: (count: number) => void;
  /** The stream is connected: the server is reachable again. */
  onConnected: () => void;
}): LiveState {
  const { live, view, enabled } = opts;
  const [liveState, setLiveState] = useState<LiveState>('off');
  const latest = useRef(opts);
  latest.current = opts;

  useEffect(() => {
    if (!live || !enabled) {
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
      const { setList, setTrendData } = latest.current.events;
      setList((l) => {
        const seen = new Set(l.items.slice(0, 2000).map((e) => e.id));
        const fresh = batch.filter((e) => !seen.has(e.id));
        if (fresh.length === 0) return l;
        latest.current.onPrepend(fresh.length);
        return { ...l, items: fresh.concat(l.items), total: l.total + fresh.length };
      });
      setTrendData((t) => (t ? addToTrend(t, batch) : t));
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
              latest.current.onConnected();
            },
          );
        } catch (err) {
          if (latest.current.failed(err)) return;
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
  }, [live, view, enabled, opts.reconnect]);
  return liveState;
}
