// The notes API on Express, audited by Vigil: `node examples/express.ts`.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createCapture } from '../src/capture/index.ts';
import { type Note, options, port, sink } from './notes.ts';

const capture = createCapture(await options());
const notes = new Map<string, Note>();
let next = 1;

const app = express();
app.use(capture.express()); // after your authentication middleware, before the routes
app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});
app.get('/notes', (_req, res) => {
  res.json([...notes.values()]);
});
app.post('/notes', express.json(), (req, res) => {
  const note = { id: String(next++), text: String(req.body.text) };
  notes.set(note.id, note);
  res.status(201).json(note);
});
app.get('/notes/:id', (req, res) => {
  const note = notes.get(req.params.id);
  if (note) res.json(note);
  else res.status(404).json({ message: 'no such note' });
});
app.delete('/notes/:id', (req, res) => {
  res.status(notes.delete(req.params.id) ? 204 : 404).end();
});
app.use(capture.expressErrors()); // after the routes: records a thrown error as the Panic stage

const server = app.listen(port, () =>
  process.stderr.write(`listening on http://localhost:${(server.address() as AddressInfo).port}\n`),
);
process.once('SIGTERM', () => server.close(() => capture.close().then(() => sink.close())));
