// KubeSphere 3.x's auditing API shapes (`/kapis/tenant.kubesphere.io/v1alpha2/auditing/events`): the stored
// document KubeSphere's console reads is PascalCase, with groups and source IPs joined by commas and the
// request/response objects as JSON strings (blanked beyond 16,384 characters), as its webhook writes them.
import type { StoredEvent } from '../store/types.ts';

const OBJECT_LIMIT = 16_384;

function objectString(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > OBJECT_LIMIT ? '' : s;
}

export function toKubeSphereRecord(e: StoredEvent): Record<string, unknown> {
  const o = e.objectRef;
  return {
    ID: e.id,
    Devops: e.devops ?? '',
    Workspace: e.workspace ?? '',
    Cluster: e.cluster ?? '',
    Message: '',
    Level: e.level,
    AuditID: e.auditID,
    Stage: e.stage,
    RequestURI: e.requestURI,
    Verb: e.verb,
    User: { Username: e.user?.username ?? '', UID: e.user?.uid ?? '', Groups: (e.user?.groups ?? []).join(',') },
    SourceIPs: (e.sourceIPs ?? []).join(','),
    ObjectRef: o
      ? {
          Resource: o.resource ?? '',
          Namespace: o.namespace ?? '',
          Name: o.name ?? '',
          UID: o.uid ?? '',
          APIGroup: o.apiGroup ?? '',
          APIVersion: o.apiVersion ?? '',
          ResourceVersion: o.resourceVersion ?? '',
          Subresource: o.subresource ?? '',
        }
      : null,
    ResponseStatus: e.responseStatus ?? null,
    RequestObject: objectString(e.requestObject),
    ResponseObject: objectString(e.responseObject),
    RequestReceivedTimestamp: e.requestReceivedTimestamp,
    StageTimestamp: e.stageTimestamp,
    Source: e.source,
  };
}
