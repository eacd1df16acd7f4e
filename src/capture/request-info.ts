// Kubernetes-style request attribution (kube-apiserver's RequestInfoFactory): which verb, resource, namespace and
// name a URL means. Paths outside `/api/{v}/…` and `/apis/{group}/{v}/…` are non-resource requests whose verb is
// the lower-case method.
import type { RequestAttributes } from '../policy/types.ts';

export interface ResolvedRequest extends RequestAttributes {
  apiVersion: string;
}

const METHOD_VERBS: Record<string, string> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** Splits a request target (`/path?query`) once; the path is percent-decoded as Go's URL.Path is. */
export function splitTarget(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  return { path: decodePath(raw), query: q < 0 ? '' : url.slice(q + 1) };
}

function decodePath(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Resolves the attributes the policy sees (without the user) from the method, decoded path and raw query. */
export function resolveRequest(method: string, path: string, query: string): ResolvedRequest {
  const info: ResolvedRequest = {
    verb: method.toLowerCase(),
    resourceRequest: false,
    path,
    namespace: '',
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    name: '',
  };
  const trimmed = trimSlashes(path);
  // Most paths of most APIs are not Kubernetes-shaped: decide that before splitting.
  if (!trimmed.startsWith('api')) return info;
  let parts = trimmed.split('/');
  const prefix = parts[0];
  if (prefix !== 'api' && prefix !== 'apis') return info;
  parts = parts.slice(1);
  let group = '';
  if (prefix === 'apis') {
    // /apis/{group}/{version}/{resource…}: discovery paths have fewer parts.
    if (parts.length < 3) return info;
    group = parts[0];
    parts = parts.slice(1);
  } else if (parts.length < 2) {
    return info;
  }
  const version = parts[0];
  parts = parts.slice(1);
  let verb: string;
  if (parts[0] === 'watch' || parts[0] === 'proxy') {
    // /api/v1/watch/… with nothing after it is an error in kube-apiserver; it stays a non-resource request here.
    if (parts.length < 2) return info;
    verb = parts[0];
    parts = parts.slice(1);
  } else {
    verb = METHOD_VERBS[method] ?? '';
  }
  info.resourceRequest = true;
  info.apiGroup = group;
  info.apiVersion = version;
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      info.namespace = parts[1];
      // The namespace object itself keeps `namespaces/{ns}[/status|/finalize]` as resource/name/subresource.
      if (parts.length > 2 && parts[2] !== 'status' && parts[2] !== 'finalize') parts = parts.slice(2);
    }
  }
  if (parts.length >= 3 && verb !== 'proxy') info.subresource = parts[2];
  if (parts.length >= 2) info.name = parts[1];
  info.resource = parts[0];
  if (info.name === '' && verb === 'get') {
    verb = 'list';
    if (query !== '') {
      const params = new URLSearchParams(query);
      if (isTrue(params.getAll('watch'))) verb = 'watch';
      const selector = params.get('fieldSelector');
      if (selector) {
        const name = exactName(selector);
        if (name !== undefined) info.name = name;
      }
    }
  }
  if (info.name === '' && verb === 'delete') verb = 'deletecollection';
  info.verb = verb;
  return info;
}

function trimSlashes(p: string): string {
  let s = 0;
  let e = p.length;
  while (s < e && p.charCodeAt(s) === 47) s++;
  while (e > s && p.charCodeAt(e - 1) === 47) e--;
  return p.slice(s, e);
}

/** Query booleans as apimachinery converts them: absent is false; "0", "false", "n", "no" are false; anything else true. */
function isTrue(values: string[]): boolean {
  if (values.length === 0) return false;
  const v = values[0].toLowerCase();
  return !(v === '0' || v === 'false' || v === 'n' || v === 'no');
}

/** `metadata.name=X` (or `==`) in a field selector names the object a list is about, if X is a valid path segment. */
function exactName(selector: string): string | undefined {
  for (const term of selector.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    if (m && !term.includes('!=')) {
      const name = m[1];
      if (name === '.' || name === '..' || name.includes('/') || name.includes('%')) return undefined;
      return name;
    }
  }
  return undefined;
}

/** kube-apiserver's long-running check (`pkg/controlplane/apiserver/config.go`). */
export function kubernetesLongRunning(attrs: RequestAttributes): boolean {
  if (attrs.verb === 'watch' || attrs.verb === 'proxy') return true;
  const s = attrs.subresource;
  return s === 'attach' || s === 'exec' || s === 'proxy' || s === 'log' || s === 'portforward';
}
