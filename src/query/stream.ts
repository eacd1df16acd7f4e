// The live tail (`GET /api/v1/events/stream`): Server-Sent Events, one per newly stored event the caller may see and
// the filters match, `id:` being the stored event's id (its sequence). Two rules keep it safe and whole:
// - Memory is bounded whatever a client does: a stream holds at most STREAM_BUFFER_BYTES unsent; past that, events
//   are counted instead of queued, and once the client reads again it first gets `event: skipped` with the count
//   (a client that stops reading costs one counter, not a copy of everything stored since).
// - A reconnecting client misses nothing: with `Last-Event-ID` (or `?since_id=`) the stream first replays what was
//   stored after that id (at most REPLAY_LIMIT events looked at; beyond it `event: skipped` says where to resume),
//   then goes live without a gap or a duplicate (it subscribes before reading the store).
import type { ServerResponse } from 'node:http';
import type { Store, StoredEvent } from '../store/types.ts';

/** Unsent bytes a stream may hold (Node's buffer of the socket) before it skips events. */
export const STREAM_BUFFER_BYTES = 1024 * 1024;
/** Stored events a resume looks at, at most, before going live. */
export const REPLAY_LIMIT = 10_000;
const REPLAY_PAGE = 500;

/** What the server holds for one open stream (for /metrics and tests). */
export interface StreamState {
  /** Bytes written to the socket and not yet taken by the client. */
  buffered: number;
  /** Events not sent since the stream opened because the client fell behind. */
  skipped: number;
}

export interface StreamOptions {
  store: Store;
  match: (e: StoredEvent) => boolean;
  /** Replay what was stored after this id first. */
  sinceId?: number;
  heartbeatMs: number;
  /** Called once when the stream ends (client gone, or closeStreams). */
  onEnd: () => void;
  bufferBytes?: number;
}

export interface LiveStream {
  end(): void;
  state(): StreamState;
}

const frame = (e: StoredEvent): string => `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;

/** Streams to `res` (headers not yet sent). */
export function openStream(res: ServerResponse, o: StreamOptions): LiveStream {
  const limit = o.bufferBytes ?? STREAM_BUFFER_BYTES;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  let skipped = 0;
  let unreported = 0;
  let ended = false;
  /** Live events that arrived while the replay ran (bounded as the socket's buffer is). */
  let held: StoredEvent[] | undefined = o.sinceId === undefined ? undefined : [];
  let heldBytes = 0;
  let lastId = o.sinceId ?? 0;

  const room = (bytes: number) => res.writableLength + bytes <= limit;
  const skip = (n: number) => {
    skipped += n;
    unreported += n;
  };
  /** Tells the client how many it missed, once there is room again. */
  const report = () => {
    if (unreported === 0 || ended) return;
    const notice = `event: skipped\ndata: ${JSON.stringify({ skipped: unreported, lastEventId: String(lastId) })}\n\n`;
    if (!room(notice.length)) return;
    unreported = 0;
    res.write(notice);
  };
  const send = (events: StoredEvent[]) => {
    report();
    let chunk = '';
    for (const e of events) {
      if (!o.match(e)) continue;
      // a full stream counts without serializing: a stalled client costs no work per event either
      if (unreported > 0 || !room(chunk.length)) {
        skip(1);
        continue;
      }
      const f = frame(e);
      if (room(chunk.length + f.length)) {
        chunk += f;
        lastId = Math.max(lastId, Number(e.id));
      } else skip(1);
    }
    if (chunk) res.write(chunk);
  };
  const live = (events: StoredEvent[]) => {
    if (ended) return;
    if (!held) return send(events);
    for (const e of events) {
      const size = e.auditID.length + 1024; // an estimate: the frame is made when it is sent
      if (heldBytes + size > limit) skip(1);
      else {
        held.push(e);
        heldBytes += size;
      }
    }
  };
  const unsubscribe = o.store.subscribe(live);
  // Tells the client the subscription is live, so it can rely on seeing every event stored from now on.
  res.write(': subscribed\n\n');
  const beat = setInterval(() => {
    if (room(16)) res.write(': keep-alive\n\n');
  }, o.heartbeatMs);
  res.on('drain', report);

  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(beat);
    unsubscribe();
    o.onEnd();
    if (!res.destroyed) {
      res.end();
      // A tail held its connection to the end: let the socket go too, so that shutdown never waits on it.
      res.socket?.destroySoon();
    }
  };
  res.on('close', end);
  if (o.sinceId !== undefined)
    void replay(o.sinceId).then(
      (replayed) => {
        const rest = (held ?? []).filter((e) => Number(e.id) > replayed);
        held = undefined;
        if (!ended) send(rest);
      },
      () => end(),
    );

  /**
   * Sends what was stored after `after`, paced by the client (never more than the buffer bound at once); resolves
   * with the last id looked at (live events up to it were in the replay).
   */
  async function replay(after: number): Promise<number> {
    let cursor = after;
    for (let looked = 0; looked < REPLAY_LIMIT && !ended; ) {
      const page = await o.store.storedAfter(cursor, Math.min(REPLAY_PAGE, REPLAY_LIMIT - looked));
      if (page.length === 0) return cursor;
      looked += page.length;
      for (const e of page) {
        if (ended) return cursor;
        cursor = Number(e.id);
        if (!o.match(e)) continue;
        const f = frame(e);
        if (!room(f.length)) await new Promise((r) => res.once('drain', r).once('close', r));
        if (ended) return cursor;
        res.write(f);
        lastId = cursor;
      }
      if (page.length < REPLAY_PAGE) return cursor;
    }
    if (ended) return cursor;
    // More was stored than a resume looks at: say where the replay stopped, so the client can query the rest.
    const more = await o.store.storedAfter(cursor, 1);
    if (more.length > 0) {
      lastId = cursor;
      res.write(
        `event: skipped\ndata: ${JSON.stringify({ replayLimit: REPLAY_LIMIT, lastEventId: String(cursor) })}\n\n`,
      );
    }
    return cursor;
  }

  return {
    end,
    state: () => ({ buffered: res.writableLength, skipped }),
  };
}
