// Forwarding from the store (docs/forwarding.md): each configured destination reads the store's append log through
// its own durable cursor and receives the events its selection takes, in the chosen output format, at least once.

import { readFileSync } from 'node:fs';
import type { ForwardConfig } from '../config/schema.ts';
import type { Registry } from '../metrics/registry.ts';
import type { Store } from '../store/types.ts';
import { Forwarder, type ForwardLog, type ForwardStatus, forwardMetrics } from './forwarder.ts';
import { HttpDestination } from './http.ts';
import { NatsDestination } from './nats.ts';
import { SyslogDestination } from './syslog.ts';
import type { Destination, Select } from './types.ts';

export { Forwarder, type ForwarderOptions, type ForwardLog, type ForwardStatus, forwardMetrics } from './forwarder.ts';
export { type HttpApi, HttpDestination, type HttpOptions } from './http.ts';
export { NatsDestination, natsMsgId } from './nats.ts';
export { formatSyslog, SD_ID, SyslogDestination, structuredData } from './syslog.ts';
export { type Delivery, type Destination, DestinationError, type Select } from './types.ts';

/** The destination of a configuration entry (`log` hears what a destination refuses for good). */
export function createDestination(c: ForwardConfig, log?: ForwardLog): Destination {
  switch (c.type) {
    case 'http': {
      const d = new HttpDestination({
        name: c.name,
        url: c.url,
        api: c.api,
        format: c.format,
        secret: c.secret,
        token: c.tokenFile ? readFileSync(c.tokenFile, 'utf8').trim() : c.token,
        index: c.index,
        headers: c.headers,
        tls: c.tls,
        timeoutMs: c.timeout,
      });
      d.onRefused = (items) =>
        log?.error({ destination: c.name, items }, 'forwarding: the destination refused events for good; skipped');
      return d;
    }
    case 'syslog':
      return new SyslogDestination({
        url: c.url,
        appName: c.appName,
        hostname: c.hostname,
        facility: c.facility,
        tls: c.tls,
        timeoutMs: c.timeout,
      });
    case 'nats':
      return new NatsDestination({
        servers: c.url,
        subject: c.subject,
        token: c.token,
        user: c.user,
        password: c.password,
        tls: c.tls,
        timeoutMs: c.timeout,
      });
    default:
      throw new Error(`forward: unknown destination type ${(c as { type: string }).type}`);
  }
}

/** Where a destination goes, for status and logs: its URL without credentials. */
export function targetOf(c: ForwardConfig): string {
  const url = Array.isArray(c.url) ? c.url.join(',') : c.url;
  return url.replace(/\/\/[^@/]*@/, '//');
}

export interface Forwarding {
  /** What this collector knows of each destination (counts since it started, its own view of the cursor). */
  status(): ForwardStatus[];
  /**
   * The status with each cursor and the log's head read from the store: right also where another collector drives
   * the destination (PostgreSQL). What `GET /api/v1/forward` and `vigil forward status` show.
   */
  report(): Promise<ForwardStatus[]>;
  /** Moves a destination's cursor to replay from `since` (epoch ms); false when no destination has that name. */
  reset(name: string, since: number): Promise<{ position: number } | undefined>;
  stop(): Promise<void>;
}

export interface ForwardingOptions {
  registry?: Registry;
  log?: ForwardLog;
  /** The selection of each destination, compiled by the caller from its `select` (query parameters, alerts). */
  select?: (c: ForwardConfig) => Select | undefined;
  /** How long entries settle before a destination takes them (alerts-only selections). */
  settleMs?: (c: ForwardConfig) => number | undefined;
  pollMs?: number;
  minBackoffMs?: number;
}

export function startForwarding(store: Store, configs: ForwardConfig[], o: ForwardingOptions = {}): Forwarding {
  const metrics = o.registry ? forwardMetrics(o.registry) : undefined;
  const forwarders = configs.map(
    (c) =>
      new Forwarder(store, {
        name: c.name,
        type: c.type === 'http' ? `http/${c.api ?? 'webhook'}` : c.type,
        target: targetOf(c),
        format: c.format ?? 'kubernetes',
        destination: createDestination(c, o.log),
        select: o.select?.(c),
        settleMs: o.settleMs?.(c),
        batchSize: c.batchSize,
        pollMs: o.pollMs,
        minBackoffMs: o.minBackoffMs,
        log: o.log,
        metrics,
      }),
  );
  for (const f of forwarders) f.start();
  return {
    status: () => forwarders.map((f) => f.status()),
    async report() {
      const [cursors, log] = await Promise.all([store.forwardCursors(), store.readLog(undefined, 0)]);
      return forwarders.map((f) => {
        const s = f.status();
        const position = cursors.find((c) => c.name === s.name)?.position ?? null;
        return { ...s, position, head: log.head, lagEvents: Math.max(0, log.head - (position ?? 0)) };
      });
    },
    async reset(name, since) {
      if (!configs.some((c) => c.name === name)) return undefined;
      const position = await store.logPositionAt(since);
      await store.saveForwardCursor(name, position);
      return { position };
    },
    async stop() {
      await Promise.all(forwarders.map((f) => f.stop()));
    },
  };
}
