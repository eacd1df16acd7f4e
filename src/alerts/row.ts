// The alerts table's row ⇄ Alert, shared by the SQLite and PostgreSQL alert stores (same columns, same order).
import type { Alert, AlertRecord } from './types.ts';

/** A stored alert as either database returns it (PostgreSQL: bigints as strings, JSON columns parsed). */
export interface AlertRow {
  id: number | string;
  created_at: number | string;
  rule: string;
  priority: string;
  message: string;
  event_id: string;
  audit_id: string;
  workspace: string | null;
  namespace: string | null;
  labels: string | Record<string, string>;
  annotations: string | Record<string, string>;
  fingerprint: string;
  grouped_with: number | string | null;
  repeats: number;
}

const json = (v: string | Record<string, string>) => (typeof v === 'string' ? JSON.parse(v) : v);

export function toAlert(r: AlertRow): Alert {
  const a: Alert = {
    id: String(r.id),
    createdAt: Number(r.created_at),
    rule: r.rule,
    priority: r.priority,
    message: r.message,
    eventId: r.event_id,
    auditID: r.audit_id,
    labels: json(r.labels),
    annotations: json(r.annotations),
    fingerprint: r.fingerprint,
    repeats: r.repeats,
  };
  if (r.workspace !== null) a.workspace = r.workspace;
  if (r.namespace !== null) a.namespace = r.namespace;
  if (r.grouped_with !== null) a.groupedWith = String(r.grouped_with);
  return a;
}

/** The alert a store has just inserted from `r` as row `id` (what reading the row back would give). */
export function insertedAlert(r: AlertRecord, id: number | string, groupedWith?: number | string): Alert {
  const a: Alert = {
    id: String(id),
    createdAt: r.createdAt,
    rule: r.rule,
    priority: r.priority,
    message: r.message,
    eventId: r.eventId,
    auditID: r.auditID,
    labels: r.labels,
    annotations: r.annotations,
    fingerprint: r.fingerprint,
    repeats: 0,
  };
  if (r.workspace !== undefined) a.workspace = r.workspace;
  if (r.namespace !== undefined) a.namespace = r.namespace;
  if (groupedWith !== undefined) a.groupedWith = String(groupedWith);
  return a;
}

/** The values of an INSERT into (key, created_at, rule, priority, message, event_id, audit_id, workspace, namespace,
 * labels, annotations, fingerprint), in that order. */
export function insertValues(r: AlertRecord): (string | number | null)[] {
  return [
    r.key,
    r.createdAt,
    r.rule,
    r.priority,
    r.message,
    r.eventId,
    r.auditID,
    r.workspace ?? null,
    r.namespace ?? null,
    JSON.stringify(r.labels),
    JSON.stringify(r.annotations),
    r.fingerprint,
  ];
}
