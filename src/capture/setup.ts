// `createAuditor`: the capture middleware from files and sink configurations — the few lines an API server needs.
// It resolves the policy and audit map files, builds the sinks, and owns them: `close()` flushes and closes them.
import { type CaptureConfig, ConfigError, loadConfig } from '../config/index.ts';
import type { Policy, PolicyEvaluator } from '../policy/index.ts';
import { createPolicyEvaluator, loadPolicyFile } from '../policy/index.ts';
import { createSink, type Sink, type SinkConfig, union } from '../sinks/index.ts';
import { type AuditMap, loadAuditMap } from './audit-map.ts';
import { type CaptureMiddleware, createCapture } from './middleware.ts';
import type { AuditorOptions, CaptureSink } from './types.ts';

export interface AuditorSetup extends Omit<AuditorOptions, 'policy' | 'sink' | 'auditMap'> {
  /** A Kubernetes audit `Policy` file, a loaded policy, or an evaluator. */
  policy: string | Policy | PolicyEvaluator;
  /** Sinks to build (log, webhook, amqp, noop); every event goes to each. */
  sinks?: SinkConfig[];
  /** Or a sink of your own (not closed by `close()`). */
  sink?: CaptureSink;
  /** A keystonemiddleware audit map file, or a loaded map. */
  auditMap?: string | AuditMap;
}

/**
 * The same setup from the `capture:` section of a vigil.yaml; fields given here override the file's (functions such
 * as `identify` only exist here).
 */
export interface AuditorConfigSetup extends Partial<AuditorSetup> {
  /** A vigil.yaml path; its `capture:` section is read, paths in it relative to the file. */
  config: string;
}

/** Reads the `capture:` section of a vigil.yaml, its file paths resolved against the file. Throws ConfigError. */
export function loadCaptureConfig(file: string): CaptureConfig {
  const section = loadConfig(file).capture;
  if (!section) throw new ConfigError(`${file}: no capture section`);
  return section;
}

/** The file's section under the fields given in code (an undefined field does not override). */
function fromConfig(setup: AuditorConfigSetup): AuditorSetup {
  const { config, ...overrides } = setup;
  const merged: Record<string, unknown> = { ...loadCaptureConfig(config) };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  if (merged.policy === undefined) throw new ConfigError(`${config}: capture.policy is required`);
  return merged as unknown as AuditorSetup;
}

export interface AuditorHandle extends CaptureMiddleware {
  /**
   * Flushes and closes the sinks built from `sinks` and waits for every event handed to them: delivered, or
   * spooled (or counted as dropped) when a delivery was still retrying.
   */
  close(): Promise<void>;
}

export async function createAuditor(options: AuditorSetup | AuditorConfigSetup): Promise<AuditorHandle> {
  const setup = 'config' in options && options.config !== undefined ? fromConfig(options) : (options as AuditorSetup);
  const { policy, sinks: sinkConfigs, sink: ownSink, auditMap, ...rest } = setup;
  if (!sinkConfigs?.length && !ownSink) throw new TypeError('createAuditor: give `sinks` (configurations) or a `sink`');
  const evaluator =
    typeof policy === 'string'
      ? createPolicyEvaluator(await loadPolicyFile(policy))
      : 'evaluate' in policy
        ? policy
        : createPolicyEvaluator(policy);
  const built: Sink[] = [];
  try {
    for (const c of sinkConfigs ?? []) built.push(await createSink(c));
  } catch (err) {
    await Promise.allSettled(built.map((s) => s.close()));
    throw err;
  }
  const sink = union(ownSink ? [...built, { ...ownSink, flush: async () => {}, close: async () => {} }] : built);
  const capture = createCapture({
    ...rest,
    policy: evaluator,
    sink,
    auditMap: typeof auditMap === 'string' ? loadAuditMap(auditMap) : auditMap,
    // A blocking-strict sink fails the request when RequestReceived cannot be stored, as kube-apiserver does.
    strict: rest.strict ?? (sinkConfigs ?? []).some((c) => 'mode' in c && c.mode === 'blocking-strict'),
  });
  return {
    ...capture,
    async close() {
      // The sinks close while capture waits for its writes in flight: closing cuts a retry backoff short (the
      // event is spooled, or counted as dropped without a spool), where waiting first would sit out the backoff,
      // whose timers do not keep the process alive: it could exit before close() returned, the events in memory.
      await Promise.all([capture.close(), ...built.map((s) => s.close())]);
    },
  };
}
