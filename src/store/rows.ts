// What both stores' rows hold the same way: the event's stored JSON and the signed checkpoints.
import type { AuditEvent } from '../event/model.ts';
import type { Checkpoint } from '../integrity/checkpoint.ts';
import type { StoredEvent } from './types.ts';

/** Stored JSON without a stale `id` (an event read back from a store and appended again). */
export function bodyOf(e: AuditEvent): string {
  if ('id' in e) {
    const { id: _id, ...rest } = e as AuditEvent & { id: unknown };
    return JSON.stringify(rest);
  }
  return JSON.stringify(e);
}

/** The stored event with its id first: one parse of the body with the id spliced in. */
export function withId(id: string | number | bigint, body: string): StoredEvent {
  return JSON.parse(body.length > 2 ? `{"id":"${id}",${body.slice(1)}` : `{"id":"${id}"}`) as StoredEvent;
}

/** A `checkpoints` row (both stores' tables have these columns) as a Checkpoint. */
export function rowToCheckpoint(r: Record<string, unknown>): Checkpoint {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    lastSeq: Number(r.last_seq),
    count: Number(r.count),
    head: Buffer.from(r.head as Uint8Array),
    signature: Buffer.from(r.signature as Uint8Array),
    keyId: String(r.key_id),
  };
}
