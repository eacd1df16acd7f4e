// Shared parts of the examples: the policy, the route map of the notes API, a demo identify, and a log sink
// printing each event as a Kubernetes JSON line on stdout (a file path instead of '-' writes a rotated file).
import { fileURLToPath } from 'node:url';
import type { AuditorOptions, RouteMap } from '../src/capture/index.ts';
import { createPolicyEvaluator, loadPolicyFile } from '../src/policy/index.ts';
import { createSink } from '../src/sinks/index.ts';

/** The notes API is not Kubernetes-shaped, so a route map says which resource each path is. */
export const routes: RouteMap[] = [
  { pattern: '/notes', resource: 'notes' },
  { pattern: '/notes/:id', resource: 'notes', name: ':id' },
];

/** Demo authentication: trust an `X-User` header. A real API reads its session or token here. */
export const identify: AuditorOptions['identify'] = (req) => {
  const user = req.headers['x-user'];
  return typeof user === 'string' ? { username: user, groups: ['notes:users'] } : undefined;
};

export const sink = await createSink({ type: 'log', path: '-' });

export async function options(): Promise<AuditorOptions> {
  const policy = await loadPolicyFile(fileURLToPath(new URL('./policy.yaml', import.meta.url)));
  return { policy: createPolicyEvaluator(policy), sink, routes, identify };
}

/** PORT=0 picks a free port; the address goes to stderr so stdout carries only events. */
export const port = Number(process.env.PORT ?? 8080);

export interface Note {
  id: string;
  text: string;
}
