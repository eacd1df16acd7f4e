// The canonical audit event: Kubernetes `audit.k8s.io/v1` Event, plus the fields KubeSphere adds
// (workspace, cluster, devops) and where the event came from. Every format Vigil reads or writes
// converts to and from this one shape, so each stage after capture/ingest sees only this.

export const LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
export type Level = (typeof LEVELS)[number];

export const STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type Stage = (typeof STAGES)[number];

/** Which producer format an event arrived in (or `vigil` for Vigil's own capture middleware). */
export const SOURCES = ['kubernetes', 'kubesphere', 'openfaas', 'cadf', 'vigil'] as const;
export type Source = (typeof SOURCES)[number];

/** Level ordering as kube-apiserver's `audit.Level.Less`: an unknown string ranks as None. */
export function levelRank(level: string): number {
  const i = (LEVELS as readonly string[]).indexOf(level);
  return Math.max(i, 0);
}

export function isLevel(v: unknown): v is Level {
  return typeof v === 'string' && (LEVELS as readonly string[]).includes(v);
}

export function isStage(v: unknown): v is Stage {
  return typeof v === 'string' && (STAGES as readonly string[]).includes(v);
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** metav1.Status as audit events carry it in `responseStatus`. */
export interface ResponseStatus {
  metadata?: Record<string, unknown>;
  code?: number;
  status?: string;
  message?: string;
  reason?: string;
  details?: unknown;
}

/**
 * Format-specific facts with no Kubernetes field, kept so that converting back to the original
 * format loses nothing that matters. Each converter owns its own key.
 */
export interface EventOrigin {
  /** CADF (pycadf / keystonemiddleware) fields not expressible as Kubernetes fields. */
  cadf?: Record<string, unknown>;
  /** oslo.messaging notification envelope fields (event_type, publisher_id, message_id, priority, timestamp). */
  oslo?: Record<string, unknown>;
  /** OpenFaaS api_access fields (actor issuers, actions) not expressible as Kubernetes fields. */
  openfaas?: Record<string, unknown>;
  /** The audit.k8s.io version the event arrived in when it was not v1 (`apiVersion`); KubeSphere's `message`. */
  kubernetes?: Record<string, unknown>;
  /**
   * Legacy log line facts needed to write the line back byte-exactly: `timestamp` as written (when not UTC
   * RFC3339Nano), `fields` (when an older apiserver wrote fewer), `method` (pre-1.7 upper-case HTTP method).
   */
  legacy?: Record<string, unknown>;
}

export interface AuditEvent {
  level: Level;
  auditID: string;
  stage: Stage;
  requestURI: string;
  verb: string;
  user: UserInfo;
  impersonatedUser?: UserInfo;
  authenticationMetadata?: Record<string, unknown>;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: ResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  /** RFC 3339, UTC, microseconds (Kubernetes MicroTime): `2006-01-02T15:04:05.000000Z`. */
  requestReceivedTimestamp: string;
  /** RFC 3339, UTC, microseconds (Kubernetes MicroTime). */
  stageTimestamp: string;
  annotations?: Record<string, string>;
  /** KubeSphere: workspace of the namespace or DevOps project. */
  workspace?: string;
  /** The cluster it came from (KubeSphere: member cluster name): docs/collector.md, Several clusters. */
  cluster?: string;
  /** KubeSphere: DevOps project. */
  devops?: string;
  source: Source;
  origin?: EventOrigin;
}

// The record of the rules that matched an event, kept on the event itself so that the stored event says which
// detections flagged it: written by the rule engine (src/rules), read by the field table's `rule` field
// (src/store/fields.ts), which makes it filterable (`rule_filter`).

/**
 * The Falco rules that fired: a JSON array of `{rule, priority}` in the order they fired
 * (`[{"rule":"Create Privileged Pod","priority":"Warning"}]`).
 */
/**
 * The namespace an event is about: its `objectRef.namespace`, or for a namespace itself (resource `namespaces`, which
 * has none) the namespace's name, so the tenant owning a namespace sees the events that created, changed or deleted it
 * (KubeSphere issue 2648). Queries, tenant scopes, the live tail and the workspace mapping all take it from here.
 */
export function eventNamespace(e: AuditEvent): string | undefined {
  const ref = e.objectRef;
  if (ref === undefined) return undefined;
  if (ref.namespace) return ref.namespace;
  return ref.resource === 'namespaces' && (ref.apiGroup ?? '') === '' && ref.name ? ref.name : undefined;
}

export const FALCO_RULES_ANNOTATION = 'vigil.dev/falco-rules';

/**
 * The KubeSphere rules that alerted on the event, as the Falco record: `[{"rule":"alerting-rule.CreateHostnetworkPod",
 * "priority":"WARNING"}]` (`<Rule resource>.<rule>`, as their alerts name them). Only those that alerted: the shipped
 * archiving rule matches nearly every event, which would make the record say nothing.
 */
export const KUBESPHERE_RULES_ANNOTATION = 'vigil.dev/kubesphere-rules';

/** The records of matched rules, KubeSphere's first (the engine tries its rules first). */
export const RULE_RECORDS = [KUBESPHERE_RULES_ANNOTATION, FALCO_RULES_ANNOTATION] as const;

/**
 * The names of the rules an event's records say matched. A record that is not the engine's (an imported event,
 * a hand-written annotation) yields the names it holds and nothing else: never throws.
 */
export function matchedRules(e: AuditEvent): string[] | undefined {
  const a = e.annotations;
  if (a === undefined) return undefined;
  let out: string[] | undefined;
  for (const key of RULE_RECORDS) {
    const record = a[key];
    if (typeof record !== 'string' || record === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(record);
    } catch {
      continue;
    }
    if (!Array.isArray(parsed)) continue;
    out ??= [];
    for (const m of parsed) {
      const name = (m as { rule?: unknown } | null)?.rule;
      if (typeof name === 'string' && name !== '' && !out.includes(name)) out.push(name);
    }
  }
  return out;
}

/** The event without its records of matched rules (only the collector's own rules write them). */
export function dropRuleRecords(e: AuditEvent): void {
  const a = e.annotations;
  if (a === undefined || !(Object.hasOwn(a, FALCO_RULES_ANNOTATION) || Object.hasOwn(a, KUBESPHERE_RULES_ANNOTATION)))
    return;
  const { [FALCO_RULES_ANNOTATION]: _f, [KUBESPHERE_RULES_ANNOTATION]: _k, ...rest } = a;
  e.annotations = rest;
}
