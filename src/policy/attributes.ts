// The request attributes of a recorded event, for replaying a policy over audit logs (`vigil policy test`).
import type { AuditEvent, UserInfo } from '../event/model.ts';
import type { RequestAttributes } from './types.ts';

/**
 * What kube-apiserver's policy saw when it recorded `e`. An event with `objectRef` was a resource request;
 * one without was a non-resource request (`/healthz`, `/metrics`, discovery). The user is the authenticated
 * `user`, never `impersonatedUser`, because the policy runs before impersonation.
 */
export function attributesFromEvent(e: AuditEvent): RequestAttributes {
  const ref = e.objectRef;
  const uri = e.requestURI ?? '';
  const q = uri.indexOf('?');
  return {
    user: authenticated(e.user),
    verb: e.verb ?? '',
    resourceRequest: ref !== undefined,
    path: q === -1 ? uri : uri.slice(0, q),
    namespace: ref?.namespace ?? '',
    apiGroup: ref ? groupOf(ref.apiGroup, ref.apiVersion) : '',
    resource: ref?.resource ?? '',
    subresource: ref?.subresource ?? '',
    name: ref?.name ?? '',
  };
}

// kube-apiserver writes `"user": {}` when authentication failed (no user); users/userGroups rules then never match.
function authenticated(u: UserInfo | undefined): UserInfo | undefined {
  if (!u || (u.username === undefined && u.uid === undefined && u.groups === undefined && u.extra === undefined)) {
    return undefined;
  }
  return u;
}

// audit.k8s.io/v1alpha1 events had no `apiGroup`, only `apiVersion: "group/version"` (seed 003's EventList).
function groupOf(apiGroup: string | undefined, apiVersion: string | undefined): string {
  if (apiGroup !== undefined) return apiGroup;
  const slash = apiVersion?.indexOf('/') ?? -1;
  return slash === -1 ? '' : apiVersion!.slice(0, slash);
}
