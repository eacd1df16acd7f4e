// Public surface of ingest: the HTTP paths, the AMQP source and the shared append pipeline.
export { AmqpSource, type AmqpSourceOptions, amqpNames } from './amqp.ts';
export { HttpError, type IngestOptions, registerIngest, verifySignature } from './http.ts';
export { Ingestor, namespaceWorkspaces } from './pipeline.ts';
