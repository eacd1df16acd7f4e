// What crosses from the SQLite store to its writer (./writer.ts, on a worker thread for a file): appends as jobs of
// events prepared on the caller's thread, their results, and errors in a form that crosses threads.
import type { AuditEvent } from '../../event/model.ts';
import { bodyHash } from '../../integrity/chain.ts';
import { bodyOf } from '../rows.ts';
import { QueryError, receivedMicros } from '../semantics.ts';
import { StoreUnavailableError } from '../types.ts';
import { type BatchTerms, batchTerms } from './schema.ts';

/**
 * An event reduced to what the writer stores: cheap to pass to a worker thread (strings and numbers only). Its
 * dictionary and list values are in its job's BatchTerms.
 */
export interface PreparedEvent {
  /** requestReceivedTimestamp, epoch microseconds. */
  received: number;
  auditID: string;
  code: number | null;
  /** The stored JSON. */
  body: string;
  /** sha256 of `body` for the chain, computed on the caller's thread (the writer thread is the busier one). */
  bodyHash: Uint8Array;
}

export interface WriterJob extends BatchTerms {
  events: PreparedEvent[];
  batchKey?: string | readonly string[];
  collapseStages?: boolean;
}

/** What one job did: `ids[i]` is the stored row of `events[i]` (0 if none), `stored` the indexes written now. */
export interface WriterResult {
  inserted: number;
  duplicates: number;
  ids: number[];
  stored: number[];
}

export type WriterOutcome = { ok: true; result: WriterResult } | { ok: false; error: unknown };

/** Validates an event and reduces it for the writer (on the caller's thread: a bad event fails its own batch). */
export function prepareEvent(e: AuditEvent): PreparedEvent {
  const received = receivedMicros(e);
  if (typeof e.auditID !== 'string' || e.auditID === '')
    throw new QueryError('an event without auditID cannot be stored');
  const code = e.responseStatus?.code;
  const body = bodyOf(e);
  return {
    received,
    auditID: e.auditID,
    code: typeof code === 'number' && Number.isInteger(code) ? code : null,
    body,
    bodyHash: bodyHash(body),
  };
}

/** A batch as the writer takes it: its events validated and prepared, their dictionary values once per batch. */
export function prepareJob(events: readonly AuditEvent[]): WriterJob {
  const prepared = events.map(prepareEvent);
  return { events: prepared, ...batchTerms(events) };
}

/** An error as it crosses from the worker thread: enough to rebuild the contract's error classes. */
export interface WireError {
  name: string;
  message: string;
  reason?: string;
  retryAfterSeconds?: number;
}

export function toWire(err: unknown): WireError {
  const e = err as Partial<StoreUnavailableError>;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.reason === 'string' ? { reason: e.reason } : {}),
    ...(typeof e?.retryAfterSeconds === 'number' ? { retryAfterSeconds: e.retryAfterSeconds } : {}),
  };
}

export function fromWire(w: WireError): Error {
  if (w.name === 'StoreUnavailableError')
    return new StoreUnavailableError(w.message, w.reason ?? 'io', w.retryAfterSeconds);
  if (w.name === 'QueryError') return new QueryError(w.message);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
