// KubeSphere's `Webhook` resource (auditing.kubesphere.io/v1alpha1, kubesphere-auditing.md §5): which Rule
// resources archive and which alert (label selectors), the priority thresholds, the receivers. Pod settings
// (image, replicas, resources…) are accepted and ignored: Vigil is not deployed by this resource.

import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { isLevel, type Level } from '../event/model.ts';
import { RULE_API_VERSION, RuleError, RuleLoadError } from './load.ts';

export const PRIORITIES = ['DEBUG', 'INFO', 'WARNING'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** DEBUG 1 < INFO 2 < WARNING 3; anything else (lower-case, empty) ranks 0, below DEBUG — as KubeSphere does. */
export function priorityRank(p: string | undefined): number {
  return (PRIORITIES as readonly string[]).indexOf(p ?? '') + 1;
}

export function isPriority(p: unknown): p is Priority {
  return typeof p === 'string' && (PRIORITIES as readonly string[]).includes(p);
}

export interface Receiver {
  name: string;
  type: string;
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

const RECEIVER_TYPES = new Set(['alertmanager', 'webhook', 'notificationmanager']);

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
    const js = doc.toJS() as Record<string, unknown>;
    if (js.kind !== 'Webhook') continue;
    const node = (...path: (string | number)[]) => (doc.getIn(path, true) as Node | undefined) ?? doc.contents;
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
          if (typeof rr.type !== 'string' || !RECEIVER_TYPES.has(rr.type)) {
            at(
              node('spec', 'receivers', i, 'type'),
              `receiver type must be alertmanager, webhook or notificationmanager, found ${JSON.stringify(rr.type)}`,
            );
            return;
          }
          w.receivers.push({ name: rr.name, type: rr.type, config: (rr.config ?? {}) as Record<string, unknown> });
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
