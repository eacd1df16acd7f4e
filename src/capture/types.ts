// Options of the capture middleware. The core takes objects only (an evaluator, a sink); loading policy files,
// sink configs or a vigil.yaml is a layer on top that builds these objects.
import type { IncomingHttpHeaders } from 'node:http';
import type { UserInfo } from '../event/model.ts';
import type { PolicyEvaluator, RequestAttributes } from '../policy/types.ts';
import type { Sink } from '../sinks/types.ts';
import type { AuditMap } from './audit-map.ts';

/** Where captured events go: any of `src/sinks` (only `write` is used), or anything with that method. */
export type CaptureSink = Pick<Sink, 'write'>;

/** The request as `identify` sees it: node's IncomingMessage, Express's Request or Fastify's FastifyRequest. */
export interface CapturedRequest {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
}

/**
 * Who made the request. `undefined` means anonymous (`system:anonymous` in `system:unauthenticated`, as
 * kube-apiserver with anonymous auth); `null` means authentication failed: the policy sees no user and the event
 * carries `user: {}`.
 */
export type Identify = (req: CapturedRequest) => UserInfo | null | undefined;

/**
 * A route map entry for APIs that are not Kubernetes-shaped: the first entry whose method and pattern match gives
 * the request's resource attributes. Values of `namespace`, `name`, `subresource` are literals, `:group` (a named
 * group of the pattern) or `?param` (a query parameter).
 */
export interface RouteMap {
  /** HTTP method(s), upper-case; any method when omitted. */
  method?: string | string[];
  /** A URLPattern pathname pattern, e.g. `/system/functions/:name`. */
  pattern: string;
  resource: string;
  apiGroup?: string;
  apiVersion?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The verb; when omitted it follows the Kubernetes rules (GET without name = list, DELETE without = deletecollection…). */
  verb?: string;
  /** A product-specific action name (OpenFaaS `Function:List`), kept in `origin.openfaas.actions`. */
  action?: string;
}

/** What failed: the sink's write, the request handler (recorded as Panic), or `identify`. */
export type ErrorSource = 'sink' | 'handler' | 'identify';

export interface AuditorOptions {
  policy: PolicyEvaluator;
  /** With src/sinks, `strict: true` goes with a `blocking-strict` sink (whose write rejects on failure). */
  sink: CaptureSink;
  identify?: Identify;
  /** CIDRs (or single addresses) of proxies whose `X-Forwarded-For` / `X-Real-Ip` headers are believed. */
  trustedProxies?: string[];
  routes?: RouteMap[];
  /** A keystonemiddleware audit map: events then carry `origin.cadf` (action, target, observer). */
  auditMap?: AuditMap;
  /** The catalog service type for the audit map's `[service_endpoints]`; default its `target_endpoint_type`. */
  serviceType?: string;
  /** CADF target id and name (keystonemiddleware uses the catalog's service name, e.g. `octavia`). */
  serviceName?: string;
  /**
   * Which requests are long-running (they get a ResponseStarted event when their headers go out). Default as
   * kube-apiserver: verbs watch and proxy, subresources attach, exec, proxy, log, portforward.
   */
  longRunning?: (attrs: RequestAttributes) => boolean;
  /**
   * Also treat a response as long-running when it is streamed: headers flushed before the end (a write before
   * end, or flushHeaders) without Content-Length, or `text/event-stream`. Default true.
   */
  streamingIsLongRunning?: boolean;
  /** Largest request or response body recorded, in bytes (default 64 KiB). Larger ones are left out, with an annotation. */
  bodyLimit?: number;
  /**
   * More fields written as `***` (dot paths from the event root, `[n]`/`[*]` for items, e.g.
   * `requestObject.spec.env[*].value`), besides the credentials every event is masked of as the collector masks them.
   */
  mask?: string[];
  /** Blocking-strict: a failed RequestReceived write rejects the request with 500 "failed to store audit event". */
  strict?: boolean;
  /** Told about sink failures, handler errors and identify errors; default writes them to stderr. */
  onError?: (err: unknown, during: ErrorSource) => void;
}
