// Audit log lines → canonical events, with the decoders the collector uses (src/event): Kubernetes JSON lines and
// kube-apiserver's legacy lines of every version. Before 1.7 a call wrote a request line and a later response-only
// line; the request lines are remembered (a bounded number) so that the response gets its request's data, as it
// does when `vigil import` reads the whole file.
import { type AuditEvent, decodeEvents } from '../event/index.ts';

/**
 * The collector judges an event's time against its own clock and `ingest.limits.maxClockSkew` (a refused one is
 * reported and skipped then); here only a time no collector could accept (past 1970 + a century of skew) is.
 */
const LIMITS = { maxClockSkew: 100 * 365 * 86_400_000 };

/** Pre-1.7 request lines kept waiting for their response line. */
const PENDING_REQUESTS = 10_000;

export class LineDecoder {
  private readonly cluster: string | undefined;
  private readonly requests = new Map<string, string>();

  /** `cluster`: the cluster name every event without one is attributed to (KubeSphere's `Cluster`). */
  constructor(cluster?: string) {
    this.cluster = cluster;
  }

  /** The events of one line (none for a blank one); throws EventValidationError for a line that is not one. */
  decode(text: string): AuditEvent[] {
    if (text.trim() === '') return [];
    let events = decodeEvents(text, LIMITS);
    if (events.length === 1) events = this.pairLegacy(text, events[0]!);
    if (this.cluster) for (const e of events) e.cluster ??= this.cluster;
    return events;
  }

  private pairLegacy(text: string, e: AuditEvent): AuditEvent[] {
    const fields = e.origin?.legacy?.fields;
    if (!Array.isArray(fields) || fields.includes('stage')) return [e];
    if (fields.length === 2 && fields[1] === 'response') {
      const request = this.requests.get(e.auditID);
      if (request === undefined) return [e];
      this.requests.delete(e.auditID);
      return decodeEvents(`${request}\n${text}`).slice(1);
    }
    this.requests.set(e.auditID, text);
    if (this.requests.size > PENDING_REQUESTS) this.requests.delete(this.requests.keys().next().value!);
    return [e];
  }
}
