// The fixed set of API calls the OpenStack tests make, with what keystonemiddleware must report for each: the
// action and target typeURI worked out by hand from its rules (keystonemiddleware/audit/_api.py) and Octavia's
// audit map, and the status code the API answers. Two users, every verb, a 404, a 409 and an API that raises.
import type { Identity } from './helpers.ts';

/** Two callers in two projects, with Fernet-like tokens (auth_token's identity headers come from these). */
export const USERS = {
  alice: {
    token: `gAAAAABn${'a1'.repeat(60)}Q`,
    user_id: '5f0a3b1c8d2e4f6a9b7c1d3e5f7a9b2c',
    user_name: 'alice',
    project_id: '0c8d6a2e4b1f4e3a8d5c7b9a1e3f5d7b',
    project_name: 'web-team',
    roles: ['member', 'load-balancer_member'],
  },
  bob: {
    token: `gAAAAABn${'b2'.repeat(60)}Q`,
    user_id: '9e4d2c0b8a6f4e2d9c7b5a3f1e0d8c6b',
    user_name: 'bob',
    project_id: 'a7b9c1d3e5f74a6b8c0d2e4f6a8b0c1d',
    project_name: 'db-team',
    roles: ['admin'],
  },
} satisfies Record<string, Identity>;

export type User = keyof typeof USERS;

/** Ids the API hands out, kept for the calls that follow. */
export type Ids = Record<'lb' | 'listener' | 'pool' | 'bobLb', string>;

export interface Step {
  who: User;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
  status: number;
  /** The CADF action keystonemiddleware reports. */
  action: string;
  /** target.typeURI keystonemiddleware reports. */
  typeURI: string;
  /** Keeps an id from the answer. */
  keep?: keyof Ids;
  /** The API raises instead of answering: the client gets the WSGI server's 500, the middleware no response. */
  raises?: true;
}

const LB = 'service/load-balancer';
const MISSING = '3f6c1c2a-0b9e-4d55-9a4e-6f1d2b8c7e90';

