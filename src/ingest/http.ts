// The HTTP ingest paths, one route per HTTP entry of the format table. Bodies arrive as raw Buffers (the OpenFaaS
// HMAC is computed over the exact bytes), are gunzipped when asked, decoded by the pipeline with the configured
// limits, and acknowledged only after the store has committed them.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/index.ts';
import { EventValidationError } from '../event/index.ts';
import { type Delivery, FORMATS, type IngestFormat } from './formats.ts';
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

export interface IngestOptions {
  ingestor: Ingestor;
  auth: Authenticator;
  maxBodyBytes: number;
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

/** `sha256=<hex>` of the raw body, compared in constant time. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function deliveryOf(req: FastifyRequest, cluster: string | undefined): Delivery {
  return {
    header(name) {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    },
    cluster,
  };
}

const INGEST_ROLES = ['admin', 'ingest'] as const;

export function registerIngest(app: FastifyInstance, o: IngestOptions): void {
  const { ingestor, auth, maxBodyBytes } = o;
  const ingestText = (format: IngestFormat, text: string, delivery: Delivery) => {
    let events: ReturnType<Ingestor['decode']>;
    try {
      events = ingestor.decode(format, text, delivery);
    } catch (err) {
      if (err instanceof EventValidationError) throw new HttpError(400, err.message, err.field || undefined);
      throw err;
    }
    return ingestor
      .ingest(format, events, delivery)
      .then((r) => ({ accepted: r.accepted, inserted: r.inserted, duplicates: r.duplicates, ignored: r.ignored }));
  };
  const route = (format: IngestFormat) => {
    const http = format.http!;
    app.post(http.path, async (req) => {
      let cluster: string | undefined;
      if (http.signature === 'openfaas' && o.openfaasSecret !== undefined) {
        if (!verifySignature(o.openfaasSecret, req.body as Buffer, req.headers['x-openfaas-signature-256'] as string))
          throw new HttpError(401, 'missing or invalid X-Openfaas-Signature-256', 'X-Openfaas-Signature-256');
      } else {
        cluster = auth.authorize(req, INGEST_ROLES, 'ingest').cluster;
      }
      const type = mediaType(req);
      if (!http.contentTypes.includes(type))
        throw new HttpError(
          415,
          `unsupported Content-Type "${type || '(none)'}" (expected ${http.contentTypes.join(' or ')})`,
        );
      const delivery = deliveryOf(req, cluster);
      // No await while the body's text and events are in scope: the pipeline keeps what it needs of them until the
      // store commits, and a suspended handler would keep them all (see Ingestor's storeBatch).
      return bodyText(req, maxBodyBytes).then((text) => ingestText(format, text, { ...delivery, raw: text }));
    });
  };
  for (const format of Object.values(FORMATS)) if (format.http) route(format);
}
