// A tiny notes API on bare node:http, audited by Vigil: `node examples/http.ts`, then e.g.
//   curl -H 'X-User: alice' -H 'content-type: application/json' -d '{"text":"hi"}' localhost:8080/notes
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCapture } from '../src/capture/index.ts';
import { type Note, options, port, sink } from './notes.ts';

const capture = createCapture(await options());
const notes = new Map<string, Note>();
let next = 1;

function send(res: ServerResponse, code: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(code).end();
    return;
  }
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const id = path.startsWith('/notes/') ? path.slice('/notes/'.length) : undefined;
  if (path === '/healthz') return send(res, 200, { ok: true });
  if (path === '/notes' && req.method === 'GET') return send(res, 200, [...notes.values()]);
  if (path === '/notes' && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const note = { id: String(next++), text: String(JSON.parse(body).text) };
    notes.set(note.id, note);
    return send(res, 201, note);
  }
  if (id !== undefined && req.method === 'GET')
    return notes.has(id) ? send(res, 200, notes.get(id)) : send(res, 404, { message: 'no such note' });
  if (id !== undefined && req.method === 'DELETE') return send(res, notes.delete(id) ? 204 : 404);
  send(res, 404, { message: 'not found' });
}

const server = createServer(capture.wrap(handler));
server.listen(port, () =>
  process.stderr.write(`listening on http://localhost:${(server.address() as AddressInfo).port}\n`),
);
process.once('SIGTERM', () => server.close(() => capture.close().then(() => sink.close())));
