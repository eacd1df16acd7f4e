// The Open Cybersecurity Schema Framework's API Activity class (6003, category Application Activity) for an event:
// what a SIEM that speaks OCSF ingests without a parser of its own. The mapping is documented as a table in
// docs/forwarding.md, and test/event/ocsf.test.ts validates the output field by field against the class definition
// of OCSF 1.8.0 (vendored under test/fixtures/ocsf-1.8.0).
import type { AuditEvent } from './model.ts';

export const OCSF_VERSION = '1.8.0';
export const OCSF_API_ACTIVITY = 6003;
const CATEGORY_APPLICATION = 6;

/** OCSF API Activity's activity_id of a Kubernetes (or mapped) verb: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. */
const ACTIVITIES: Record<string, [number, string]> = {
  create: [1, 'Create'],
  get: [2, 'Read'],
  list: [2, 'Read'],
  watch: [2, 'Read'],
  update: [3, 'Update'],
  patch: [3, 'Update'],
  delete: [4, 'Delete'],
  deletecollection: [4, 'Delete'],
};

function micros(t: string): number | undefined {
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Drops undefined members (and empty objects they leave), so the output holds only what the event has. */
function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** The event as an OCSF API Activity event (`time`, `end_time` in epoch milliseconds, as OCSF's timestamp_t). */
export function encodeOcsf(e: AuditEvent & { id?: string }): Record<string, unknown> {
  const [activityId, activityName] = ACTIVITIES[e.verb] ?? [99, 'Other'];
  const code = e.responseStatus?.code;
  const [statusId, status] = code === undefined ? [0, 'Unknown'] : code < 400 ? [1, 'Success'] : [2, 'Failure'];
  const ref = e.objectRef ?? {};
  const [ip, ...intermediate] = e.sourceIPs ?? [];
  const user = compact({
    name: e.user.username,
    uid: e.user.uid,
    groups: e.user.groups?.length ? e.user.groups.map((name) => ({ name })) : undefined,
  });
  const resource = ref.resource
    ? compact({
        type: ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource,
        // a call on a collection (list, create, deletecollection) names no object: the collection names it
        name: ref.name || ref.resource,
        uid: ref.uid,
        namespace: ref.namespace,
        version: ref.apiVersion,
        group: ref.apiGroup ? { name: ref.apiGroup } : undefined,
      })
    : undefined;
  const q = e.requestURI.indexOf('?');
  const message = e.responseStatus?.message;
  const time = micros(e.requestReceivedTimestamp) ?? 0;
  return compact({
    activity_id: activityId,
    activity_name: activityName,
    category_uid: CATEGORY_APPLICATION,
    category_name: 'Application Activity',
    class_uid: OCSF_API_ACTIVITY,
    class_name: 'API Activity',
    type_uid: OCSF_API_ACTIVITY * 100 + activityId,
    type_name: `API Activity: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    time,
    end_time: micros(e.stageTimestamp),
    message: `${e.user.username ?? 'unknown user'} ${e.verb} ${e.requestURI}`,
    status_id: statusId,
    status,
    status_code: code === undefined ? undefined : String(code),
    status_detail: message || e.responseStatus?.reason || undefined,
    metadata: compact({
      version: OCSF_VERSION,
      product: { name: 'Vigil', vendor_name: 'Vigil' },
      uid: e.id,
      correlation_uid: e.auditID,
      event_code: e.stage,
      log_name: e.source,
      original_time: e.requestReceivedTimestamp,
      // the KubeSphere scope of the event, as OCSF's "key:value" labels
      labels: [...(e.cluster ? [`cluster:${e.cluster}`] : []), ...(e.workspace ? [`workspace:${e.workspace}`] : [])],
    }),
    actor: { user: Object.keys(user).length ? user : { name: 'unknown' } },
    api: compact({
      operation: e.verb,
      version: ref.apiVersion,
      group: ref.apiGroup ? { name: ref.apiGroup } : undefined,
      service: { name: e.source },
      request: { uid: e.auditID },
      response:
        code === undefined
          ? undefined
          : compact({ code, message: message || undefined, error: e.responseStatus?.reason || undefined }),
    }),
    // required by the class, and an endpoint needs one of its names: an event without a source IP has none known
    src_endpoint: ip
      ? compact({ ip, intermediate_ips: intermediate.length ? intermediate : undefined })
      : { name: 'unknown' },
    resources: resource ? [resource] : undefined,
    http_request: compact({
      user_agent: e.userAgent,
      url: compact({
        path: q < 0 ? e.requestURI : e.requestURI.slice(0, q),
        query_string: q < 0 ? undefined : e.requestURI.slice(q + 1),
      }),
    }),
    http_response: code === undefined ? undefined : { code },
    unmapped: compact({
      level: e.level,
      impersonated_user: e.impersonatedUser?.username,
      annotations: e.annotations && Object.keys(e.annotations).length ? e.annotations : undefined,
    }),
  });
}
