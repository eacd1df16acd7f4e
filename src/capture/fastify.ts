// Fastify adapter: a plugin adding an onRequest hook (attributes, policy, RequestReceived) and an onError hook
// (Panic). It skips Fastify's encapsulation (`skip-override`, as fastify-plugin does) so the hooks apply to every
// route of the instance it is registered on. Bodies and the response's end are observed on the raw node objects,
// like the other adapters.
import type { FastifyPluginCallback } from 'fastify';
import { type Auditor, recordOf } from './auditor.ts';
import { isServerError } from './express.ts';

export function fastifyPlugin(auditor: Auditor): FastifyPluginCallback {
  const plugin: FastifyPluginCallback = (fastify, _opts, done) => {
    fastify.addHook('onRequest', (request, reply, next) => {
      const rec = auditor.begin(request.raw, reply.raw, request, reply);
      const pending = rec?.received();
      if (pending === undefined) {
        next();
        return;
      }
      pending.then(
        () => next(),
        () => {
          rec!.done = true;
          reply
            .code(500)
            .type('text/plain; charset=utf-8')
            .send(`Internal Server Error: ${JSON.stringify(rec!.attrs.path)}: failed to store audit event\n`);
        },
      );
    });
    fastify.addHook('onError', (request, _reply, error, next) => {
      if (isServerError(error)) recordOf(request.raw)?.panic(error);
      next();
    });
    done();
  };
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'vigil-capture',
  });
  return plugin;
}
