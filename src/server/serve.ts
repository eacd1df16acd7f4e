// `vigil serve`: opens the store, starts retention and the AMQP sources, listens, and on close drains in-flight
// ingests (HTTP requests and AMQP messages being stored) before closing the store.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyServerOptions } from 'fastify';
import { isLoopback } from '../auth/index.ts';
import { ConfigError, type VigilConfig } from '../config/index.ts';
import { type Forwarding, startForwarding } from '../forward/index.ts';
import { AmqpSource } from '../ingest/amqp.ts';
import { maskKeyOf } from '../integrity/keys.ts';
import { integrityKey, startIntegrity } from '../integrity/serve.ts';
import { openStore, type Retention, startRetention } from '../store/index.ts';
import type { Store } from '../store/types.ts';
import { type App, createApp } from './app.ts';
import { CONSOLE_DIST_DIR, registerConsole } from './console.ts';
import { type Decisions, openDecisions } from './decisions.ts';
import { compileSelect, registerForward, selectSettleMs } from './forward.ts';

export interface RunningServer {
  app: App;
  store: Store;
  amqp: AmqpSource[];
  retention: Retention;
  forwarding: Forwarding;
  /** `http://host:port` actually bound (port 0 resolved). */
  url: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  logger?: FastifyServerOptions['logger'];
  /** Retention step period (default 1 min). */
  retentionIntervalMs?: number;
  /** Clock for retention (tests). */
  now?: () => number;
  heartbeatMs?: number;
  /** The built console served at `/` (default web/dist). */
  consoleDir?: string;
}

/** `host:port`, `:port`, `[v6]:port` → host and port; a bare port listens on loopback (127.0.0.1). */
export function parseListen(listen: string): { host: string; port: number } {
  const text = listen.trim();
  if (/^\d{1,5}$/.test(text) && Number(text) <= 65535) return { host: '127.0.0.1', port: Number(text) };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new ConfigError(`listen: expected host:port, :port or a port, got "${listen}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export async function startServer(config: VigilConfig, o: ServeOptions = {}): Promise<RunningServer> {
  const { host, port } = parseListen(config.listen);
  if (config.auth.tokens.length === 0 && config.auth.clientCerts.length === 0 && !isLoopback(host))
    throw new ConfigError(
      `refusing to listen on ${host}: no auth tokens are configured, so anyone could read and write events; ` +
        'add auth.tokens to the config or listen on a loopback address (127.0.0.1)',
    );
  // PostgreSQL: migrations run at open, under an advisory lock, so collectors starting together migrate once.
  if (config.storage.type === 'sqlite') mkdirSync(path.dirname(path.resolve(config.storage.path)), { recursive: true });
  const signingKey = integrityKey(config);
  const store = await openStore({ ...config.storage, maxHistogramBuckets: config.query.maxHistogramBuckets });
  // Decisions report through the server's logger, which exists only once the app does.
  let app: App | undefined;
  let decisions: Decisions;
  try {
    decisions = await openDecisions(config, {
      info: (obj, msg) => app?.fastify.log.info(obj, msg),
      warn: (obj, msg) => app?.fastify.log.warn(obj, msg),
      error: (obj, msg) => app?.fastify.log.error(obj, msg),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const maskKey = signingKey && maskKeyOf(signingKey);
  app = createApp({ config, store, decisions, logger: o.logger, heartbeatMs: o.heartbeatMs, maskKey });
  registerConsole(app.fastify, { distDir: o.consoleDir ?? CONSOLE_DIST_DIR });
  const log = app.fastify.log;
  for (const w of decisions.warnings) log.warn(w);
  if (!signingKey && config.storage.type === 'postgres')
    log.warn(
      'tamper evidence: no signing key, so no checkpoint is signed (the hash chain is kept); give every collector ' +
        'of this database the same integrity.signingKey (vigil keygen makes one)',
    );
  const integrity = startIntegrity(config, store, signingKey, (err) => log.error({ err }, 'checkpoint failed'));
  await integrity.ready; // the first signature precedes the first event this collector takes
  const retention = startRetention(store, {
    onStep: integrity.now,
    maxAgeMs: config.retention,
    stepLimit: 10_000,
    intervalMs: o.retentionIntervalMs ?? 60_000,
    now: o.now,
    onError: (err) => log.error({ err }, 'retention step failed'),
    onPass: (deleted) => log.info({ deleted }, 'retention pass'),
  });
  let forwarding: Forwarding;
  try {
    const selects = new Map(config.forward.map((c, i) => [c.name, compileSelect(c, i, decisions.alertStore)]));
    forwarding = startForwarding(store, config.forward, {
      registry: app.metrics.registry,
      log,
      select: (c) => selects.get(c.name),
      settleMs: selectSettleMs,
    });
  } catch (err) {
    await retention.stop();
    await decisions.close();
    await integrity.stop();
    await store.close();
    throw err;
  }
  registerForward(app.fastify, { forwarding, auth: app.auth });
  const amqp = config.ingest.amqp.map((c) => new AmqpSource(c, app.ingestor, log));
  let url: string;
  try {
    url = await app.fastify.listen({ host, port });
  } catch (err) {
    await forwarding.stop();
    await retention.stop();
    await decisions.close();
    await integrity.stop();
    await store.close();
    throw err;
  }
  if (!app.auth.enabled) log.warn({ listen: url }, 'no auth tokens configured: open to local callers only (loopback)');
  for (const s of amqp) s.start();
  app.setReady(true);
  log.info(
    {
      listen: url,
      store: config.storage.type === 'sqlite' ? config.storage.path : config.storage.type,
      retentionMs: config.retention,
    },
    'vigil collector ready',
  );

  let closing: Promise<void> | undefined;
  return {
    app,
    store,
    amqp,
    retention,
    forwarding,
    url,
    close() {
      closing ??= (async () => {
        app.setReady(false);
        // Stop taking work, let in-flight ingests commit, then close the store.
        await Promise.all([app.fastify.close(), ...amqp.map((s) => s.stop())]);
        await forwarding.stop();
        await retention.stop();
        await decisions.close();
        // on the store's write connection, after everything it accepted: the last checkpoint covers all of it
        await integrity.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
