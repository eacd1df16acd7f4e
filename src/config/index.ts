export { ConfigError, loadConfig, type Overrides, parseConfig } from './load.ts';
export {
  type AmqpSourceConfig,
  type ClientCertConfig,
  DEFAULTS,
  parseDuration,
  type RateLimitConfig,
  ROLES,
  type Role,
  SECTIONS,
  type Spec,
  type TlsConfig,
  type TokenConfig,
  type VigilConfig,
} from './schema.ts';
