// KubeSphere's `Webhook` resource (auditing.kubesphere.io/v1alpha1, kubesphere-auditing.md §5): which Rule
// resources archive and which alert (label selectors), the priority thresholds, the receivers. Pod settings
// (image, replicas, resources…) are accepted and ignored: Vigil is not deployed by this resource.

import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { RECEIVER_KINDS, type ReceiverSpec } from '../alerts/index.ts';
import { isLevel, type Level } from '../event/model.ts';
import { documentValue, RULE_API_VERSION, RuleError, RuleLoadError } from './load.ts';

export const PRIORITIES = ['DEBUG', 'INFO', 'WARNING'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** DEBUG 1 < INFO 2 < WARNING 3; anything else (lower-case, empty) ranks 0, below DEBUG — as KubeSphere does. */
export function priorityRank(p: string | undefined): number {
  return (PRIORITIES as readonly string[]).indexOf(p ?? '') + 1;
}

export function isPriority(p: unknown): p is Priority {
  return typeof p === 'string' && (PRIORITIES as readonly string[]).includes(p);
}

/** A receiver of the resource, resolved at load to where its alerts go. */
export interface Receiver extends ReceiverSpec {
  /** As written. */
  config: Record<string, unknown>;
}

export interface WebhookConfig {
  name: string;
  auditLevel: Level;
  k8sAuditingEnabled: boolean;
  archivingPriority: Priority;
  alertingPriority: Priority;
  /** `matchLabels` only, as KubeSphere honours them; `matchExpressions` are ignored there and here. */
  archivingRuleSelector: Record<string, string>;
  alertingRuleSelector: Record<string, string>;
  receivers: Receiver[];
  /** Values replaced by their defaults (an unknown priority), to show the user. */
  warnings: string[];
}

export const DEFAULT_WEBHOOK: WebhookConfig = {
  name: 'kube-auditing-webhook',
  auditLevel: 'Metadata',
  k8sAuditingEnabled: false,
  archivingPriority: 'DEBUG',
  alertingPriority: 'WARNING',
  archivingRuleSelector: { type: 'archiving' },
  alertingRuleSelector: { type: 'alerting' },
  receivers: [],
  warnings: [],
};

/** kube-auditing's Alertmanager when a receiver of that type says nothing more (or only part of its service). */
const DEFAULT_ALERTMANAGER = { namespace: 'kubesphere-monitoring-system', name: 'alertmanager-main', port: 9093 };

/**
 * Where a receiver's alerts go, as kube-auditing resolves its `config`: `url` as written, else the service's
 * `http(s)://<name>.<namespace>[:port][path]` (https when a caBundle is given); an alertmanager receiver falls
 * back to alertmanager-main. Problems are reported through `bad(path under config, message)`.
 */
function resolveReceiver(
  type: ReceiverSpec['type'],
  config: Record<string, unknown>,
  bad: (path: string[], message: string) => void,
): Pick<ReceiverSpec, 'url' | 'ca'> | undefined {
  let ca: string | undefined;
  if (config.caBundle !== undefined && config.caBundle !== null) {
    // caBundle is a []byte in the CRD: base64 of PEM certificates.
    const pem = typeof config.caBundle === 'string' ? Buffer.from(config.caBundle, 'base64').toString('utf8') : '';
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      bad(['caBundle'], 'caBundle must be base64 of PEM certificates');
      return undefined;
    }
    ca = pem;
  }
  const withCA = (url: string) => (ca === undefined ? { url } : { url, ca });
  if (config.url !== undefined && config.url !== null) {
    const url = config.url;
    let parsed: URL | undefined;
    try {
      parsed = typeof url === 'string' ? new URL(url) : undefined;
    } catch {}
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      bad(['url'], `url must be an http or https URL, found ${JSON.stringify(url)}`);
      return undefined;
    }
    return withCA(parsed.href);
  }
  const am = type === 'alertmanager';
  const service = config.service ?? (am ? {} : undefined);
  if (service === undefined || service === null) {
    bad([], `a ${type} receiver needs config.url or config.service`);
    return undefined;
  }
  if (typeof service !== 'object' || Array.isArray(service)) {
    bad(['service'], 'service must be a mapping of namespace, name, port, path');
    return undefined;
  }
  const sv = service as Record<string, unknown>;
  const text = (k: 'namespace' | 'name' | 'path', fallback?: string): string | undefined => {
    const v = sv[k] ?? fallback;
    if (
      typeof v === 'string' &&
      v !== '' &&
      (k === 'path' ? v.startsWith('/') : /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v))
    )
      return v;
    if (v !== undefined) bad(['service', k], k === 'path' ? 'path must start with /' : `${k} must be a DNS name`);
    else bad(['service'], `service needs a ${k}`);
    return undefined;
  };
  const namespace = text('namespace', am ? DEFAULT_ALERTMANAGER.namespace : undefined);
  const name = text('name', am ? DEFAULT_ALERTMANAGER.name : undefined);
  const path = sv.path === undefined || sv.path === null ? '' : text('path');
  const port = sv.port ?? (am ? DEFAULT_ALERTMANAGER.port : undefined);
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    bad(['service', 'port'], 'port must be a number from 1 to 65535');
    return undefined;
  }
  if (namespace === undefined || name === undefined || path === undefined) return undefined;
  return withCA(`${ca === undefined ? 'http' : 'https'}://${name}.${namespace}${port ? `:${port}` : ''}${path}`);
}

