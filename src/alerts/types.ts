// Alerts: what a matched alerting rule raises about a stored event, how it is kept until every receiver has it,
// and the receivers' contract.
import type { TenantScope } from '../store/types.ts';

/** An alert as Vigil stores and sends it. */
export interface Alert {
  id: string;
  /** Epoch milliseconds when the alert was raised. */
  createdAt: number;
  rule: string;
  priority: string;
  message: string;
  /** Vigil id of the stored event that raised it. */
  eventId: string;
  auditID: string;
  workspace?: string;
  namespace?: string;
  /**
   * Alertmanager labels: KubeSphere's (alertname = the rule's own name, alerttype, namespace, resource, name, user,
   * group, verb, requestReceivedTimestamp) and Vigil's (rule_group, workspace, severity).
   */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Hash of rule and labels but the event's time: identical alerts share it. */
  fingerprint: string;
  /** Set when this alert repeats an identical one raised shortly before; it is kept but not sent again. */
  groupedWith?: string;
  /** For a sent alert, how many identical alerts were grouped into it. */
  repeats: number;
}

/** One alert on its way to one receiver. */
export interface Delivery {
  id: string;
  receiver: string;
  attempts: number;
  alert: Alert;
}

export interface AlertQuery {
  rule?: string[];
  priority?: string[];
  eventId?: string;
  /** Epoch ms, inclusive, on createdAt. */
  start?: number;
  end?: number;
  scope?: TenantScope;
  sort?: 'asc' | 'desc';
  from?: number;
  size: number;
}

/** Where alerts and their pending deliveries are kept, so that none is lost to a restart or a receiver outage. */
export interface AlertStore {
  /**
   * Stores alerts and one pending delivery per receiver for each that is not a repeat, atomically. An alert whose
   * (auditID, stage, rule) key is already stored is ignored (a retried ingest raises nothing twice). Returns the
   * alerts actually added.
   */
  add(alerts: AlertRecord[], receivers: string[], groupWindowMs: number): Promise<Alert[]>;
  /** Takes up to `limit` deliveries due at `now`, leasing them for `leaseMs` so that no other dispatcher takes them. */
  claimDue(now: number, limit: number, leaseMs: number): Promise<Delivery[]>;
  delivered(ids: string[]): Promise<void>;
  /** Records a failed attempt; the delivery is tried again at `nextAttemptAt`. */
  failed(id: string, nextAttemptAt: number, error: string): Promise<void>;
  /** Gives up on deliveries whose alert is older than `before`; returns how many. */
  expire(before: number): Promise<number>;
  /** Epoch ms of the earliest pending delivery, if any. */
  nextDue(): Promise<number | undefined>;
  query(q: AlertQuery): Promise<{ total: number; items: Alert[] }>;
  close(): Promise<void>;
}

/** An alert to store: everything but what the store assigns. */
export type AlertRecord = Omit<Alert, 'id' | 'groupedWith' | 'repeats'> & {
  /** Idempotency key: auditID, stage and rule. */
  key: string;
};

export class ReceiverError extends Error {
  /** When the receiver asked to wait (HTTP Retry-After). */
  readonly retryAfterMs?: number;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'ReceiverError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** Something alerts are sent to. `send` resolves when the receiver accepted every alert, and throws otherwise. */
export interface Receiver {
  name: string;
  send(alerts: Alert[]): Promise<void>;
}
