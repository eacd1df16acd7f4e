// KubeSphere's notification manager as a receiver. It takes what Alertmanager's webhook sends (it sits behind
// Alertmanager at `:19093/api/v2/alerts`), and kube-auditing's `notificationmanager` receiver posts it the same
// shape directly: `{alerts: [{labels, annotations}]}` with the auditing labels, to the receiver's URL as given.
// Vigil sends Alertmanager's webhook payload (version 4) in full, so anything that reads that reads this too.
import { postJSON } from './http.ts';
import type { Alert, Receiver } from './types.ts';

export interface NotificationManagerOptions {
  name: string;
  /** Where notification manager listens, path included: `http://notification-manager-svc.<ns>:19093/api/v2/alerts`. */
  url: string;
  /** Vigil's own address as users reach it: alerts link to their event there (`generatorURL`). */
  externalURL?: string;
  timeoutMs?: number;
  /** PEM certificates to trust for https. */
  ca?: string;
}

/** Go's zero time, which Alertmanager sends as the end of an alert still firing. */
const NO_END = '0001-01-01T00:00:00Z';

/** The labels (or annotations) every alert has with the same value. */
function common(maps: Record<string, string>[]): Record<string, string> {
  const out: Record<string, string> = {};
  const [first, ...rest] = maps;
  for (const [k, v] of Object.entries(first ?? {})) if (rest.every((m) => m[k] === v)) out[k] = v;
  return out;
}

export function notificationManagerReceiver(opts: NotificationManagerOptions): Receiver {
  const base = opts.externalURL?.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    name: opts.name,
    async send(alerts: Alert[]): Promise<void> {
      const body = {
        version: '4',
        groupKey: '{}:{}',
        truncatedAlerts: 0,
        status: 'firing',
        receiver: opts.name,
        groupLabels: {},
        commonLabels: common(alerts.map((a) => a.labels)),
        commonAnnotations: common(alerts.map((a) => a.annotations)),
        externalURL: base ?? '',
        alerts: alerts.map((a) => ({
          status: 'firing',
          labels: a.labels,
          annotations: a.annotations,
          startsAt: new Date(a.createdAt).toISOString(),
          endsAt: NO_END,
          generatorURL: base ? `${base}/api/v1/events/${encodeURIComponent(a.eventId)}` : '',
          fingerprint: a.fingerprint.slice(0, 16),
        })),
      };
      await postJSON(opts.url, JSON.stringify(body), {}, { timeoutMs, ca: opts.ca });
    },
  };
}
