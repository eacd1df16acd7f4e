// Test events built in code (no server needed).
import type { AuditEvent } from '../../src/event/model.ts';

/** A canonical event with sensible defaults. */
export function event(over: Partial<AuditEvent> & { auditID: string }): AuditEvent {
  return {
    level: 'Metadata',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'list',
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    objectRef: { resource: 'pods', namespace: 'default' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: '2024-05-01T10:00:00.000000Z',
    stageTimestamp: '2024-05-01T10:00:00.100000Z',
    source: 'kubernetes',
    ...over,
  };
}
