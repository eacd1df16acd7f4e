// What the agent's tests share: a real collector that can be stopped and started again on the same port and data,
// the agent as a real child process (`vigil ship`, killable with SIGKILL), and audit events written the way
// kube-apiserver writes them (Vigil's own log sink, lumberjack rotation).
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.ts';
import { type AuditEvent, formatKubernetesJSON } from '../../src/event/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { waitFor } from '../helpers/net.ts';
import { event } from '../server/fixtures.ts';

const VIGIL = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
export const AGENT_TOKEN = 'agent-token-9d1e';
const ADMIN_TOKEN = 'admin-token-52c7';

/** A collector on a fixed loopback port and data folder, so that it can be stopped and started again. */
export class Collector {
  readonly dir: string;
  readonly port: number;
  private readonly extra: string;
  private server: RunningServer | undefined;

  /** `extra`: more vigil.yaml (top-level sections other than rules, retention and auth). */
  constructor(dir: string, port: number, extra = '') {
    this.dir = dir;
    this.port = port;
    this.extra = extra;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const config = parseConfig(
      `rules: { enabled: false }
retention: 36500d
auth:
  rateLimit: { ingestPerSecond: 0, queryPerSecond: 0 }
  tokens:
    - { name: agent, token: ${AGENT_TOKEN}, role: ingest }
    - { name: admin, token: ${ADMIN_TOKEN}, role: admin }
${this.extra}`,
      'collector.yaml',
      { listen: `127.0.0.1:${this.port}`, data: this.dir },
    );
    this.server = await startServer(config, { logger: false });
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }

  /** Every stored event's auditID (paged through the query API), in stored order. */
  async auditIDs(params = ''): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const q = new URLSearchParams(params);
      q.set('size', '1000');
      q.set('sort', 'asc');
      if (after) q.set('after', after);
      const res = await fetch(`${this.url}/api/v1/events?${q}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      if (res.status !== 200) throw new Error(`query answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { items: AuditEvent[]; next?: string };
      for (const e of body.items) ids.push(e.auditID);
      if (!body.next) return ids;
      after = body.next;
    }
    throw new Error('more than 1000 pages');
  }

  /** Stored events matching the query parameters. */
  async events(params: string): Promise<AuditEvent[]> {
    const res = await fetch(`${this.url}/api/v1/events?size=1000&${params}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    return ((await res.json()) as { items: AuditEvent[] }).items;
  }

  async total(): Promise<number> {
    const res = await fetch(`${this.url}/api/v1/events?size=1`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    return ((await res.json()) as { total: number }).total;
  }
}

/** A `vigil ship` child process; its stderr is kept for the failure message of a test. */
export class Agent {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  log = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[], metricsPort: number) {
    this.metricsUrl = `http://127.0.0.1:${metricsPort}`;
    this.child = spawn(process.execPath, [VIGIL, 'ship', ...args, '--metrics-listen', `127.0.0.1:${metricsPort}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.on('data', (d) => {
      this.log += d;
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    agents.add(this);
  }

  /** Resolves once the agent answers on its metrics listener. */
  async ready(): Promise<void> {
    await waitFor(
      `the agent to listen (${this.log})`,
      async () => (await fetch(`${this.metricsUrl}/healthz`)).ok,
      60_000,
    );
  }

  /** The value of a metric sample, e.g. `vigil_ship_rotations_total{kind="rotated"}` (0 when absent). */
  async metric(sample: string): Promise<number> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.slice(sample.length + 1)) : 0;
  }

  async status(): Promise<{ lagBytes: number; lagEvents: number; shipped: number; collector: string }> {
    return (await fetch(`${this.metricsUrl}/healthz`)).json() as never;
  }

  /** SIGKILL: no chance to save anything. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    agents.delete(this);
  }

  /** SIGTERM, and its exit code. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    const code = await this.exited;
    agents.delete(this);
    return code;
  }
}

const agents = new Set<Agent>();
after(async () => {
  for (const a of agents) await a.kill();
});

/** The agent's flags for a test: quick polls and short pauses, a token, the state in `dir`. */
export function agentArgs(dir: string, collector: Collector, files: string[], extra: string[] = []): string[] {
  const token = path.join(dir, 'agent.token');
  writeFileSync(token, `${AGENT_TOKEN}\n`);
  return [
    ...files.flatMap((f) => ['--file', f]),
    '--to',
    `${collector.url}/audit/webhook/event`,
    '--token-file',
    token,
    '--state',
    path.join(dir, 'state'),
    '--poll-interval',
    '20ms',
    '--backoff',
    '50ms',
    '--backoff-max',
    '300ms',
    '--status-interval',
    '0',
    ...extra,
  ];
}

/** Audit events with audit IDs `<prefix>-<n>`, each a different request, of now (retention keeps them). */
export function events(prefix: string, from: number, n: number): AuditEvent[] {
  const now = new Date().toISOString().replace('Z', '000Z');
  return Array.from({ length: n }, (_, i) =>
    event({
      auditID: `${prefix}-${String(from + i).padStart(5, '0')}`,
      requestURI: `/api/v1/namespaces/default/pods/p-${from + i}`,
      objectRef: { resource: 'pods', namespace: 'default', name: `p-${from + i}` },
      requestReceivedTimestamp: now,
      stageTimestamp: now,
    }),
  );
}

/** The JSON lines kube-apiserver's log backend writes for `events`. */
export function jsonLines(list: AuditEvent[]): string {
  return list.map((e) => `${formatKubernetesJSON(e)}\n`).join('');
}

/** `prefix-00000` … for `n` events. */
export function ids(prefix: string, n: number): string[] {
  return events(prefix, 0, n).map((e) => e.auditID);
}

export { waitFor };
