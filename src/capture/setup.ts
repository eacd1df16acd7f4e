// `createAuditor`: the capture middleware from files and sink configurations — the few lines an API server needs.
// It resolves the policy and audit map files, builds the sinks, and owns them: `close()` flushes and closes them.
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

export interface AuditorHandle extends CaptureMiddleware {
  /** Waits for the events handed to the sinks, then flushes and closes the sinks built from `sinks`. */
  close(): Promise<void>;
}

export async function createAuditor(setup: AuditorSetup): Promise<AuditorHandle> {
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
      await capture.close();
      await Promise.all(built.map((s) => s.close()));
    },
  };
}
