// Public surface of the event model: the canonical event and the converters to and from every format.

export type { OsloNotificationOptions } from './cadf.ts';
export {
  cadfActionToVerb,
  decodeCadf,
  encodeCadf,
  encodeOsloNotification,
  encodeOsloWire,
  verbToCadfAction,
} from './cadf.ts';
export { decodeEach, decodeEvents, decodeJsonValue, sniffFormat } from './detect.ts';
export {
  isOutputFormat,
  OUTPUT_FORMAT_NAMES,
  OUTPUT_FORMATS,
  type OutputFormat,
  type OutputFormatName,
} from './encode.ts';
export {
  decodeEventList,
  decodeKubernetesEvent,
  encodeEventList,
  encodeKubernetesEvent,
  formatKubernetesJSON,
} from './kubernetes.ts';
export type { LegacyFormatOptions } from './legacy.ts';
export { formatLegacyLine, parseLegacyLine } from './legacy.ts';
export {
  checkEventCount,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  resolveLimits,
  USER_AGENT_TRUNCATED,
} from './limits.ts';
export {
  isSecretLikeName,
  MASK,
  maskCredentials,
  maskQuery,
  maskSchemeCredentials,
  parseMaskPath,
  SECRET_KEYS,
  SECRET_PARAMS,
} from './mask.ts';
export * from './model.ts';
export { encodeOcsf, OCSF_API_ACTIVITY, OCSF_VERSION } from './ocsf.ts';
export type { OpenFaaSDecodeOptions } from './openfaas.ts';
export { decodeOpenFaaSEvent, encodeOpenFaaSEvent, OPENFAAS_ID_NAMESPACE } from './openfaas.ts';
export {
  DEFAULT_CLOCK_SKEW_MS,
  isMicroTime,
  parseTimeMicros,
  parseTimeMs,
  timeRangeProblem,
  toCadfTime,
  toMicroTime,
  toOsloTime,
  toRfc3339Nano,
} from './time.ts';
export { EventValidationError } from './validate.ts';
