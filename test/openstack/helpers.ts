// The OpenStack side of the real-producer tests: Debian's Python packages (keystonemiddleware, oslo.messaging, …)
// run by /usr/bin/python3 in processes these helpers start and stop; per-test RabbitMQ names; a collector whose data
// directory outlives a restart.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connect } from 'amqplib';
import { parseConfig } from '../../src/config/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { waitFor } from '../helpers/net.ts';

/** waitFor, typed for checks that answer `undefined` until done: resolves with the first value they give. */
export async function poll<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs?: number,
): Promise<T> {
  return (await waitFor(what, check, timeoutMs)) as T;
}

/** `p`, or a rejection naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const ac = new AbortController();
  const timeout = sleep(ms, undefined, { signal: ac.signal }).then(() => {
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    ac.abort();
    timeout.catch(() => {});
  }
}

/** Debian's interpreter: a virtualenv's or pyenv's python3 does not see the Debian packages. */
export const PYTHON = '/usr/bin/python3';
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const OCTAVIA_AUDIT_MAP = fileURLToPath(
  new URL('../fixtures/openstack/octavia_api_audit_map.conf', import.meta.url),
);
export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** The same broker as oslo.messaging's transport URL. */
export const OSLO_TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/';

const MODULES = [
  'keystonemiddleware.audit',
  'oslo_messaging',
  'oslo_log',
  'oslo_middleware',
  'pycadf',
  'webob',
  'kombu',
  'oslo_config',
];

/** Why the OpenStack tests cannot run on this machine (printed as the skip reason), or undefined when they can. */
export function missingPython(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', `import ${MODULES.join(', ')}`], { encoding: 'utf8', env: pythonEnv() });
  if (r.error)
    return `${PYTHON} cannot run (${r.error.message}): install Debian's python3 and the packages .ci/run lists`;
  if (r.status !== 0) {
    const why = r.stderr.trim().split('\n').at(-1);
    return `${PYTHON} cannot import the OpenStack packages (${why}): apt-get install the python3-* packages .ci/run lists`;
  }
  return undefined;
}

function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
  // A pyenv or virtualenv setting must not redirect Debian's interpreter to other packages.
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  return env;
}

/**
 * One of the Python scripts of this folder, running. It prints JSON lines on stdout (collected in `lines`) and exits
 * when its stdin is closed (`stop()`), so a test process that dies never leaves one behind.
 */
export class PythonProcess {
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;

  constructor(script: string, args: string[]) {
    this.child = spawn(PYTHON, [path.join(HERE, script), ...args], { cwd: HERE, env: pythonEnv() });
    let rest = '';
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
      rest += d;
      for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line.trim()) this.lines.push(JSON.parse(line));
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  /** The first line `pred` accepts, waiting up to `timeoutMs`; fails at once (with stderr) if the process ended. */
  async line(what: string, pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) {
    return poll(
      what,
      () => {
        const l = this.lines.find(pred);
        if (l) return l;
        if (this.exit) throw new Error(`the process ended (${JSON.stringify(this.exit)}); stderr:\n${this.stderr}`);
        return undefined;
      },
      timeoutMs,
    );
  }

