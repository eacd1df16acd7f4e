// The event encoders sinks need, injected so that the sinks own no wire format: the formats live in src/event/.
// Object-returning encoders may return either an object or its JSON string: sinks serialise with `toJSON`.
import {
  type AuditEvent,
  encodeCadf,
  encodeEventList,
  encodeOpenFaaSEvent,
  encodeOsloNotification,
  encodeOsloWire,
  formatKubernetesJSON,
  formatLegacyLine,
} from '../event/index.ts';

export interface Encoders {
  /** One Kubernetes audit.k8s.io/v1 Event as a JSON line (with kind/apiVersion), no trailing newline. */
  formatKubernetesJSON(e: AuditEvent): string;
  /** kube-apiserver's legacy `EventString` line, no trailing newline. */
  formatLegacyLine(e: AuditEvent): string;
  /** The pycadf event dict for an event. */
  encodeCadf(e: AuditEvent): unknown;
  /** The oslo notification message (message_id, publisher_id, event_type, priority, payload, timestamp). */
  encodeOsloNotification(e: AuditEvent): unknown;
  /** The oslo.messaging 2.0 envelope `{"oslo.version":"2.0","oslo.message":"<json>"}` of a notification. */
  encodeOsloWire(n: unknown): unknown;
  /** A Kubernetes audit.k8s.io/v1 EventList (items without kind/apiVersion). */
  encodeEventList(events: AuditEvent[]): unknown;
  /** One OpenFaaS `api_access` event. */
  encodeOpenFaaSEvent(e: AuditEvent): unknown;
}

/** JSON text of an encoder's result (a string is taken as already-encoded JSON). */
export function toJSON(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const defaultEncoders: Encoders = {
  formatKubernetesJSON,
  formatLegacyLine: (e) => formatLegacyLine(e),
  encodeCadf,
  encodeOsloNotification: (e) => encodeOsloNotification(e),
  encodeOsloWire: (n) => encodeOsloWire(n as Parameters<typeof encodeOsloWire>[0]),
  encodeEventList,
  encodeOpenFaaSEvent,
};
