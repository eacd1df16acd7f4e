// The HTTP ingest paths. Bodies arrive as raw Buffers (the HMAC is computed over the exact bytes), are parsed
// once, decoded by src/event's converters, and acknowledged only after the store has committed them.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/index.ts';
import {
  checkEventCount,
  type DecodeLimits,
  decodeCadf,
  decodeEventList,
  decodeEvents,
  decodeOpenFaaSEvent,
  EventValidationError,
  resolveLimits,
} from '../event/index.ts';
import type { AuditEvent } from '../event/model.ts';
import type { Ingestor } from './pipeline.ts';

const gunzipAsync = promisify(gunzip);

/** A 4xx answer: `{ error, field? }`. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly field?: string;
  constructor(statusCode: number, message: string, field?: string) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    if (field !== undefined) this.field = field;
  }
}

export const JSON_TYPES = ['application/json'];
export const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json-lines'];

export interface IngestOptions {
  ingestor: Ingestor;
  auth: Authenticator;
  maxBodyBytes: number;
  /** Events per request, field length, nesting depth (defaults: DEFAULT_DECODE_LIMITS). */
  limits?: DecodeLimits;
  openfaasSecret?: string;
}

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The body as text: gunzipped when `Content-Encoding: gzip` (bounded like the raw body), UTF-8 decoded. */
async function bodyText(req: FastifyRequest, maxBytes: number): Promise<string> {
  const raw = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw new HttpError(400, 'empty body');
  const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (enc === 'identity') return raw.toString('utf8');
  if (enc !== 'gzip') throw new HttpError(415, `unsupported Content-Encoding "${enc}" (gzip or identity)`);
  try {
    return (await gunzipAsync(raw, { maxOutputLength: maxBytes })).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new HttpError(413, `body is larger than ${maxBytes} bytes once gunzipped`);
    throw new HttpError(400, `body is not valid gzip: ${(err as Error).message}`);
  }
}

export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `malformed JSON: ${(err as Error).message}`);
  }
}

/** Runs a decoder, turning its validation errors into 400 `{ error, field }`. */
function decoding<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof EventValidationError) throw new HttpError(400, err.message, err.field || undefined);
    throw err;
  }
}

function requireType(req: FastifyRequest, allowed: string[]): void {
  const t = mediaType(req);
  if (!allowed.includes(t))
    throw new HttpError(415, `unsupported Content-Type "${t || '(none)'}" (expected ${allowed.join(' or ')})`);
}

/** `sha256=<hex>` of the raw body, compared in constant time. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerIngest(app: FastifyInstance, o: IngestOptions): void {
  const { ingestor, auth, maxBodyBytes } = o;
  const limits = resolveLimits(o.limits);
  const ingestRoles = ['admin', 'ingest'] as const;
  const bearer = (req: FastifyRequest) => auth.authorize(req, ingestRoles, 'ingest');
  const ok = (reply: FastifyReply, accepted: number, r: { inserted: number; duplicates: number }) =>
    reply.send({ accepted, inserted: r.inserted, duplicates: r.duplicates });

  // Kubernetes audit webhook (EventList, v1/v1beta1) and KubeSphere's {"Items": […]} batches.
  app.post('/audit/webhook/event', async (req, reply) => {
    bearer(req);
    requireType(req, JSON_TYPES);
    const body = parseJsonBody(await bodyText(req, maxBodyBytes));
    const events = decoding(() => decodeEventList(body as object, limits));
    return ok(reply, events.length, await ingestor.ingest('kubernetes', events));
  });

  app.post('/ingest/openfaas', async (req, reply) => {
    const raw = req.body as Buffer;
    if (o.openfaasSecret !== undefined) {
      if (!verifySignature(o.openfaasSecret, raw, req.headers['x-openfaas-signature-256'] as string | undefined))
        throw new HttpError(401, 'missing or invalid X-Openfaas-Signature-256', 'X-Openfaas-Signature-256');
    } else {
      bearer(req);
    }
    requireType(req, JSON_TYPES);
    const kind = req.headers['x-openfaas-event'];
    if (kind !== undefined && kind !== 'api_access')
      throw new HttpError(400, `X-Openfaas-Event "${kind}" is not an auditing event (api_access)`, 'X-Openfaas-Event');
    const body = parseJsonBody(await bodyText(req, maxBodyBytes));
    if (!Array.isArray(body)) throw new HttpError(400, 'an OpenFaaS delivery is a JSON array of events');
    const deliveryId = (req.headers['x-openfaas-delivery'] as string | undefined) || undefined;
    const events = decoding(() => {
      checkEventCount(body.length, limits, '');
      return body.map((obj, index) => {
        try {
          return decodeOpenFaaSEvent(obj, { ...limits, deliveryId, index });
        } catch (err) {
          throw err instanceof EventValidationError ? err.under(`[${index}]`) : err;
        }
      });
    });
    const r = await ingestor.ingest('openfaas', events, deliveryId ? { batchKey: `openfaas:${deliveryId}` } : {});
    return ok(reply, events.length, r);
  });

  // CADF: a bare event, an oslo notification, a 2.0 wire envelope, or an array of these. Request and response
  // notifications of one call collapse into one stored event carrying the response's outcome.
  app.post('/ingest/cadf', async (req, reply) => {
    bearer(req);
    requireType(req, JSON_TYPES);
    const body = parseJsonBody(await bodyText(req, maxBodyBytes));
    const items = Array.isArray(body) ? body : [body];
    const events: AuditEvent[] = decoding(() => {
      checkEventCount(items.length, limits, '');
      return items.map((obj, i) => {
        try {
          return decodeCadf(obj, limits);
        } catch (err) {
          throw err instanceof EventValidationError && Array.isArray(body) ? err.under(`[${i}]`) : err;
        }
      });
    });
    return ok(reply, events.length, await ingestor.ingest('cadf', events, { collapseStages: true }));
  });

  // Vigil's canonical events: a JSON array, or JSON lines.
  app.post('/ingest/events', async (req, reply) => {
    bearer(req);
    requireType(req, [...JSON_TYPES, ...NDJSON_TYPES]);
    const text = await bodyText(req, maxBodyBytes);
    const events = decoding(() => decodeEvents(text, limits));
    return ok(reply, events.length, await ingestor.ingest('events', events));
  });
}
