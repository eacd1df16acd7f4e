// `vigil ship`: the agent that follows kube-apiserver's audit log files and delivers them to a collector.
import { parseDuration } from '../config/index.ts';
import { MAX_TIMER_MS } from '../config/spec.ts';
import { parseListen } from '../server/index.ts';
import { readTarget, Shipper, StateError, type StatusServer, serveStatus, TargetError } from '../ship/index.ts';
import { CliError, defineCommand } from './command.ts';

export const shipCommand = defineCommand({
  name: ['ship'],
  summary: 'Follow Kubernetes audit log files and deliver their events to a collector',
  usage: `Usage: vigil ship --file PATH [--file PATH…] --to URL
                  [--token-file F | --ca-file F --client-cert F --client-key F] [--cluster NAME]
                  [--state DIR] [--metrics-listen HOST:PORT] [--batch-size 400] [--max-line-bytes 1048576]
                  [--poll-interval 250ms] [--backoff 1s] [--backoff-max 60s] [--status-interval 60s]

Follows each --file (kube-apiserver's --audit-log-path: JSON lines or legacy lines) and its rotated copies, whether
kube-apiserver renames them (audit-<time>.log, maxbackup kept) or logrotate copies and truncates them, and POSTs
the events as Kubernetes EventList batches to --to, the collector's webhook URL (a URL without a path gets
/audit/webhook/event). --ca-file trusts the collector's certificate; --token-file or --client-cert/--client-key
authenticate the agent (role ingest). --cluster sets the cluster of every event that has none (a token
or certificate the collector binds to a cluster overrides it).

Read positions are kept in --state (default ./vigil-ship-state) and move only once the collector acknowledged a
batch: a restart resends at most one batch. While the collector is unreachable the same batch is retried with
doubling pauses (--backoff up to --backoff-max) and the files are the buffer. A partial last line waits for its
newline; a line longer than --max-line-bytes is reported and skipped. A status line (lag in bytes and events) is
logged every --status-interval (0: never); --metrics-listen serves /metrics and /healthz. SIGINT/SIGTERM stop it.
`,
  options: {
    file: { type: 'string', multiple: true },
    to: { type: 'string' },
    'token-file': { type: 'string' },
    'ca-file': { type: 'string' },
    'client-cert': { type: 'string' },
    'client-key': { type: 'string' },
    cluster: { type: 'string' },
    state: { type: 'string' },
    'metrics-listen': { type: 'string' },
    'batch-size': { type: 'string' },
    'max-line-bytes': { type: 'string' },
    'poll-interval': { type: 'string' },
    backoff: { type: 'string' },
    'backoff-max': { type: 'string' },
    'status-interval': { type: 'string' },
  },
  async run({ values }, io) {
    if (!values.file?.length) throw new CliError('--file PATH is required (kube-apiserver --audit-log-path)');
    if (!values.to) throw new CliError('--to URL is required (the collector webhook URL)');
    if (values.cluster === '') throw new CliError('--cluster: empty name');
    const listen = values['metrics-listen'];
    let shipper: Shipper;
    try {
      shipper = new Shipper({
        files: values.file,
        target: readTarget(
          {
            server: values.to,
            caFile: values['ca-file'],
            clientCert: values['client-cert'],
            clientKey: values['client-key'],
            tokenFile: values['token-file'],
          },
          '--to',
        ),
        stateDir: values.state ?? 'vigil-ship-state',
        cluster: values.cluster,
        batchSize: count('--batch-size', values['batch-size'], 1, 10_000),
        maxLineBytes: count('--max-line-bytes', values['max-line-bytes'], 1024, 64 * 1024 * 1024),
        pollMs: duration('--poll-interval', values['poll-interval']),
        backoffMs: duration('--backoff', values.backoff),
        maxBackoffMs: duration('--backoff-max', values['backoff-max']),
        statusMs: values['status-interval'] === '0' ? 0 : duration('--status-interval', values['status-interval']),
      });
    } catch (err) {
      if (err instanceof TargetError) throw new CliError(err.message);
      if (err instanceof StateError) throw new CliError(err.message);
      throw err;
    }
    let status: StatusServer | undefined;
    if (listen !== undefined) {
      let at: { host: string; port: number };
      try {
        at = parseListen(listen);
      } catch (err) {
        throw new CliError(`--metrics-listen: ${(err as Error).message}`);
      }
      status = await serveStatus(shipper, at.host, at.port).catch((err: Error) => {
        throw new CliError(`--metrics-listen ${listen}: ${err.message}`, 1);
      });
      io.stderr.write(`${JSON.stringify({ level: 'info', msg: 'metrics listening', url: status.url })}\n`);
    }
    const running = shipper.start();
    let stop = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = () => resolve();
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    try {
      await Promise.race([running, stopped]);
    } catch (err) {
      throw new CliError(`stopped: ${(err as Error).message}`, 1);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await shipper.close();
      await status?.close();
    }
    return 0;
  },
});

function count(flag: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new CliError(`${flag}: expected an integer ${min}..${max}, not "${v}"`);
  return n;
}

function duration(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  // each becomes a timer, and Node fires a longer one after 1 ms
  if (ms === undefined || ms > MAX_TIMER_MS)
    throw new CliError(`${flag}: expected a duration like 250ms, 5s, 1m (at most 24d), not "${v}"`);
  return ms;
}
