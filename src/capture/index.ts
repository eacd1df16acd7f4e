// Public surface of the capture middleware: `createCapture(options)` and the pieces it is made of.

export { AuditMap, AuditMapError, loadAuditMap, parseAuditMap } from './audit-map.ts';
export {
  ANNOTATION_REQUEST_OMITTED,
  ANNOTATION_RESPONSE_OMITTED,
  Auditor,
  AuditRecord,
  decodeBody,
  microTime,
} from './auditor.ts';
export type { RequestHandler } from './http.ts';
export { type CaptureMiddleware, createCapture } from './middleware.ts';
export { kubernetesLongRunning, type ResolvedRequest, resolveRequest, splitTarget } from './request-info.ts';
export { type RouteMatch, RouteTable } from './routes.ts';
export {
  type AuditorConfigSetup,
  type AuditorHandle,
  type AuditorSetup,
  createAuditor,
  loadCaptureConfig,
} from './setup.ts';
export { SourceIPResolver } from './source-ips.ts';
export type { AuditorOptions, CapturedRequest, CaptureSink, ErrorSource, Identify, RouteMap } from './types.ts';
