// The ingest formats: every way events come in, one entry each. An entry says how a delivery's body becomes events
// (its decoder, with the configured limits and each item's errors placed under `[i]`), how the store appends them
// (a call's CADF request and response paired into one event, a delivery stored once), the name its metrics carry, and
// — for the HTTP paths — where it is received. The HTTP routes, the AMQP source and `vigil import` all decode through
// this table and store through one pipeline (pipeline.ts); a new format is its decoder and one entry here.
import { hash } from 'node:crypto';
import {
  type AuditEvent,
  type DecodeLimits,
  decodeCadf,
  decodeEach,
  decodeEventList,
  decodeEvents,
  decodeOpenFaaSEvent,
  EventValidationError,
} from '../event/index.ts';

type Limits = Readonly<Required<DecodeLimits>>;

/** What a format may read of a delivery besides its body: the request's headers (HTTP). */
export interface Delivery {
  header(name: string): string | undefined;
  /** The body as received (HTTP), for formats whose identity is the signed bytes. */
  readonly raw?: string;
  /**
   * The cluster the sender is bound to (its token's or client certificate's `cluster`): every event of the delivery
   * is attributed to it, whatever the event claims, so that one cluster cannot write as another.
   */
  readonly cluster?: string;
}

export const NO_HEADERS: Delivery = { header: () => undefined };

export const JSON_TYPES = ['application/json'] as const;
export const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json-lines'] as const;

export interface IngestFormat {
  /** The way in: the `path` label of the ingest metrics. */
  readonly name: string;
  /** `json`: the body is one JSON document, parsed before `decode`; `text`: `decode` reads the text itself. */
  readonly body: 'json' | 'text';
  /** The body → events; a validation error is an EventValidationError naming the field. */
  decode(body: unknown, limits: Limits, delivery: Delivery): AuditEvent[];
  /**
   * Which events are stages of one call that the store pairs into one event (CADF: the request notification and
   * the response's; the later stage's outcome is kept). Absent: every stage is an event of its own.
   */
  readonly pairs?: (e: AuditEvent) => boolean;
  /** What identifies a delivery the store keeps once, whatever its events (OpenFaaS: its id and its body's hash). */
  batchKey?(delivery: Delivery): string[] | undefined;
  /** Where the collector receives it over HTTP; absent: not an HTTP path. */
  readonly http?: {
    readonly path: string;
    readonly contentTypes: readonly string[];
    /** `openfaas`: with `ingest.openfaas` configured, the body's HMAC replaces the bearer token. */
    readonly signature?: 'openfaas';
  };
}

const always = () => true;

/** Kubernetes audit webhook (EventList v1, v1beta1, v1alpha1) and KubeSphere's `{"Items": […]}` batches. */
const kubernetes: IngestFormat = {
  name: 'kubernetes',
  body: 'json',
  decode: (body, limits) => decodeEventList(body as object, limits),
  http: { path: '/audit/webhook/event', contentTypes: JSON_TYPES },
};

/** OpenFaaS `api_access` deliveries: a JSON array, signed with HMAC-SHA256 when a secret is configured. */
const openfaas: IngestFormat = {
  name: 'openfaas',
  body: 'json',
  decode(body, limits, delivery) {
    const kind = delivery.header('x-openfaas-event');
    if (kind !== undefined && kind !== 'api_access')
      throw new EventValidationError('X-Openfaas-Event', `"${kind}" is not an auditing event (api_access)`);
    if (!Array.isArray(body)) throw new EventValidationError('', 'an OpenFaaS delivery is a JSON array of events');
    const deliveryId = delivery.header('x-openfaas-delivery') || undefined;
    return decodeEach(body, limits, (item, index) => decodeOpenFaaSEvent(item, { ...limits, deliveryId, index }));
  },
  // The delivery id is not signed (the HMAC covers the body only): a captured body replayed with a new id would be
  // new by its id alone, so the signed body's own hash identifies the delivery too.
  batchKey(delivery) {
    const id = delivery.header('x-openfaas-delivery');
    const keys = id ? [`openfaas:${id}`] : [];
    if (delivery.raw !== undefined) keys.push(`openfaas-body:${hash('sha256', delivery.raw)}`);
    return keys.length > 0 ? keys : undefined;
  },
  http: { path: '/ingest/openfaas', contentTypes: JSON_TYPES, signature: 'openfaas' },
};

/** CADF: a bare event, an oslo notification, a 2.0 wire envelope, or an array of these. */
const cadf: IngestFormat = {
  name: 'cadf',
  body: 'json',
  decode: (body, limits) =>
    Array.isArray(body) ? decodeEach(body, limits, (item) => decodeCadf(item, limits)) : [decodeCadf(body, limits)],
  pairs: always,
  http: { path: '/ingest/cadf', contentTypes: JSON_TYPES },
};

/** Vigil's canonical events (and anything `decodeEvents` reads): a JSON array, or JSON lines. */
const events: IngestFormat = {
  name: 'events',
  body: 'text',
  decode: (body, limits) => decodeEvents(body as string, limits),
  http: { path: '/ingest/events', contentTypes: [...JSON_TYPES, ...NDJSON_TYPES] },
};

/** One oslo.messaging notification from RabbitMQ (keystonemiddleware's CADF audit event). */
const amqp: IngestFormat = {
  name: 'amqp',
  body: 'json',
  decode: (body, limits) => [decodeCadf(body, limits)],
  pairs: always,
};

/**
 * An audit log file (`vigil import`): Kubernetes JSON lines or legacy lines, EventLists, CADF logs and oslo log
 * lines, OpenFaaS deliveries, Vigil events. The per-request event count does not bound a file, which is stored in
 * chunks; the field, user agent and depth limits apply to each event as on the collector.
 */
const file: IngestFormat = {
  name: 'import',
  body: 'text',
  decode: (body, limits) => decodeEvents(body as string, { ...limits, maxEvents: Number.POSITIVE_INFINITY }),
  pairs: (e) => e.source === 'cadf',
};

export const FORMATS = { kubernetes, openfaas, cadf, events, amqp, file } as const;
