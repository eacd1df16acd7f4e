// Public surface of the sinks: ship canonical AuditEvents to a log file, a webhook or RabbitMQ, with
// kube-apiserver's decorators (buffered, truncate) and Vigil's spool instead of its drops.
export { AmqpTransport, type AmqpTransportOptions, OSLO_PROPERTIES } from './amqp.ts';
export { type BufferedDeps, BufferedSink, buffered, DEFAULT_BATCH } from './buffered.ts';
export { parseSinkConfig, SinkConfigError } from './config.ts';
export { type BuiltSink, createSink, noopSink, type SinkDeps } from './create.ts';
export { defaultEncoders, type Encoders, toJSON } from './encoders.ts';
export { ignoreErrors } from './ignore-errors.ts';
export { KubeconfigError, loadKubeconfig, parseKubeconfig, type WebhookTarget } from './kubeconfig.ts';
export { backupTimestamp, DEFAULT_LOG, LogSink, type LogSinkOptions } from './log.ts';
export { DROP_REASONS, type DropReason, render, SinkMetrics, sinkRegistry } from './metrics.ts';
export { DEFAULT_RETRY, retrying } from './retrying.ts';
export {
  hmacSha256Hex,
  standardWebhooksKey,
  standardWebhooksSignature,
  verifyHmacSha256Hex,
  verifyStandardWebhooks,
} from './sign.ts';
export { Spool, type SpoolCursor, type SpoolDeps } from './spool.ts';
export { type SpooledOptions, SpooledSink, spooled } from './spooled.ts';
export { CADF_STAGES, keepStages, OPENFAAS_STAGES } from './stages.ts';
export { DEFAULT_TRUNCATE, TRUNCATED_ANNOTATION, type TruncateDeps, truncate, truncateEvent } from './truncate.ts';
export * from './types.ts';
export { union } from './union.ts';
export { backoffDelay, sleep } from './util.ts';
export { WebhookTransport, type WebhookTransportOptions } from './webhook.ts';
