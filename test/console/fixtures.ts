// Test fixture: deterministic audit events spread over the last 11 hours (inside the console's default 12-hour
// range), across two workspaces, several users, verbs and outcomes, some with request/response bodies.
import type { AuditEvent } from '../../src/event/model.ts';

const USERS = [
  { name: 'admin', groups: ['system:masters', 'system:authenticated'] },
  { name: 'alice', groups: ['team-a', 'system:authenticated'] },
  { name: 'bob.smith', groups: ['team-b', 'system:authenticated'] },
  { name: 'carol', groups: ['team-a', 'system:authenticated'] },
  { name: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
];
const PLACES = [
  { workspace: 'ws-a', namespace: 'team-a' },
  { workspace: 'ws-a', namespace: 'team-a-prod' },
  { workspace: 'ws-b', namespace: 'team-b' },
];
const VERBS = ['create', 'get', 'list', 'update', 'patch', 'delete'];
const RESOURCES = ['pods', 'deployments', 'configmaps', 'secrets', 'services'];
const CODES = [200, 201, 200, 200, 403, 200, 404, 200, 500, 201, 409, 200, 503];
const IPS = ['10.0.0.12', '10.0.0.47', '192.168.99.1', '172.16.4.20'];

/** `count` events, the newest a few minutes before `now`, the oldest about 11 hours before. */
export function fixtureEvents(now: number, count = 120): AuditEvent[] {
  const span = 11 * 3_600_000;
  const out: AuditEvent[] = [];
  for (let i = 0; i < count; i++) {
    const user = USERS[i % USERS.length];
    const place = PLACES[(i * 7) % PLACES.length];
    const verb = VERBS[(i * 5) % VERBS.length];
    const resource = RESOURCES[(i * 3) % RESOURCES.length];
    const code = CODES[i % CODES.length];
    const t = now - 5 * 60_000 - Math.floor((i * span) / count);
    const ts = new Date(t).toISOString().replace('Z', '000Z');
    const name = `${resource.replace(/s$/, '')}-${(i * 37) % 1000}`;
    const full = i % 4 === 0;
    // Every 17th event is a RequestReceived-stage record: no response yet, so no status code.
    const received = i % 17 === 16;
    out.push({
      level: full ? 'RequestResponse' : 'Metadata',
      auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      stage: received ? 'RequestReceived' : 'ResponseComplete',
      requestURI: `/api/v1/namespaces/${place.namespace}/${resource}${verb === 'list' || verb === 'create' ? '' : `/${name}`}`,
      verb,
      user: { username: user.name, groups: user.groups },
      sourceIPs: [IPS[i % IPS.length]],
      userAgent: 'kubectl/v1.31.0 (linux/amd64) kubernetes/abcdef',
      objectRef: {
        resource,
        namespace: place.namespace,
        name: verb === 'list' ? undefined : name,
        apiVersion: 'v1',
        apiGroup: resource === 'deployments' ? 'apps' : undefined,
      },
      responseStatus: received
        ? undefined
        : { code, ...(code >= 400 ? { status: 'Failure', reason: 'Forbidden', message: 'denied' } : {}) },
      requestObject: full ? { kind: 'Pod', apiVersion: 'v1', metadata: { name, labels: { app: 'web' } } } : undefined,
      responseObject: full ? { kind: 'Pod', apiVersion: 'v1', status: { phase: 'Pending' } } : undefined,
      requestReceivedTimestamp: ts,
      stageTimestamp: new Date(t + 12).toISOString().replace('Z', '000Z'),
      annotations: { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow' },
      workspace: place.workspace,
      cluster: i % 5 === 4 ? 'member-1' : 'host',
      source: i % 3 === 0 ? 'kubesphere' : 'kubernetes',
    });
  }
  return out;
}
