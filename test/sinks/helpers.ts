// Shared test fixtures for the sinks: events, a condition waiter, a capturing logger and a real
// node:http receiver on a free port.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/event/model.ts';
import { Registry } from '../../src/metrics/registry.ts';
import type { SinkLogger } from '../../src/sinks/types.ts';

export function event(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/pods/p${i}`,
    verb: 'get',
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    objectRef: { resource: 'pods', namespace: 'default', name: `p${i}`, apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: '2026-11-23T10:00:00.000000Z',
    stageTimestamp: '2026-11-23T10:00:00.001000Z',
    source: 'vigil',
    ...extra,
  };
}

export function events(from: number, n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, k) => event(from + k));
}

/** Polls `cond` until true; fails after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sinks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function captureLogger(): SinkLogger & {
  lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  };
}

export function registry(): Registry {
  return new Registry();
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

/**
 * A webhook receiver on 127.0.0.1:0. `reply` decides each answer (default 200); every request is
 * recorded with the status it got.
 */
export async function receiver(
  t: { after(fn: () => Promise<void> | void): void },
  reply: (req: Received, n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 }),
) {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks), status: 0 };
      const out = state.reply(r, requests.length);
      r.status = out.status;
      requests.push(r);
      res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
      res.end('{}');
    });
  });
  const state = { reply };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  /** auditIDs of every event in 2xx EventList bodies. */
  const delivered = () =>
    requests
      .filter((r) => r.status >= 200 && r.status < 300)
      .flatMap((r) => (JSON.parse(r.body.toString()) as { items: AuditEvent[] }).items.map((e) => e.auditID));
  return { url: `http://127.0.0.1:${port}/audit`, port, requests, state, server, delivered };
}
