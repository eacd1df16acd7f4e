// The collector's side of forwarding (src/forward): each destination's `select` compiled with the query API's own
// parameters, the forwarders started beside the server, and their status and replay over the API
// (`GET /api/v1/forward`, `POST /api/v1/forward/<name>/reset?since=24h`), which `vigil forward` calls.
import type { FastifyInstance } from 'fastify';
import type { AlertStore } from '../alerts/index.ts';
import type { Authenticator } from '../auth/index.ts';
import { ConfigError, type ForwardConfig, parseDuration } from '../config/index.ts';
import type { Forwarding, Select } from '../forward/index.ts';
import { compileMatcher } from '../query/matches.ts';
import { FILTER_PARAMS, ParamError, parseTime, toEventQuery } from '../query/params.ts';

/** How long an alerts-only destination lets an event sit in the log before deciding: its alerts are raised then. */
export const ALERTS_SETTLE_MS = 2000;

/**
 * A destination's selection: `alerts: true` (events that raised an alert), and/or the query API's filter parameters
 * (`verb_filter: create,delete`, `q: …`), with the API's meaning. Fails with the key at fault.
 */
export function compileSelect(c: ForwardConfig, index: number, alerts?: AlertStore): Select | undefined {
  const sel = c.select;
  if (!sel || Object.keys(sel).length === 0) return undefined;
  const at = (k: string) => `forward[${index}].select.${k}`;
  const params: Record<string, string> = {};
  let alertsOnly = false;
  for (const [k, v] of Object.entries(sel)) {
    if (k === 'alerts') {
      if (v !== 'true' && v !== 'false') throw new ConfigError(`${at(k)}: must be true or false, not "${v}"`);
      alertsOnly = v === 'true';
    } else if (k in FILTER_PARAMS || k === 'q') params[k] = v;
    else
      throw new ConfigError(
        `${at(k)}: not a filter parameter of the query API (known: alerts, q, ${Object.keys(FILTER_PARAMS).join(', ')})`,
      );
  }
  let matches: ((e: Parameters<ReturnType<typeof compileMatcher>>[0]) => boolean) | undefined;
  try {
    matches = Object.keys(params).length ? compileMatcher(toEventQuery(params)) : undefined;
  } catch (err) {
    if (err instanceof ParamError) throw new ConfigError(`${at(err.field)}: ${err.message}`);
    throw err;
  }
  if (alertsOnly && !alerts) throw new ConfigError(`${at('alerts')}: alerts are off here (rules.enabled: false)`);
  return async (events) => {
    const chosen = matches ? events.filter(matches) : events;
    if (!alertsOnly || !alerts) return chosen;
    const raised = await Promise.all(
      chosen.map(async (e) => (await alerts.query({ eventId: e.id, size: 1 })).total > 0),
    );
    return chosen.filter((_, i) => raised[i]);
  };
}

/** Whether a destination's selection needs events to settle first (alerts-only). */
export function selectSettleMs(c: ForwardConfig): number | undefined {
  return c.select?.alerts === 'true' ? ALERTS_SETTLE_MS : undefined;
}

/** `24h` (a duration back from now), Unix seconds or RFC 3339 → epoch ms. */
function sinceOf(v: string): number {
  const d = parseDuration(v);
  if (d !== undefined) return Date.now() - d;
  return parseTime('since', v);
}

export function registerForward(app: FastifyInstance, o: { forwarding: Forwarding; auth: Authenticator }): void {
  app.get('/api/v1/forward', async (req) => {
    o.auth.authorize(req, ['admin'], 'query');
    return { destinations: await o.forwarding.report() };
  });
  app.post<{ Params: { name: string }; Querystring: { since?: string } }>(
    '/api/v1/forward/:name/reset',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['since'],
          properties: { since: { type: 'string', minLength: 1 } },
        },
      },
    },
    async (req, reply) => {
      o.auth.authorize(req, ['admin'], 'query');
      const since = sinceOf(req.query.since!);
      const r = await o.forwarding.reset(req.params.name, since);
      if (!r) return reply.code(404).send({ error: `no forwarding destination named "${req.params.name}"` });
      return { name: req.params.name, since: new Date(since).toISOString(), position: r.position };
    },
  );
}
