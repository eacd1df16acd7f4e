// A real Vigil collector for the console's browser tests: the collector's app (ingest + query API) on an SQLite
// store in a temporary directory, with the built console registered, listening on a free loopback port.
// Events are seeded the way producers send them: POST /ingest/events.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.ts';
import type { AuditEvent } from '../../src/event/model.ts';
import { createApp } from '../../src/server/app.ts';
import { CONSOLE_DIST_DIR, registerConsole } from '../../src/server/console.ts';
import { openDecisions } from '../../src/server/decisions.ts';
import { openStore } from '../../src/store/index.ts';

export interface VigilServer {
  url: string;
  /** Stores events through the ingest API (as an admin when tokens are configured). */
  ingest(events: AuditEvent[]): Promise<void>;
  close(): Promise<void>;
}

export const ADMIN_TOKEN = 'console-test-admin-token';

/**
 * `tenants`: token → workspaces it may see. With tenants, an admin token is configured too (for ingest).
 * `rules`: the collector's decisions (rules and alerts) as `vigil serve` opens them, with `rules.enabled` so.
 */
export async function startVigil(
  events: AuditEvent[],
  tenants?: Record<string, string[]>,
  opts: { rules?: { enabled: boolean } } = {},
): Promise<VigilServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-'));
  const rules = opts.rules ? `rules:\n  enabled: ${opts.rules.enabled}\n` : '';
  const yaml =
    rules +
    (tenants
      ? [
          'auth:',
          '  tokens:',
          `    - { name: admin, token: ${ADMIN_TOKEN}, role: admin }`,
          ...Object.entries(tenants).map(
            ([token, ws], i) =>
              `    - { name: tenant-${i}, token: ${token}, role: tenant, workspaces: [${ws.join(', ')}] }`,
          ),
        ].join('\n')
      : '');
  const config = parseConfig(yaml, 'console-test.yaml', { listen: '127.0.0.1:0', data: dir });
  const store = await openStore({ type: 'sqlite', path: path.join(dir, 'vigil.db') });
  const quiet = { info() {}, warn() {}, error() {} };
  const decisions = opts.rules ? await openDecisions(config, quiet) : undefined;
  const app = createApp({ config, store, decisions, logger: false, heartbeatMs: 1000 });
  // `vigil serve` registers the console itself once it is wired in; register it here only if it is not.
  if (!app.fastify.hasRoute({ method: 'GET', url: '/' })) registerConsole(app.fastify, { distDir: CONSOLE_DIST_DIR });
  await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  app.setReady(true);
  const url = `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`;
  const ingest = async (batch: AuditEvent[]) => {
    const res = await fetch(`${url}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(tenants ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}) },
      body: JSON.stringify(batch),
    });
    const body = (await res.json()) as { inserted?: number; error?: string };
    if (res.status !== 200 || body.inserted !== batch.length) {
      throw new Error(`ingest: HTTP ${res.status} ${JSON.stringify(body)}`);
    }
  };
  for (let i = 0; i < events.length; i += 500) await ingest(events.slice(i, i + 500));
  return {
    url,
    ingest,
    async close() {
      await app.fastify.close();
      await decisions?.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
