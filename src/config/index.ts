// Public surface of the configuration: the one table of every key (SCHEMA), its loader, and the types derived.
export { ConfigError, loadConfig, type Overrides, parseConfig, signingKeyPath, sqlitePath } from './load.ts';
export {
  type AmqpSourceConfig,
  type CaptureConfig,
  type ClientCertConfig,
  type ConfigFile,
  DEFAULTS,
  FORWARD_FORMATS,
  FORWARD_HTTP_APIS,
  type ForwardConfig,
  LOG_LEVELS,
  type LogLevel,
  parseDuration,
  type RateLimitConfig,
  type ReceiverConfig,
  ROLES,
  type Role,
  type RulesConfig,
  SCHEMA,
  type StorageConfig,
  type TlsConfig,
  type TokenConfig,
  type VigilConfig,
} from './schema.ts';
export { LOG_FORMATS, SINK, SINK_MODES, type SinkSpecConfig, WEBHOOK_BODIES } from './sinks.ts';
export { checkValue, type Infer, keyPaths, type Problem, type Spec, SpecError } from './spec.ts';
