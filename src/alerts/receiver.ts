// A receiver from its configuration, whichever says where it is: `receivers:` in vigil.yaml or a KubeSphere
// Webhook resource's `spec.receivers`.
import { alertmanagerReceiver } from './alertmanager.ts';
import { falcoReceiver } from './falco.ts';
import { notificationManagerReceiver } from './notification-manager.ts';
import type { Receiver } from './types.ts';
import { webhookReceiver } from './webhook.ts';

export const RECEIVER_KINDS = ['alertmanager', 'webhook', 'notificationmanager', 'falco'] as const;

export interface ReceiverSpec {
  name: string;
  type: (typeof RECEIVER_KINDS)[number];
  url: string;
  /** webhook: Standard Webhooks secret. */
  secret?: string;
  /** Milliseconds per attempt. */
  timeout?: number;
  /** PEM certificates to trust for https. */
  ca?: string;
}

export function receiverFor(c: ReceiverSpec, externalURL: string | undefined): Receiver {
  const common = { name: c.name, url: c.url, timeoutMs: c.timeout, ca: c.ca };
  switch (c.type) {
    case 'alertmanager':
      return alertmanagerReceiver({ ...common, externalURL });
    case 'notificationmanager':
      return notificationManagerReceiver({ ...common, externalURL });
    case 'webhook':
      return webhookReceiver({ ...common, secret: c.secret });
    case 'falco':
      // Falco's own JSON alerts, as falcosidekick takes them.
      return falcoReceiver(common);
  }
}
