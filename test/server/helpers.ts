// Starts a real collector in-process on a free loopback port with a temporary data directory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.ts';
import { type RunningServer, type ServeOptions, startServer } from '../../src/server/serve.ts';

export { event } from './fixtures.ts';

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
  // These tests are about ingest and query: every event is stored unless a test configures rules itself
  // (by default Vigil applies KubeSphere's rules, which do not store get/list/watch).
  const text = /^rules:/m.test(yaml) ? yaml : `rules:\n  enabled: false\n${yaml}`;
  const config = parseConfig(text, 'test.yaml', { listen: '127.0.0.1:0', data: dir });
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
  return fixtureText('falco/k8saudit-events.jsonl')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** A file of test/fixtures/ as text. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

/** A JSON file of test/fixtures/, parsed. */
export function fixtureJson(name: string): unknown {
  return JSON.parse(fixtureText(name));
}

/** Waits for `cond` to hold, polling, bounded. */
export async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
