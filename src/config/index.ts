export { ConfigError, loadConfig, type Overrides, parseConfig } from './load.ts';
export {
  type AmqpSourceConfig,
  DEFAULTS,
  parseDuration,
  ROLES,
  type Role,
  SECTIONS,
  type Spec,
  type TokenConfig,
  type VigilConfig,
} from './schema.ts';
