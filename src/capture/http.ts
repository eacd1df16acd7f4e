// node:http adapter: `auditor.wrap(handler)` returns a request listener that audits every request. A handler that
// throws or rejects is recovered as Go's net/http (and so kube-apiserver) does: a Panic event, a 500 answer, and
// the error reported to onError — the server keeps running.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auditor, AuditRecord } from './auditor.ts';

export type RequestHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (req: Req, res: Res) => unknown;

export function wrapHandler<Req extends IncomingMessage, Res extends ServerResponse>(
  auditor: Auditor,
  handler: RequestHandler<Req, Res>,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const rec = auditor.begin(req, res, req);
    const pending = rec?.received();
    if (pending === undefined) {
      run(auditor, handler, req, res, rec);
      return;
    }
    pending.then(
      () => run(auditor, handler, req, res, rec),
      () => rec!.rejected(res),
    );
  };
}

function run<Req extends IncomingMessage, Res extends ServerResponse>(
  auditor: Auditor,
  handler: RequestHandler<Req, Res>,
  req: Req,
  res: Res,
  rec: AuditRecord | null,
): void {
  let result: unknown;
  try {
    result = handler(req, res);
  } catch (err) {
    failed(auditor, rec, res, err);
    return;
  }
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(undefined, (err: unknown) => failed(auditor, rec, res, err));
  }
}

function failed(auditor: Auditor, rec: AuditRecord | null, res: ServerResponse, err: unknown): void {
  rec?.panic(err);
  auditor.onError(err, 'handler');
  if (res.headersSent) {
    res.destroy();
  } else if (!res.writableEnded) {
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end('Internal Server Error\n');
  }
}
