// scratch: load 1M synthetic events as bench/ingest.bench.ts does, kept in /tmp/q1m
import type { AuditEvent } from '../src/event/model.ts';
import { openStore } from '../src/store/index.ts';

const N = 1_000_000;
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
const RESOURCES = ['pods', 'deployments', 'services', 'configmaps', 'secrets', 'nodes', 'namespaces', 'events'];
const T_END = Date.now();
const SPAN = 6 * 86_400_000;
function syntheticEvent(i: number): AuditEvent {
  const t = new Date(T_END - Math.floor((i / N) * SPAN)).toISOString().replace('Z', '000Z');
  const ns = `ns-${i % 200}`;
  return {
    level: 'Metadata',
    auditID: `bench-${i}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/${ns}/${RESOURCES[i % 8]}/obj-${i % 5000}`,
    verb: VERBS[i % 7]!,
    user: { username: `user-${i % 1000}`, groups: ['system:authenticated', `team-${i % 20}`] },
    sourceIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    userAgent: 'kubectl/v1.30.0 (linux/amd64)',
    objectRef: { resource: RESOURCES[i % 8], namespace: ns, name: `obj-${i % 5000}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: i % 50 === 0 ? 403 : 200 },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    workspace: `ws-${i % 20}`,
    source: 'kubernetes',
  } as AuditEvent;
}
const store = await openStore({ type: 'sqlite', path: '/tmp/q1m/vigil.db' });
const t0 = performance.now();
for (let i = 0; i < N; i += 5000) {
  const chunk: AuditEvent[] = [];
  for (let j = i; j < Math.min(N, i + 5000); j++) chunk.push(syntheticEvent(j));
  await store.append(chunk);
}
await store.close();
console.log('loaded', (performance.now() - t0) / 1000, 's; T_END', T_END, 'SPAN', SPAN);