  /** Closes stdin and waits (bounded) for the exit; kills it if it does not go. */
  async stop(): Promise<void> {
    if (this.exit) return;
    this.child.stdin.end();
    try {
      await within(this.exited, 10_000, 'the Python process to exit');
    } catch {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** A caller as keystone knows it: the token auth_token validates, and what it sets from it. */
export interface Identity {
  token: string;
  user_id: string;
  user_name: string;
  project_id: string;
  project_name: string;
  roles: string[];
}

export interface OctaviaApi {
  url: string;
  process: PythonProcess;
  /** oslo.log's file: the `log` driver's notifications, and every other line the service logs. */
  logFile: string;
}

/**
 * Starts test/openstack/octavia_api.py configured as an Octavia service would be: notifications with the given
 * oslo.messaging drivers to `exchange` (control_exchange) on `topic`, oslo.log into `<dir>/api.log`.
 */
export async function startOctaviaApi(o: {
  dir: string;
  exchange: string;
  topic: string;
  drivers: ('messagingv2' | 'log')[];
  identities: Identity[];
  /** More lines for the service's configuration file, e.g. an [oslo_messaging_rabbit] section. */
  more?: string[];
}): Promise<OctaviaApi> {
  const logFile = path.join(o.dir, 'api.log');
  const conf = path.join(o.dir, 'api.conf');
  writeFileSync(
    conf,
    [
      '[DEFAULT]',
      `transport_url = ${OSLO_TRANSPORT_URL}`,
      `control_exchange = ${o.exchange}`,
      `log_file = ${logFile}`,
      '[oslo_messaging_notifications]',
      ...o.drivers.map((d) => `driver = ${d}`),
      `topics = ${o.topic}`,
      '[audit]',
      `audit_map_file = ${OCTAVIA_AUDIT_MAP}`,
      ...(o.more ?? []),
      '',
    ].join('\n'),
  );
  const ids = path.join(o.dir, 'identities.json');
  writeFileSync(ids, JSON.stringify(Object.fromEntries(o.identities.map(({ token, ...who }) => [token, who]))));
  const api = new PythonProcess('octavia_api.py', ['--config-file', conf, '--identities', ids]);
  try {
    const l = await api.line('the API to listen', (l) => typeof l.listening === 'string');
    return { url: l.listening as string, process: api, logFile };
  } catch (err) {
    await api.stop();
    throw err;
  }
}

/** Starts test/openstack/notification_listener.py on `exchange`/`topic`; resolves once it consumes. */
export async function startNotificationListener(exchange: string, topic: string): Promise<PythonProcess> {
  const p = new PythonProcess('notification_listener.py', [
    '--url',
    OSLO_TRANSPORT_URL,
    '--exchange',
    exchange,
    '--topic',
    topic,
  ]);
  try {
    await p.line('the listener to consume', (l) => l.ready === true);
    return p;
  } catch (err) {
    await p.stop();
    throw err;
  }
}

/** oslo.messaging's notification priorities (oslo_messaging/notify/dispatcher.py), lower-cased as in routing keys. */
const OSLO_PRIORITIES = ['audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample'];

/** An exchange and topic of this test alone (queue names are global per vhost), and their removal. */
export function brokerNames(): { exchange: string; topic: string; queue: string; remove(): Promise<void> } {
  const id = randomUUID().slice(0, 8);
  const exchange = `vigil-os-${id}`;
  const topic = `vigil-os-${id}`;
  // oslo's rabbit driver declares this queue (named like the routing key) on its first notification.
  const queue = `${topic}.info`;
  return {
    exchange,
    topic,
    queue,
    async remove() {
      const conn = await connect(AMQP_URL);
      try {
        const ch = await conn.createChannel();
        // oslo's listener declares one queue per priority its endpoint takes.
        for (const priority of OSLO_PRIORITIES) await ch.deleteQueue(`${topic}.${priority}`);
        await ch.deleteExchange(exchange);
      } finally {
        await conn.close();
      }
    },
  };
}

/** Parsed JSON the assertions walk. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
export type Json = any;

export interface Collector extends RunningServer {
  /** GET on the query API: the parsed JSON body. */
  get(pathAndQuery: string): Promise<Json>;
}

/** Every event is stored: rules off (Vigil's default KubeSphere rules keep no reads). Collector and import use it. */
export const STORE_ALL = 'rules:\n  enabled: false\n';

/**
 * A collector on a free loopback port storing into `dir` (kept across restarts), consuming `queue` from the
 * passively checked `exchange`, with STORE_ALL.
 */
export async function startCollector(dir: string, amqp: { exchange: string; topic: string; queue: string }) {
  const config = parseConfig(
    `${STORE_ALL}ingest:\n  amqp:\n    - ${JSON.stringify({ url: AMQP_URL, passive: true, ...amqp })}\n`,
    'openstack-test.yaml',
    { listen: '127.0.0.1:0', data: dir },
  );
  const server = await startServer(config, { logger: false });
  try {
    await within(server.amqp[0]!.connected(), 20_000, 'the collector to consume');
  } catch (err) {
    await server.close();
    throw err;
  }
  return Object.assign(server, {
    async get(p: string) {
      const res = await fetch(server.url + p);
      const body = await res.json();
      if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
  }) as Collector;
}
