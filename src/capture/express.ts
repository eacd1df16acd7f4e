// Express/Connect adapter. `express()` is the middleware (place it after authentication, before the routes);
// `expressErrors()` is an error middleware to place after the routes: Express handles a thrown error itself, so
// only an error middleware sees it and can record the Panic stage.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { type Auditor, recordOf } from './auditor.ts';

export function expressMiddleware(auditor: Auditor): RequestHandler {
  return (req, res, next) => {
    const rec = auditor.begin(req, res, req);
    const pending = rec?.received();
    if (pending === undefined) {
      next();
      return;
    }
    pending.then(
      () => next(),
      () => rec!.rejected(res),
    );
  };
}

export function expressErrorMiddleware(): ErrorRequestHandler {
  return (err, req, _res, next) => {
    if (isServerError(err)) recordOf(req)?.panic(err);
    next(err);
  };
}

/** An error the framework answers with 5xx (no status, or ≥ 500) is a panic; a deliberate 4xx error is not. */
export function isServerError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return true;
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : e.status;
  return !(typeof status === 'number' && status >= 400 && status < 500);
}
