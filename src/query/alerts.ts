// `GET /api/v1/alerts`: the alerts Vigil raised, newest first, with the caller's tenant scope applied as for events
// (a tenant sees alerts about events of its workspaces and namespaces only).
import type { FastifyInstance } from 'fastify';
import type { AlertStore } from '../alerts/index.ts';
import type { Authenticator } from '../auth/index.ts';
import { intParam, MAX_OFFSET, type Params, parseTime, type QueryBounds } from './params.ts';

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rule: { type: 'string' },
    priority: { type: 'string' },
    event_id: { type: 'string' },
    start_time: { type: 'string' },
    end_time: { type: 'string' },
    sort: { type: 'string', enum: ['asc', 'desc'] },
    from: { type: 'integer', minimum: 0, maximum: MAX_OFFSET },
    size: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

const list = (v: string | undefined) =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

/** `alerting: false`: rules are off (`rules.enabled: false`), so no alert is raised; the answer says so. */
export function registerAlerts(
  app: FastifyInstance,
  o: { alerts: AlertStore; auth: Authenticator; bounds?: QueryBounds; alerting?: boolean },
): void {
  app.get('/api/v1/alerts', { schema: { querystring: SCHEMA } }, async (req) => {
    const caller = o.auth.authorize(req, ['admin', 'tenant'], 'query');
    const p = req.query as Record<string, string | number | undefined>;
    const time = (name: 'start_time' | 'end_time') =>
      p[name] === undefined ? undefined : parseTime(name, String(p[name]), o.bounds?.skewMs);
    const page = await o.alerts.query({
      rule: list(p.rule as string | undefined),
      priority: list(p.priority as string | undefined),
      eventId: p.event_id as string | undefined,
      start: time('start_time'),
      end: time('end_time'),
      sort: (p.sort as 'asc' | 'desc' | undefined) ?? 'desc',
      from: intParam(p as Params, 'from', 0),
      size: intParam(p as Params, 'size', 50),
      scope: caller.scope,
    });
    // Said only when off, so a console can tell "none raised" from "none can be raised".
    return o.alerting === false ? { ...page, alerting: false } : page;
  });
}
