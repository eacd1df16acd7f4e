// Formats that have no notion of stages carry only the stages their producers emit, so that a request is recorded
// as it would be there: OpenFaaS writes one `api_access` event per request, after the response; keystonemiddleware
// two CADF events per call, on the request and on the response. The stages they lack are dropped here, before
// they are buffered or spooled: RequestReceived (no response code yet) for OpenFaaS, and ResponseStarted (a second
// record of a long-running call) for both.
import type { AuditEvent, Stage } from '../event/model.ts';
import type { Sink } from './types.ts';

/** OpenFaaS `api_access`: the stage that ends a request (ResponseComplete, or Panic when the handler failed). */
export const OPENFAAS_STAGES: readonly Stage[] = ['ResponseComplete', 'Panic'];
/** keystonemiddleware's request and response CADF events. */
export const CADF_STAGES: readonly Stage[] = ['RequestReceived', 'ResponseComplete', 'Panic'];

export function keepStages(sink: Sink, stages: readonly Stage[]): Sink {
  const kept = (e: AuditEvent) => stages.includes(e.stage);
  return {
    write(events) {
      // Most batches need no copy: look first.
      if (events.every(kept)) return sink.write(events);
      const rest = events.filter(kept);
      return rest.length === 0 ? Promise.resolve() : sink.write(rest);
    },
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
}
