export { ConfigError, loadConfig, type Overrides, parseConfig } from './load.ts';
export {
  type AmqpSourceConfig,
  type ClientCertConfig,
  DEFAULTS,
  parseDuration,
  type RateLimitConfig,
  type ReceiverConfig,
  ROLES,
  type Role,
  type RulesConfig,
  SECTIONS,
  type Spec,
  type StorageConfig,
  type TlsConfig,
  type TokenConfig,
  type VigilConfig,
} from './schema.ts';
