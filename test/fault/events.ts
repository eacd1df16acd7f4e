// Events of the fault tests: auditID encodes the sequence number, so a test can tell which one is missing.
import type { AuditEvent } from '../../src/event/model.ts';

export function faultAuditID(i: number): string {
  return `fa000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

export function faultEvent(i: number): AuditEvent {
  const t = new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + i).toISOString();
  return {
    level: 'Metadata',
    auditID: faultAuditID(i),
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/pods/p${i}`,
    // An update: Vigil's default rules store changes, not reads, and these tests count what is stored.
    verb: 'update',
    user: { username: 'producer', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    objectRef: { resource: 'pods', namespace: 'default', name: `p${i}`, apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    source: 'kubernetes',
  };
}
