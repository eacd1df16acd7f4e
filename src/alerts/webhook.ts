// A generic webhook receiver: alerts POSTed as JSON, signed as Vigil's webhook sinks sign (Standard Webhooks:
// HMAC-SHA256 over `id.timestamp.body`), so any Standard Webhooks library can verify them.
import { standardWebhooksKey, standardWebhooksSignature } from '../sinks/sign.ts';
import { postJSON } from './http.ts';
import type { Alert, Receiver } from './types.ts';

export interface WebhookReceiverOptions {
  name: string;
  url: string;
  /** Standard Webhooks secret: `whsec_` + base64 (the prefix is optional). */
  secret?: string;
  timeoutMs?: number;
  /** PEM certificates to trust for https. */
  ca?: string;
  now?: () => number;
}

export function webhookReceiver(opts: WebhookReceiverOptions): Receiver {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? Date.now;
  const key = opts.secret === undefined ? undefined : standardWebhooksKey(opts.secret);
  return {
    name: opts.name,
    async send(alerts: Alert[]): Promise<void> {
      const body = JSON.stringify({ kind: 'AlertList', apiVersion: 'vigil.dev/v1', items: alerts });
      // The id is stable across retries of the same alerts, so the receiver can deduplicate.
      const id = `alerts_${alerts.map((a) => a.id).join('-')}`.slice(0, 200);
      const headers: Record<string, string> = { 'webhook-id': id };
      if (key) {
        const ts = Math.floor(now() / 1000);
        headers['webhook-timestamp'] = String(ts);
        headers['webhook-signature'] = standardWebhooksSignature(key, id, ts, body);
      }
      await postJSON(opts.url, body, headers, { timeoutMs, ca: opts.ca });
    },
  };
}
