// The webhook target from a kubeconfig-format file, as kube-apiserver's --audit-webhook-config-file:
// the current context picks a cluster (server URL, CA or insecure-skip-tls-verify) and a user (client
// certificate/key, or a bearer token). File references are relative to the kubeconfig's directory.
// Errors name the file and, where the YAML gives one, the line and column.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type YAMLMap } from 'yaml';

export interface WebhookTarget {
  url: string;
  /** PEM CA bundle. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  insecureSkipTLSVerify?: boolean;
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

export function loadKubeconfig(file: string): WebhookTarget {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeconfigError(`${file}: cannot read kubeconfig: ${(err as Error).message}`);
  }
  return parseKubeconfig(text, file);
}

export function parseKubeconfig(text: string, file: string): WebhookTarget {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    throw new KubeconfigError(`${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
  }
  const where = (node: unknown): string => {
    const r = (node as { range?: [number, number, number] } | undefined)?.range;
    if (!r) return file;
    const p = lc.linePos(r[0]);
    return `${file}:${p.line}:${p.col}`;
  };
  const root = doc.contents;
  if (!isMap(root)) throw new KubeconfigError(`${where(root)}: a kubeconfig must be a mapping`);
  const fail = (node: unknown, msg: string): never => {
    throw new KubeconfigError(`${where(node)}: ${msg}`);
  };

  const named = (listKey: string, name: string, itemKey: string): YAMLMap => {
    const list = root.get(listKey, true);
    if (!isSeq(list)) return fail(list ?? root, `"${listKey}" must be a list`);
    for (const item of list.items) {
      if (isMap(item) && item.get('name') === name) {
        const inner = item.get(itemKey, true);
        if (!isMap(inner)) return fail(item, `${listKey} entry "${name}" has no "${itemKey}" mapping`);
        return inner;
      }
    }
    return fail(list, `no ${listKey} entry named "${name}"`);
  };

  const current = root.get('current-context');
  let clusterName: unknown;
  let userName: unknown;
  const contexts = root.get('contexts', true);
  if (typeof current === 'string' && current !== '') {
    const ctx = named('contexts', current, 'context');
    clusterName = ctx.get('cluster');
    userName = ctx.get('user');
  } else if (isSeq(contexts) && contexts.items.length === 1 && isMap(contexts.items[0])) {
    const ctx = contexts.items[0].get('context', true);
    if (isMap(ctx)) {
      clusterName = ctx.get('cluster');
      userName = ctx.get('user');
    }
  } else {
    // kube-apiserver's minimal audit kubeconfigs sometimes have a single cluster and no context.
    const clusters = root.get('clusters', true);
    if (isSeq(clusters) && clusters.items.length === 1 && isMap(clusters.items[0])) {
      clusterName = clusters.items[0].get('name');
    } else {
      fail(root, 'no current-context, and not exactly one context or cluster to default to');
    }
  }
  if (typeof clusterName !== 'string') return fail(root, 'the context names no cluster');
  const cluster = named('clusters', clusterName, 'cluster');
  const base = dirname(resolve(file));
  const readRef = (m: YAMLMap, fileKey: string, dataKey: string): Buffer | undefined => {
    const data = m.get(dataKey);
    if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
    const ref = m.get(fileKey);
    if (typeof ref === 'string' && ref !== '') {
      const path = resolve(base, ref);
      try {
        return readFileSync(path);
      } catch (err) {
        return fail(m.get(fileKey, true), `${fileKey} ${path}: ${(err as Error).message}`);
      }
    }
    return undefined;
  };

  const server = cluster.get('server');
  if (typeof server !== 'string' || server === '') return fail(cluster, `cluster "${clusterName}" has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail(cluster.get('server', true), `server "${server}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(cluster.get('server', true), `server "${server}" must be http or https`);
  }
  const target: WebhookTarget = { url: server };
  const ca = readRef(cluster, 'certificate-authority', 'certificate-authority-data');
  if (ca) target.ca = ca;
  if (cluster.get('insecure-skip-tls-verify') === true) target.insecureSkipTLSVerify = true;

  if (typeof userName === 'string' && userName !== '') {
    const user = named('users', userName, 'user');
    const cert = readRef(user, 'client-certificate', 'client-certificate-data');
    const key = readRef(user, 'client-key', 'client-key-data');
    if (!!cert !== !!key) return fail(user, `user "${userName}" needs both a client certificate and a client key`);
    if (cert && key) {
      target.cert = cert;
      target.key = key;
    }
    const token = user.get('token');
    const tokenFile = user.get('tokenFile');
    if (typeof token === 'string' && token !== '') target.token = token;
    else if (typeof tokenFile === 'string' && tokenFile !== '') {
      target.token = readFileSync(resolve(base, tokenFile), 'utf8').trim();
    }
    for (const unsupported of ['auth-provider', 'exec']) {
      if (user.has(unsupported))
        fail(user.get(unsupported, true), `user "${userName}": ${unsupported} is not supported`);
    }
  }
  return target;
}
