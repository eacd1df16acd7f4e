// Several sinks as one, as kube-apiserver joins its log and webhook backends: every event goes to each sink;
// a write succeeds when all of them accepted it.
import type { AuditEvent } from '../event/model.ts';
import type { Sink } from './types.ts';

export function union(sinks: Sink[]): Sink {
  if (sinks.length === 1) return sinks[0]!;
  const all = async (f: (s: Sink) => Promise<void>) => {
    const results = await Promise.allSettled(sinks.map(f));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  };
  return {
    write: (events: AuditEvent[]) => all((s) => s.write(events)),
    flush: () => all((s) => s.flush()),
    close: () => all((s) => s.close()),
  };
}
