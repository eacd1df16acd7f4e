// From a rule's verdict on a stored event to the alert Vigil keeps and sends, labelled as KubeSphere labels it
// (kube-auditing's Alertmanager and notification-manager exporters: alertname = the rule's own name, alerttype,
// namespace, resource, name, user, group, verb, requestReceivedTimestamp; annotation message).
import { createHash } from 'node:crypto';
import { eventNamespace } from '../event/model.ts';
import type { StoredEvent } from '../store/types.ts';
import type { AlertRecord } from './types.ts';

/** What the rule engine decided to alert on for one event. */
export interface RaisedAlert {
  /** The rule's unique id, `<Rule resource>.<rule>` for KubeSphere rules: what Vigil stores and queries by. */
  rule: string;
  /** The rule's own name (`CreateHostnetworkPod`), sent as `alertname`; `rule` when unset. */
  name?: string;
  /** The Rule resource holding it (`alerting-rule`), sent as `rule_group` so that equal names stay apart. */
  group?: string;
  priority: string;
  message: string;
  /** More labels and annotations from the rule (a Falco rule's tags, output fields, time); Vigil's own win. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The label KubeSphere sets per event: left out of the fingerprint so that identical alerts still group. */
const RECEIVED = 'requestReceivedTimestamp';

/**
 * A canonical MicroTime (`2026-11-23T10:00:00.120000Z`) as Go's time.Time String() prints it, which is what
 * KubeSphere puts in the label: `2026-11-23 10:00:00.12 +0000 UTC` (fraction without trailing zeros).
 */
export function goTimeString(micro: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(micro);
  if (!m) return micro;
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${m[2]}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}

export function alertRecords(event: StoredEvent, raised: RaisedAlert[], createdAt: number): AlertRecord[] {
  return raised.map((r) => {
    const labels: Record<string, string> = { ...r.labels, alertname: r.name ?? r.rule, alerttype: 'auditing' };
    const set = (k: string, v: string | undefined) => {
      // Alertmanager treats an empty label as absent; leave it out so identical alerts stay identical.
      if (v) labels[k] = v;
    };
    set('rule_group', r.group);
    set('namespace', event.objectRef?.namespace);
    set('resource', event.objectRef?.resource);
    set('name', event.objectRef?.name);
    set('user', event.user.username);
    if (event.user.groups?.length) labels.group = JSON.stringify(event.user.groups);
    set('verb', event.verb);
    set('workspace', event.workspace);
    // Alertmanager routes by it, and a tenant limited to clusters sees the alert by it (alert stores' scope)
    set('cluster', event.cluster);
    set('severity', r.priority.toLowerCase());
    const fingerprint = createHash('sha256')
      .update(r.rule)
      .update('\0')
      .update(JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
      .digest('hex')
      .slice(0, 32);
    set(RECEIVED, goTimeString(event.requestReceivedTimestamp));
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
    const ns = eventNamespace(event); // the tenant scope's namespace, as the events'
    if (ns) record.namespace = ns;
    return record;
  });
}
