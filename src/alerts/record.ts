// From a rule's verdict on a stored event to the alert Vigil keeps and sends, labelled as KubeSphere labels it.
import { createHash } from 'node:crypto';
import type { StoredEvent } from '../store/types.ts';
import type { AlertRecord } from './types.ts';

/** What the rule engine decided to alert on for one event. */
export interface RaisedAlert {
  rule: string;
  priority: string;
  message: string;
  /** More labels and annotations from the rule (a Falco rule's tags, output fields, time); Vigil's own win. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRecords(event: StoredEvent, raised: RaisedAlert[], createdAt: number): AlertRecord[] {
  return raised.map((r) => {
    const labels: Record<string, string> = { ...r.labels, alertname: r.rule, alerttype: 'auditing' };
    const set = (k: string, v: string | undefined) => {
      // Alertmanager treats an empty label as absent; leave it out so identical alerts stay identical.
      if (v) labels[k] = v;
    };
    set('namespace', event.objectRef?.namespace);
    set('resource', event.objectRef?.resource);
    set('name', event.objectRef?.name);
    set('user', event.user.username);
    if (event.user.groups?.length) labels.group = JSON.stringify(event.user.groups);
    set('verb', event.verb);
    set('workspace', event.workspace);
    set('severity', r.priority.toLowerCase());
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
      .digest('hex')
      .slice(0, 32);
    const record: AlertRecord = {
      key: `${event.auditID}/${event.stage}/${r.rule}`,
      createdAt,
      rule: r.rule,
      priority: r.priority,
      message: r.message,
      eventId: event.id,
      auditID: event.auditID,
      labels,
      annotations: {
        ...r.annotations,
        message: r.message,
        auditID: event.auditID,
        requestReceivedTimestamp: event.requestReceivedTimestamp,
      },
      fingerprint,
    };
    if (event.workspace) record.workspace = event.workspace;
    if (event.objectRef?.namespace) record.namespace = event.objectRef.namespace;
    return record;
  });
}
