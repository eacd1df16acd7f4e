// What the collector decides for each received event: the rule engine (KubeSphere rules, reloaded when their files
// change) says ignore, archive or alert; alerts are stored and delivered to the receivers. Assembled here from the
// config so that `vigil serve` and the tests build it one way.
import {
  type AlertDispatcher,
  type AlertStore,
  alertsPathFor,
  createAlertDispatcher,
  openPostgresAlertStore,
  openSqliteAlertStore,
  type Receiver,
  receiverFor,
} from '../alerts/index.ts';
import type { VigilConfig } from '../config/index.ts';
import {
  createRuleEngine,
  loadDefaultRules,
  loadWebhookFile,
  type RuleEngine,
  type RuleWatcher,
  type WebhookConfig,
  watchRules,
} from '../rules/index.ts';

/** Where decisions report reloads and delivery failures (the server's pino logger fits). */
export interface DecisionLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface Decisions {
  /** Problems found while loading that did not stop it (a Webhook value replaced by its default). */
  warnings: string[];
  /** Undefined when `rules.enabled` is false: every event is stored. */
  engine?: RuleEngine;
  alertStore: AlertStore;
  dispatcher: AlertDispatcher;
  close(): Promise<void>;
}

export async function openDecisions(config: VigilConfig, log: DecisionLog): Promise<Decisions> {
  let engine: RuleEngine | undefined;
  let watcher: RuleWatcher | undefined;
  let webhook: WebhookConfig | undefined;
  if (config.rules.webhook) {
    webhook = await loadWebhookFile(config.rules.webhook);
  }
  if (config.rules.enabled) {
    const opts = {
      webhook,
      archivingPriority: config.rules.archivingPriority,
      alertingPriority: config.rules.alertingPriority,
    };
    if (config.rules.dir) {
      watcher = await watchRules(config.rules.dir, ({ rules, errors }) => {
        if (errors.length) {
          for (const e of errors) log.error({ file: e.file, rule: e.rule }, `rules not reloaded: ${e.message}`);
        } else {
          engine?.setRules(rules);
          log.info({ rules: rules.rules.length }, 'rules reloaded');
        }
      });
      engine = createRuleEngine({ rules: watcher.current, ...opts });
    } else {
      engine = createRuleEngine({ rules: await loadDefaultRules(), ...opts });
    }
  }
  const names = new Set<string>();
  const receivers: Receiver[] = [];
  // The Webhook resource's receivers are resolved (URL, CA) when it loads.
  for (const c of [...config.receivers, ...(webhook?.receivers ?? [])]) {
    if (names.has(c.name)) throw new Error(`receivers: the name "${c.name}" is used twice`);
    names.add(c.name);
    receivers.push(receiverFor(c, config.externalURL));
  }
  // Alerts live beside the events: in PostgreSQL every collector of the database shares them.
  const alertStore =
    config.storage.type === 'postgres'
      ? await openPostgresAlertStore({ url: config.storage.url, schema: config.storage.schema })
      : openSqliteAlertStore(alertsPathFor(config.storage.path), config.storage.path);
  const dispatcher = createAlertDispatcher({
    store: alertStore,
    receivers,
    groupWindowMs: config.alerts.groupWindowMs,
    expireAfterMs: config.alerts.expireAfterMs,
    onError: (m) => log.warn({}, m),
    // Shared alerts: pick up what another collector stored and could not send (it stopped, or its receiver failed).
    pollMs: config.storage.type === 'postgres' ? 10_000 : undefined,
  });
  dispatcher.start();
  return {
    warnings: (webhook?.warnings ?? []).map((w) => `${config.rules.webhook}: ${w}`),
    engine,
    alertStore,
    dispatcher,
    async close() {
      watcher?.close();
      await dispatcher.stop();
      await alertStore.close();
    },
  };
}
