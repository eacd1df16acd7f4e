// What a forwarding destination is: something that takes batches of encoded events, in the store's append order, and
// says when it has them. The forwarder (./forwarder.ts) owns the cursor, the retries and the metrics; a destination
// owns only its wire protocol.
import type { StoredEvent } from '../store/types.ts';

/** One event on its way: where it is in the append log, the event, and the event in the destination's format. */
export interface Delivery {
  position: number;
  event: StoredEvent;
  body: Record<string, unknown>;
  /** A later stage replaced the stored event in place: the same event again, with new content. */
  replaced?: true;
}

export interface Destination {
  /**
   * Delivers a batch in order. Resolves once the destination has acknowledged every event (or, for a protocol
   * without acknowledgements, once it has them in hand: see `resendFrom`); throws when it could not, and the
   * forwarder sends the batch again from the cursor (at least once).
   */
  send(batch: Delivery[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A failure the destination reports, with a wait it asked for (HTTP 429/503 Retry-After), and for a protocol without
 * acknowledgements (syslog over TCP) the position from which events already sent may have been lost with the
 * connection: the forwarder resends from there, even if the cursor had moved past it.
 */
export class DestinationError extends Error {
  override name = 'DestinationError';
  readonly retryAfterMs?: number;
  resendFrom?: number;
  constructor(message: string, retryAfterMs?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.retryAfterMs = retryAfterMs;
  }
}

/** Which stored events a destination takes: every one, or a filter on each batch (query parameters, alerts only). */
export type Select = (events: StoredEvent[]) => StoredEvent[] | Promise<StoredEvent[]>;