export const STEPS: Step[] = [
  { who: 'alice', method: 'GET', path: () => '/', status: 200, action: 'read', typeURI: LB },
  {
    who: 'alice',
    method: 'POST',
    path: () => '/v2/lbaas/loadbalancers',
    body: () => ({ loadbalancer: { name: 'web', vip_subnet_id: 'b1f3c5d7-0000-4000-8000-000000000001' } }),
    status: 201,
    action: 'create',
    typeURI: `${LB}/loadbalancers`,
    keep: 'lb',
  },
  {
    who: 'alice',
    method: 'GET',
    path: () => '/v2/lbaas/loadbalancers',
    status: 200,
    action: 'read/list',
    typeURI: `${LB}/loadbalancers`,
  },
  {
    who: 'alice',
    method: 'GET',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.lb}`,
    status: 200,
    action: 'read',
    typeURI: `${LB}/loadbalancers/loadbalancer`,
  },
  {
    who: 'alice',
    method: 'PUT',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.lb}`,
    body: () => ({ loadbalancer: { description: 'front end' } }),
    status: 200,
    action: 'update',
    typeURI: `${LB}/loadbalancers/loadbalancer`,
  },
  {
    who: 'alice',
    method: 'POST',
    path: () => '/v2/lbaas/listeners',
    body: (ids) => ({ listener: { name: 'http', loadbalancer_id: ids.lb, protocol: 'HTTP', protocol_port: 80 } }),
    status: 201,
    action: 'create',
    typeURI: `${LB}/listeners`,
    keep: 'listener',
  },
  {
    // Octavia's DuplicateListenerEntry: the port is taken on this load balancer.
    who: 'alice',
    method: 'POST',
    path: () => '/v2/lbaas/listeners',
    body: (ids) => ({ listener: { name: 'again', loadbalancer_id: ids.lb, protocol: 'HTTP', protocol_port: 80 } }),
    status: 409,
    action: 'create',
    typeURI: `${LB}/listeners`,
  },
  {
    who: 'alice',
    method: 'PUT',
    path: (ids) => `/v2/lbaas/listeners/${ids.listener}`,
    body: () => ({ listener: { name: 'http-80' } }),
    status: 200,
    action: 'update',
    typeURI: `${LB}/listeners/listener`,
  },
  {
    who: 'alice',
    method: 'POST',
    path: () => '/v2/lbaas/pools',
    body: (ids) => ({ pool: { name: 'web', loadbalancer_id: ids.lb, protocol: 'HTTP', lb_algorithm: 'ROUND_ROBIN' } }),
    status: 201,
    action: 'create',
    typeURI: `${LB}/pools`,
    keep: 'pool',
  },
  {
    who: 'alice',
    method: 'GET',
    path: (ids) => `/v2/lbaas/pools/${ids.pool}`,
    status: 200,
    action: 'read',
    typeURI: `${LB}/pools/pool`,
  },
  {
    // `stats` is a path keyword (value None): GET of a keyword ending is read/list.
    who: 'alice',
    method: 'GET',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.lb}/stats`,
    status: 200,
    action: 'read/list',
    typeURI: `${LB}/loadbalancers/loadbalancer/stats`,
  },
  {
    // The map's custom action.
    who: 'alice',
    method: 'PUT',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.lb}/failover`,
    status: 202,
    action: 'update/failover',
    typeURI: `${LB}/loadbalancers/loadbalancer/failover`,
  },
  {
    who: 'alice',
    method: 'DELETE',
    path: (ids) => `/v2/lbaas/pools/${ids.pool}`,
    status: 204,
    action: 'delete',
    typeURI: `${LB}/pools/pool`,
  },
  {
    who: 'alice',
    method: 'DELETE',
    path: (ids) => `/v2/lbaas/listeners/${ids.listener}`,
    status: 204,
    action: 'delete',
    typeURI: `${LB}/listeners/listener`,
  },
  {
    who: 'alice',
    method: 'DELETE',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.lb}`,
    status: 204,
    action: 'delete',
    typeURI: `${LB}/loadbalancers/loadbalancer`,
  },
  {
    // Gone now.
    who: 'alice',
    method: 'GET',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.lb}`,
    status: 404,
    action: 'read',
    typeURI: `${LB}/loadbalancers/loadbalancer`,
  },
  {
    who: 'bob',
    method: 'GET',
    path: () => '/v2/lbaas/loadbalancers?limit=5&sort=name:asc',
    status: 200,
    action: 'read/list',
    typeURI: `${LB}/loadbalancers`,
  },
  {
    who: 'bob',
    method: 'GET',
    path: () => '/v2/octavia/amphorae',
    status: 500,
    action: 'read/list',
    typeURI: `${LB}/amphorae`,
    raises: true,
  },
  {
    who: 'bob',
    method: 'POST',
    path: () => '/v2/lbaas/loadbalancers',
    body: () => ({ loadbalancer: { name: 'db', vip_subnet_id: 'b1f3c5d7-0000-4000-8000-000000000002' } }),
    status: 201,
    action: 'create',
    typeURI: `${LB}/loadbalancers`,
    keep: 'bobLb',
  },
  {
    who: 'bob',
    method: 'DELETE',
    path: () => `/v2/lbaas/listeners/${MISSING}`,
    status: 404,
    action: 'delete',
    typeURI: `${LB}/listeners/listener`,
  },
  {
    who: 'bob',
    method: 'PUT',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.bobLb}`,
    body: () => ({ loadbalancer: { admin_state_up: false } }),
    status: 200,
    action: 'update',
    typeURI: `${LB}/loadbalancers/loadbalancer`,
  },
  {
    who: 'bob',
    method: 'DELETE',
    path: (ids) => `/v2/lbaas/loadbalancers/${ids.bobLb}`,
    status: 204,
    action: 'delete',
    typeURI: `${LB}/loadbalancers/loadbalancer`,
  },
];

/** The client's User-Agent: it is the initiator's host.agent. */
export const AGENT = 'python-octaviaclient/3.3.0 keystoneauth1/5.1.1 python-requests/2.28.1 CPython/3.11.2';

/** A call as made: the step, its path with the ids filled in, and the status the API answered. */
export interface Made {
  step: Step;
  path: string;
  status: number;
}

/** Makes the steps in order (each waits for the previous answer); fails on an unexpected status. */
export async function makeCalls(api: string, steps: Step[], ids: Partial<Ids>): Promise<Made[]> {
  const made: Made[] = [];
  for (const step of steps) {
    const p = step.path(ids as Ids);
    const body = step.body?.(ids as Ids);
    const res = await fetch(api + p, {
      method: step.method,
      headers: {
        'x-auth-token': USERS[step.who].token,
        'user-agent': AGENT,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== step.status)
      throw new Error(`${step.method} ${p}: expected ${step.status}, got ${res.status} ${text}`);
    // Octavia answers `{"<kind>": {"id": …}}`.
    if (step.keep) ids[step.keep] = (Object.values(JSON.parse(text))[0] as { id: string }).id;
    made.push({ step, path: p, status: res.status });
  }
  return made;
}

/** A call without a token: auth_token answers 401 before the audit filter, so no event may exist for it. */
export async function unauthenticatedCall(api: string): Promise<number> {
  const res = await fetch(`${api}/v2/lbaas/loadbalancers`, { headers: { 'user-agent': AGENT } });
  await res.text();
  return res.status;
}
