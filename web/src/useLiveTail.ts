// Live tail: new matching events stream in at the top of the list; the trend's buckets count them too. The stream
// reconnects with a growing back-off while live is on.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type AuditEvent, followStream } from './api.ts';
import { apiParams, type ViewState } from './query.ts';
import { addToTrend } from './trendData.ts';
import type { Events } from './useEvents.ts';

export type LiveState = 'off' | 'connecting' | 'on' | 'error';

export interface LiveTail {
  state: LiveState;
  /** Events held while the reader reads (scrolled down, or the pointer over the list). */
  held: number;
  /** Puts the held events in at the top. */
  release: () => void;
  /** Ids of the events live tail added (marked in the list until the view changes). */
  fresh: Set<string>;
}

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
  /** Whether the reader is reading the list (new events then wait, so nothing moves under them). */
  reading: () => boolean;
}): LiveTail {
  const { live, view, enabled } = opts;
  const [liveState, setLiveState] = useState<LiveState>('off');
  const latest = useRef(opts);
  latest.current = opts;
  const held = useRef<AuditEvent[]>([]);
  const [heldCount, setHeldCount] = useState(0);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  /** Newest first: puts events in at the top of the list, marked fresh. */
  const prepend = (batch: AuditEvent[]) => {
    const { setList } = latest.current.events;
    setList((l) => {
      const seen = new Set(l.items.slice(0, 2000).map((e) => e.id));
      const added = batch.filter((e) => !seen.has(e.id));
      if (added.length === 0) return l;
      latest.current.onPrepend(added.length);
      setFresh((f) => new Set([...f, ...added.map((e) => e.id)]));
      return { ...l, items: added.concat(l.items), total: l.total + added.length };
    });
  };
  const release = () => {
    const batch = held.current;
    held.current = [];
    setHeldCount(0);
    if (batch.length) prepend(batch);
  };
  // A new view starts unmarked, with nothing held.
  useEffect(() => {
    held.current = [];
    setHeldCount(0);
    setFresh(new Set());
  }, [view]);

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
      latest.current.events.setTrendData((t) => (t ? addToTrend(t, batch) : t));
      if (latest.current.reading() || held.current.length) {
        held.current = batch.concat(held.current);
        setHeldCount(held.current.length);
      } else prepend(batch);
    };
    // The last event id seen, across reconnections (the server replays from it).
    const resume: { last?: string } = {};
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
            resume,
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
  return { state: liveState, held: heldCount, release, fresh };
}
