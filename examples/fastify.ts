// The notes API on Fastify, audited by Vigil: `node examples/fastify.ts`.
import Fastify from 'fastify';
import { createCapture } from '../src/capture/index.ts';
import { type Note, options, port, sink } from './notes.ts';

const capture = createCapture(await options());
const notes = new Map<string, Note>();
let next = 1;

const app = Fastify();
await app.register(capture.fastify()); // hooks apply to every route of the app
app.get('/healthz', async () => ({ ok: true }));
app.get('/notes', async () => [...notes.values()]);
app.post<{ Body: { text: string } }>('/notes', async (req, reply) => {
  const note = { id: String(next++), text: String(req.body.text) };
  notes.set(note.id, note);
  return reply.code(201).send(note);
});
app.get<{ Params: { id: string } }>('/notes/:id', async (req, reply) => {
  const note = notes.get(req.params.id);
  return note ?? reply.code(404).send({ message: 'no such note' });
});
app.delete<{ Params: { id: string } }>('/notes/:id', async (req, reply) =>
  reply.code(notes.delete(req.params.id) ? 204 : 404).send(),
);

const address = await app.listen({ port });
process.stderr.write(`listening on ${address}\n`);
process.once('SIGTERM', () =>
  app
    .close()
    .then(() => capture.close())
    .then(() => sink.close()),
);
