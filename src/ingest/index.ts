// Public surface of ingest: the format table, the one pipeline every way in stores through, the HTTP paths and
// the AMQP source.
export { AmqpSource, type AmqpSourceOptions, amqpNames } from './amqp.ts';
export { type Delivery, FORMATS, type IngestFormat, JSON_TYPES, NDJSON_TYPES } from './formats.ts';
export { HttpError, type IngestOptions, registerIngest, verifySignature } from './http.ts';
export { createIngestor, Ingestor, type IngestResult, namespaceWorkspaces } from './pipeline.ts';
