// Test helpers: an in-memory sink that can be waited on, and a policy given as a function.
import type { AuditEvent, Level, Stage } from '../../src/event/model.ts';
import type { PolicyDecision, PolicyEvaluator, RequestAttributes } from '../../src/policy/types.ts';

export class CollectingSink {
  readonly events: AuditEvent[] = [];
  fail = false;
  #waiters: { pred: () => boolean; resolve: () => void }[] = [];

  async write(events: AuditEvent[]): Promise<void> {
    if (this.fail) throw new Error('sink is down');
    // Keep a JSON copy: what a real sink would have serialised at this moment.
    for (const e of events) this.events.push(JSON.parse(JSON.stringify(e)));
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }

  of(auditID: string): AuditEvent[] {
    return this.events.filter((e) => e.auditID === auditID);
  }

  /** Resolves once `pred` holds; rejects after `ms` with what was collected, so a missing event fails the test. */
  until(pred: () => boolean, ms = 3000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out; events so far:\n${this.events.map((e) => `${e.auditID} ${e.stage}`).join('\n')}`));
      }, ms);
      this.#waiters.push({
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Waits until the request's last stage (ResponseComplete or Panic) has arrived, then returns its stages. */
  async stages(auditID: string): Promise<AuditEvent[]> {
    await this.until(() => this.of(auditID).some((e) => e.stage === 'ResponseComplete' || e.stage === 'Panic'));
    return this.of(auditID);
  }
}

/** A policy whose level comes from a function of the request attributes (the real checker is src/policy's job). */
export function policyOf(
  levelOf: (attrs: RequestAttributes) => Level | [Level, Stage[]],
  seen: RequestAttributes[] = [],
): PolicyEvaluator {
  return {
    evaluate(attrs: RequestAttributes): PolicyDecision {
      seen.push({ ...attrs });
      const r = levelOf(attrs);
      const [level, omitStages] = Array.isArray(r) ? r : [r, []];
      return { level, omitStages, omitManagedFields: attrs.namespace === 'nomf', rule: level === 'None' ? null : 0 };
    },
  };
}

/** The test policy: the namespace picks the level, so one server covers every level. */
export const byNamespace = policyOf((a) => {
  if (a.path === '/healthz') return 'None';
  switch (a.namespace) {
    case 'req':
      return 'Request';
    case 'full':
    case 'nomf':
      return 'RequestResponse';
    case 'omit':
      return ['Metadata', ['RequestReceived', 'ResponseStarted']];
    default:
      return 'Metadata';
  }
});
