// The collector's HTTP server: ingest paths, query API, health and metrics, on Fastify with pino logging.
// Built around an open Store so that tests and `vigil serve` assemble it the same way.
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { AuthError, Authenticator, RateLimitError } from '../auth/index.ts';
import type { VigilConfig } from '../config/index.ts';
import { createIngestor, HttpError, type Ingestor, JSON_TYPES, NDJSON_TYPES, registerIngest } from '../ingest/index.ts';
import { type CollectorMetrics, collectorMetrics } from '../metrics/index.ts';
import { registerAlerts } from '../query/alerts.ts';
import { ParamError } from '../query/params.ts';
import { registerQuery } from '../query/routes.ts';
import type { StreamState } from '../query/stream.ts';
import { type Store, StoreUnavailableError } from '../store/types.ts';
import type { Decisions } from './decisions.ts';

export interface AppOptions {
  config: VigilConfig;
  store: Store;
  /** Rules and alerts; absent: every event is stored and no alert is raised. */
  decisions?: Decisions;
  /** pino options or false; default: JSON logs at the config's `log.level`. */
  logger?: FastifyServerOptions['logger'];
  heartbeatMs?: number;
  /** The store's key of masked values' digests (src/integrity maskKeyOf); absent: no digests. */
  maskKey?: Buffer;
  /** Longest wait for in-flight requests at shutdown (default 30 s). */
  drainTimeoutMs?: number;
}

export interface App {
  fastify: FastifyInstance;
  ingestor: Ingestor;
  metrics: CollectorMetrics;
  auth: Authenticator;
  /** False while starting and while draining; `/readyz` answers 503 then. */
  setReady(ready: boolean): void;
  /** Requests being handled now (live tails included). */
  inFlight(): number;
  /** Each open live tail's unsent bytes and skipped events (bounded per stream, src/query/stream.ts). */
  liveTails(): StreamState[];
}

const INGEST_PREFIXES = ['/ingest/', '/audit/'];

/** One log line per request, when it ends, instead of Fastify's two (received, then completed). */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { method: req.method, url: req.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime };
    if (error) req.log.error({ ...line, err: error }, 'request errored');
    else req.log.info(line, 'request');
  }
}

/** Turns any error into `{ error, field? }` with a 4xx status when it is the caller's fault. */
function errorBody(err: FastifyError | Error): { status: number; error: string; field?: string; retryAfter?: number } {
  // The store cannot write now (disk full, I/O error): senders must keep the events and try again later.
  if (err instanceof StoreUnavailableError)
    return { status: 503, error: err.message, retryAfter: err.retryAfterSeconds };
  if (err instanceof RateLimitError) return { status: 429, error: err.message, retryAfter: err.retryAfterSeconds };
  if (err instanceof HttpError) return { status: err.statusCode, error: err.message, field: err.field };
  if (err instanceof ParamError) return { status: 400, error: err.message, field: err.field };
  if (err instanceof AuthError) return { status: err.statusCode, error: err.message };
  if (err.name === 'QueryError') return { status: 400, error: err.message };
  const fe = err as FastifyError;
  if (fe.validation) {
    const v = fe.validation[0]!;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties') {
      const names = fe.validation.map((x) => String((x.params as Record<string, unknown>).additionalProperty));
      return { status: 400, error: `unknown parameter ${names.map((n) => `"${n}"`).join(', ')}`, field: names[0] };
    }
    const field = v.instancePath.replace(/^\//, '') || String(params.missingProperty ?? '');
    return { status: 400, error: `${field} ${v.message}`, field };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        error: `unsupported Content-Type (expected ${[...JSON_TYPES, ...NDJSON_TYPES].join(', ')})`,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, error: fe.message };
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, error: fe.message };
  return { status: 500, error: 'internal error' };
}

export function createApp(o: AppOptions): App {
  const { config, store } = o;
  const tls = config.tls;
  const fastify = (Fastify as (opts: FastifyServerOptions & { https?: object }) => FastifyInstance)({
    // HTTPS; with a client CA, certificates are requested and verified (required with clientAuth: require).
    ...(tls && {
      https: {
        cert: tls.cert,
        key: tls.key,
        ca: tls.clientCA,
        requestCert: tls.clientCA !== undefined,
        rejectUnauthorized: tls.clientAuth === 'require',
      },
    }),
    logger: o.logger ?? { level: config.log.level },
    logController: new OneLinePerRequest(),
    bodyLimit: config.ingest.maxBodyBytes,
    // Closing drains in-flight requests first (preClose below), so what is left to close is idle or a tail.
    forceCloseConnections: true,
    // Unknown query parameters must be reported, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: true } },
  });
  const metrics = collectorMetrics(store);
  const auth = new Authenticator(config.auth.tokens, {
    clientCerts: config.auth.clientCerts,
    rateLimit: config.auth.rateLimit,
  });
  const ingestor = createIngestor(config, store, { decisions: o.decisions, metrics, maskKey: o.maskKey });
  let ready = false;

  // Keep bodies as raw Buffers: the OpenFaaS HMAC is over the exact bytes, and each path parses exactly once.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser([...JSON_TYPES, ...NDJSON_TYPES], { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  fastify.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, error, field, retryAfter } = errorBody(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    if (INGEST_PREFIXES.some((p) => req.url.startsWith(p)))
      ingestor.rejected(req.routeOptions.url ?? req.url, String(status));
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    reply.code(status).send(field === undefined ? { error } : { error, field });
  });
  fastify.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  fastify.get('/healthz', async () => ({ status: 'ok' }));
  fastify.get('/readyz', async (_req, reply) =>
    ready ? { status: 'ready' } : reply.code(503).send({ status: 'not ready' }),
  );
  fastify.get('/metrics', async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics.scrape()),
  );

  registerIngest(fastify, {
    ingestor,
    auth,
    maxBodyBytes: config.ingest.maxBodyBytes,
    openfaasSecret: config.ingest.openfaas?.secret,
  });
  const bounds = { skewMs: o.config.ingest.limits.maxClockSkew };
  const query = registerQuery(fastify, { store, auth, metrics, heartbeatMs: o.heartbeatMs, bounds });
  if (o.decisions) {
    const alerting = o.decisions.engine !== undefined;
    registerAlerts(fastify, { alerts: o.decisions.alertStore, auth, bounds, alerting });
  }
  // In-flight requests, so that shutdown can let ingests commit before connections are closed.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  fastify.addHook('onRequest', async (_req, reply) => {
    inFlight++;
    reply.raw.once('close', () => {
      if (--inFlight === 0) drained?.();
    });
  });
  // Once closing, Fastify answers new requests 503; live tails never end by themselves, so end them, then wait
  // (bounded) for the rest to finish.
  fastify.addHook('preClose', async () => {
    ready = false;
    query.closeStreams();
    if (inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.drainTimeoutMs ?? 30_000);
      drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  });

  return {
    fastify,
    ingestor,
    metrics,
    auth,
    setReady(r) {
      ready = r;
    },
    liveTails: () => query.streams(),
    inFlight: () => inFlight,
  };
}
