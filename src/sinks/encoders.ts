// The event encoders sinks need, injected so that the sinks do not own any wire format. The real
// encoders live in src/event/ (same names); the lead wires them into `defaultEncoders` at merge.
// Object-returning encoders may return either an object or its JSON string: sinks serialise with `toJSON`.
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../event/model.ts';

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

// replaced by src/event encoders when they land: minimal stand-ins, enough for the sinks' own tests.
function stripMeta(e: AuditEvent): Record<string, unknown> {
  const { source: _s, origin: _o, workspace: _w, cluster: _c, devops: _d, ...k8s } = e;
  return k8s;
}

export const defaultEncoders: Encoders = {
  // replaced by src/event encoders when they land
  formatKubernetesJSON: (e) => JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', ...stripMeta(e) }),
  // replaced by src/event encoders when they land
  formatLegacyLine: (e) =>
    `${e.requestReceivedTimestamp} AUDIT: id=${JSON.stringify(e.auditID)} stage=${JSON.stringify(e.stage)} ip=${JSON.stringify(e.sourceIPs?.[0] ?? '<unknown>')} method=${JSON.stringify(e.verb)} user=${JSON.stringify(e.user.username ?? '<none>')} uri=${JSON.stringify(e.requestURI)} response="${e.responseStatus?.code ?? '<deferred>'}"`,
  // replaced by src/event encoders when they land
  encodeCadf: (e) => ({
    typeURI: 'http://schemas.dmtf.org/cloud/audit/1.0/event',
    id: e.auditID,
    eventTime: e.stageTimestamp,
    action: e.verb,
    outcome: (e.responseStatus?.code ?? 0) < 400 ? 'success' : 'failure',
    initiator: { id: e.user.uid ?? e.user.username, name: e.user.username },
    target: { id: e.requestURI },
    requestPath: e.requestURI,
  }),
  // replaced by src/event encoders when they land
  encodeOsloNotification: (e) => ({
    message_id: randomUUID(),
    publisher_id: 'vigil',
    event_type: e.stage === 'RequestReceived' ? 'audit.http.request' : 'audit.http.response',
    priority: 'INFO',
    payload: defaultEncoders.encodeCadf(e),
    timestamp: e.stageTimestamp.replace('T', ' ').replace('Z', ''),
  }),
  // replaced by src/event encoders when they land
  encodeOsloWire: (n) => ({
    'oslo.version': '2.0',
    'oslo.message': JSON.stringify({ ...(n as object), _unique_id: randomUUID().replaceAll('-', '') }),
  }),
  // replaced by src/event encoders when they land
  encodeEventList: (events) => ({
    kind: 'EventList',
    apiVersion: 'audit.k8s.io/v1',
    metadata: {},
    items: events.map(stripMeta),
  }),
  // replaced by src/event encoders when they land
  encodeOpenFaaSEvent: (e) => ({
    actor: e.user.username ? { sub: e.user.uid ?? e.user.username, name: e.user.username } : {},
    path: e.requestURI,
    method: e.verb,
    actions: [],
    response_code: e.responseStatus?.code ?? 0,
    time: e.requestReceivedTimestamp,
  }),
};
