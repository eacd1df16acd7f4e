// Prometheus Alertmanager as a receiver: API v2 `POST /api/v2/alerts`, as KubeSphere's auditing webhook does.
// Alertmanager sets startsAt/endsAt itself and deduplicates alerts by their labels. For a cluster of
// Alertmanagers, configure one receiver per peer: each peer then gets every alert, even after an outage.
import { postJSON } from './http.ts';
import type { Alert, Receiver } from './types.ts';

export interface AlertmanagerOptions {
  name: string;
  /** Base URL of one Alertmanager, e.g. `http://127.0.0.1:9093`. */
  url: string;
  /** Vigil's own address as users reach it: alerts link to their event there (`generatorURL`). */
  externalURL?: string;
  timeoutMs?: number;
  /** PEM certificates to trust for https. */
  ca?: string;
}

export function alertmanagerReceiver(opts: AlertmanagerOptions): Receiver {
  const endpoint = `${opts.url.replace(/\/+$/, '')}/api/v2/alerts`;
  const base = opts.externalURL?.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    name: opts.name,
    async send(alerts: Alert[]): Promise<void> {
      const body = alerts.map((a) => ({
        labels: a.labels,
        annotations: a.annotations,
        ...(base ? { generatorURL: `${base}/api/v1/events/${encodeURIComponent(a.eventId)}` } : {}),
      }));
      await postJSON(endpoint, JSON.stringify(body), {}, { timeoutMs, ca: opts.ca });
    },
  };
}
