// Starts a real collector in-process on a free loopback port with a temporary data directory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.ts';
import { type RunningServer, type ServeOptions, startServer } from '../../src/server/serve.ts';

export { event } from './fixtures.ts';

export const SHARED = new URL('../../../shared/', import.meta.url);
export const sharedPath = (rel: string) => new URL(rel, SHARED);

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  body: any;
  headers: Headers;
}

export interface TestServer extends RunningServer {
  dir: string;
  get(pathAndQuery: string, token?: string): Promise<Reply>;
  post(path: string, body: string | Buffer, headers?: Record<string, string>): Promise<Reply>;
  stop(): Promise<void>;
}

/** `yaml` is extra config; listen and data always point at 127.0.0.1:0 and a fresh temp dir. */
export async function startTestServer(yaml = '', opts: ServeOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-collector-'));
  const config = parseConfig(yaml, 'test.yaml', { listen: '127.0.0.1:0', data: dir });
  const server = await startServer(config, { logger: false, ...opts });
  const call = async (method: string, p: string, body?: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(server.url + p, { method, body, headers });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers } as Reply;
  };
  return Object.assign(server, {
    dir,
    get: (p: string, token?: string) => call('GET', p, undefined, token ? { authorization: `Bearer ${token}` } : {}),
    post: (
      p: string,
      body: string | Buffer,
      headers: Record<string, string> = { 'content-type': 'application/json' },
    ) => call('POST', p, body, headers),
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The 51 real Kubernetes audit events (audit.k8s.io/v1beta1 JSON lines). */
export function falcoEvents(): Record<string, unknown>[] {
  return readFileSync(sharedPath('data/falco-k8saudit-events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** A seed document's text. */
export function seed(name: string): string {
  return readFileSync(sharedPath(`seeds/${name}`), 'utf8');
}

/** The JSON blocks of a seed (fenced or indented `code-block:: json`), parsed, in order. */
export function seedJsonBlocks(name: string): unknown[] {
  const text = seed(name);
  const out: unknown[] = [];
  // Fenced blocks (``` … ```), with an optional "> " quote prefix per line.
  for (const m of text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    const body = m[1]!
      .split('\n')
      .map((l) => l.replace(/^> ?/, ''))
      .join('\n');
    const start = body.search(/^[[{]/m);
    if (start < 0) continue;
    try {
      out.push(JSON.parse(body.slice(start)));
    } catch {}
  }
  // reStructuredText `.. code-block:: json` blocks (indented).
  for (const m of text.matchAll(/\.\. code-block:: json\n\n((?: {2}.*\n|\n)+)/g)) out.push(JSON.parse(m[1]!));
  return out;
}

/** Waits for `cond` to hold, polling, bounded. */
export async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