/** Reads the (single) Webhook resource of a YAML file; other documents (Rules) are skipped. */
export function parseWebhook(text: string, file: string): WebhookConfig {
  const lines = new LineCounter();
  const errors: RuleError[] = [];
  const at = (node: Node | null | undefined, message: string) => {
    const p = node?.range ? lines.linePos(node.range[0]) : undefined;
    errors.push(new RuleError({ file, line: p?.line, column: p?.col, message }));
  };
  let found: WebhookConfig | undefined;
  for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
    if (doc.errors.length) {
      for (const e of doc.errors)
        errors.push(new RuleError({ file, line: e.linePos?.[0].line, column: e.linePos?.[0].col, message: e.message }));
      continue;
    }
    if (!isMap(doc.contents)) continue;
    const js = documentValue(doc, at);
    if (js === undefined || js.kind !== 'Webhook') continue;
    // The node at `path`, or the nearest one above it that exists (where a missing member belongs).
    const node = (...path: (string | number)[]): Node | null => {
      for (let n = path.length; n > 0; n--) {
        const found = doc.getIn(path.slice(0, n), true) as Node | undefined;
        if (found && typeof found === 'object') return found;
      }
      return doc.contents;
    };
    if (found) {
      at(doc.contents, 'a second Webhook resource: one file holds one');
      continue;
    }
    if (js.apiVersion !== RULE_API_VERSION) at(node('apiVersion'), `expected apiVersion: ${RULE_API_VERSION}`);
    const meta = (js.metadata ?? {}) as Record<string, unknown>;
    const spec = (js.spec ?? {}) as Record<string, unknown>;
    if (typeof spec !== 'object' || Array.isArray(spec)) {
      at(node('spec'), 'spec must be a mapping');
      continue;
    }
    const w: WebhookConfig = {
      ...DEFAULT_WEBHOOK,
      name: typeof meta.name === 'string' ? meta.name : DEFAULT_WEBHOOK.name,
      receivers: [],
      warnings: [],
    };
    if (spec.auditLevel !== undefined) {
      if (isLevel(spec.auditLevel)) w.auditLevel = spec.auditLevel;
      else
        at(
          node('spec', 'auditLevel'),
          `auditLevel must be None, Metadata, Request or RequestResponse, found ${JSON.stringify(spec.auditLevel)}`,
        );
    }
    if (spec.k8sAuditingEnabled !== undefined) {
      if (typeof spec.k8sAuditingEnabled === 'boolean') w.k8sAuditingEnabled = spec.k8sAuditingEnabled;
      else at(node('spec', 'k8sAuditingEnabled'), 'k8sAuditingEnabled must be true or false');
    }
    for (const k of ['archivingPriority', 'alertingPriority'] as const) {
      const v = spec[k];
      if (v === undefined || v === null || v === '') continue;
      if (isPriority(v)) w[k] = v;
      else {
        // KubeSphere falls back to the default for anything but the three names.
        const p = lines.linePos((node('spec', k) as Node).range?.[0] ?? 0);
        w.warnings.push(
          `${file}:${p.line}:${p.col}: ${k} ${JSON.stringify(v)} is not DEBUG, INFO or WARNING; using ${w[k]}`,
        );
      }
    }
    const policy = (spec.auditSinkPolicy ?? {}) as Record<string, unknown>;
    for (const [k, target] of [
      ['archivingRuleSelector', 'archivingRuleSelector'],
      ['alertingRuleSelector', 'alertingRuleSelector'],
    ] as const) {
      const sel = policy[k] as Record<string, unknown> | undefined;
      if (sel === undefined || sel === null) continue;
      const ml = sel.matchLabels;
      if (ml === undefined || ml === null) {
        w[target] = {};
        continue;
      }
      if (typeof ml !== 'object' || Array.isArray(ml) || Object.values(ml).some((v) => typeof v !== 'string')) {
        at(node('spec', 'auditSinkPolicy', k, 'matchLabels'), 'matchLabels must map label names to strings');
        continue;
      }
      w[target] = ml as Record<string, string>;
    }
    const receivers = spec.receivers;
    if (receivers !== undefined && receivers !== null) {
      if (!Array.isArray(receivers)) at(node('spec', 'receivers'), 'receivers must be a list');
      else {
        receivers.forEach((r, i) => {
          const rr = (r ?? {}) as Record<string, unknown>;
          if (typeof rr.name !== 'string' || !rr.name) {
            at(node('spec', 'receivers', i), 'a receiver needs a name');
            return;
          }
          const type = RECEIVER_KINDS.find((k) => k === rr.type);
          if (!type) {
            at(
              node('spec', 'receivers', i, 'type'),
              `receiver type must be ${RECEIVER_KINDS.join(', ')}, found ${JSON.stringify(rr.type)}`,
            );
            return;
          }
          const config = rr.config ?? {};
          if (typeof config !== 'object' || Array.isArray(config)) {
            at(node('spec', 'receivers', i, 'config'), 'config must be a mapping');
            return;
          }
          const where = resolveReceiver(type, config as Record<string, unknown>, (path, message) =>
            at(node('spec', 'receivers', i, 'config', ...path), `receiver ${rr.name}: ${message}`),
          );
          if (where) w.receivers.push({ name: rr.name, type, ...where, config: config as Record<string, unknown> });
        });
      }
    }
    found = w;
  }
  if (errors.length) throw new RuleLoadError(errors);
  if (!found)
    throw new RuleLoadError([
      new RuleError({ file, message: `no Webhook resource (kind: Webhook, apiVersion: ${RULE_API_VERSION})` }),
    ]);
  return found;
}

export async function loadWebhookFile(path: string): Promise<WebhookConfig> {
  return parseWebhook(await readFile(path, 'utf8'), path);
}
