// A receiver speaking Falco's own HTTP output: one POST per alert of the JSON Falco writes (`time`, `rule`,
// `priority`, `output`, `output_fields`, `source`, `tags`, `hostname`), so falcosidekick — and whatever else takes
// Falco's http_output — takes Vigil's alerts. An alert a Falco rule raised carries those values in its annotations
// (src/rules/falco/decision.ts); any other alert is described from its labels, as a k8s_audit event would be.
import { hostname } from 'node:os';
import { postJSON } from './http.ts';
import type { Alert, Receiver } from './types.ts';

export interface FalcoReceiverOptions {
  name: string;
  /** falcosidekick's address (it takes Falco's JSON on `/`), or any Falco http_output endpoint. */
  url: string;
  timeoutMs?: number;
  /** PEM certificates to trust for https. */
  ca?: string;
  /** The `hostname` of the alerts (default: this machine's). */
  hostname?: string;
}

/** Falco prints priorities capitalized, INFO as Informational. */
function falcoPriority(p: string): string {
  const up = p.toUpperCase() === 'INFO' ? 'INFORMATIONAL' : p.toUpperCase();
  return up.charAt(0) + up.slice(1).toLowerCase();
}

/** `2018-10-25T13:58:49.730588Z` → `2018-10-25T13:58:49.730588000Z` (Falco's nanoseconds). */
function nanoTime(iso: string | undefined, fallback: number): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso ?? '');
  if (m) return `${m[1]}.${(m[2] ?? '').slice(0, 9).padEnd(9, '0')}Z`;
  return new Date(fallback).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** The body Falco would post for this alert. */
export function falcoAlertJson(a: Alert, host: string): string {
  const n = a.annotations;
  const priority = falcoPriority(a.priority);
  const time = n.falco_time ?? nanoTime(n.requestReceivedTimestamp, a.createdAt);
  const fields =
    n.falco_output_fields ??
    JSON.stringify({
      'ka.user.name': a.labels.user ?? null,
      'ka.verb': a.labels.verb ?? null,
      'ka.target.resource': a.labels.resource ?? null,
      'ka.target.namespace': a.labels.namespace ?? null,
      'ka.target.name': a.labels.name ?? null,
      'ka.auditid': a.auditID,
    });
  const body = {
    time,
    rule: a.rule,
    priority,
    output: n.falco_output ?? `${time.slice(11, -1)}: ${priority} ${a.message}`,
    output_fields: '\u0000',
    source: n.falco_source ?? 'k8s_audit',
    tags: n.falco_tags ? (JSON.parse(n.falco_tags) as string[]) : [],
    hostname: host,
  };
  // The fields are already JSON (with event times as exact 64-bit integers): put them in as they are.
  return JSON.stringify(body).replace('"\\u0000"', () => fields);
}

export function falcoReceiver(opts: FalcoReceiverOptions): Receiver {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const host = opts.hostname ?? hostname();
  return {
    name: opts.name,
    async send(alerts: Alert[]): Promise<void> {
      // Falco posts one alert per request; a failure leaves the batch to be retried whole.
      for (const a of alerts) await postJSON(opts.url, falcoAlertJson(a, host), {}, { timeoutMs, ca: opts.ca });
    },
  };
}
