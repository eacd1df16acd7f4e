// The capture middleware over one Auditor: the node:http, Express and Fastify adapters share it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler as ExpressHandler } from 'express';
import type { FastifyPluginCallback } from 'fastify';
import { Auditor } from './auditor.ts';
import { expressErrorMiddleware, expressMiddleware } from './express.ts';
import { fastifyPlugin } from './fastify.ts';
import { type RequestHandler, wrapHandler } from './http.ts';
import type { AuditorOptions } from './types.ts';

export interface CaptureMiddleware {
  /** node:http: wraps a request listener (`http.createServer(capture.wrap(handler))`). */
  wrap<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
    handler: RequestHandler<Req, Res>,
  ): (req: Req, res: Res) => void;
  /** Express/Connect middleware: `app.use(capture.express())` after authentication, before the routes. */
  express(): ExpressHandler;
  /** Express error middleware recording the Panic stage: `app.use(capture.expressErrors())` after the routes. */
  expressErrors(): ErrorRequestHandler;
  /** Fastify plugin (applies to the whole instance): `app.register(capture.fastify())`. */
  fastify(): FastifyPluginCallback;
  /** Waits until every event handed to the sink so far is written. The sink itself stays open (its owner closes it). */
  close(): Promise<void>;
  readonly auditor: Auditor;
}

export function createCapture(options: AuditorOptions): CaptureMiddleware {
  const auditor = new Auditor(options);
  return {
    auditor,
    wrap: (handler) => wrapHandler(auditor, handler),
    express: () => expressMiddleware(auditor),
    expressErrors: () => expressErrorMiddleware(),
    fastify: () => fastifyPlugin(auditor),
    close: () => auditor.flush(),
  };
}
