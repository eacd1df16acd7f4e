export { ConfigError, loadConfig, type Overrides, parseConfig } from './load.ts';
export {
  type AmqpSourceConfig,
  DEFAULTS,
  parseDuration,
  type ReceiverConfig,
  ROLES,
  type Role,
  type RulesConfig,
  SECTIONS,
  type Spec,
  type TokenConfig,
  type VigilConfig,
} from './schema.ts';
