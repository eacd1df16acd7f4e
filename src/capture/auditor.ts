// The framework-agnostic core: one AuditRecord per audited request, driven by the adapters (node:http, Express,
// Fastify) through node's IncomingMessage/ServerResponse, which all three share. Stages follow kube-apiserver's
// WithAudit filter: RequestReceived before the handler, ResponseStarted when a long-running response sends its
// headers, ResponseComplete when it ends, Panic instead of ResponseComplete when the handler fails.
//
// Hot path: a request at level Metadata costs one URL split, the policy, one record object and the events; the
// request and response streams are only tapped (instance methods swapped for shared functions, no closures)
// when a body must be recorded or a ResponseStarted may be due.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cadfActionToVerb, maskCredentials, parseMaskPath } from '../event/index.ts';
import type { AuditEvent, Level, ObjectReference, ResponseStatus, Stage, UserInfo } from '../event/model.ts';
import type { PolicyDecision, PolicyEvaluator, RequestAttributes } from '../policy/types.ts';
import type { AuditMap } from './audit-map.ts';
import { kubernetesLongRunning, resolveRequest, splitTarget } from './request-info.ts';
import { RouteTable } from './routes.ts';
import { SourceIPResolver } from './source-ips.ts';
import type { AuditorOptions, CapturedRequest, CaptureSink, ErrorSource, Identify } from './types.ts';

/** Annotations Vigil adds when it leaves a body out. */
export const ANNOTATION_REQUEST_OMITTED = 'capture.vigil.dev/request-object-omitted';
export const ANNOTATION_RESPONSE_OMITTED = 'capture.vigil.dev/response-object-omitted';

const DEFAULT_BODY_LIMIT = 64 * 1024;
const USER_AGENT_LIMIT = 1024;
const ANONYMOUS: UserInfo = Object.freeze({
  username: 'system:anonymous',
  groups: Object.freeze(['system:unauthenticated']) as string[],
}) as UserInfo;
const NO_USER: UserInfo = Object.freeze({}) as UserInfo;

const kRecord = Symbol('vigil.capture.record');

/**
 * A framework's own response headers (Fastify's reply). Setting Audit-ID there rather than on the raw response
 * keeps node's writeHead on its fast path: a header set on the raw response makes it re-validate every header
 * the framework passes.
 */
export interface ReplyHeaders {
  header(name: string, value: string): unknown;
  hasHeader(name: string): boolean;
}
type Tapped = { [kRecord]?: AuditRecord };

function defaultOnError(err: unknown, during: ErrorSource): void {
  console.error(`vigil capture: ${during} failed:`, err);
}

export class Auditor {
  readonly policy: PolicyEvaluator;
  readonly sink: CaptureSink;
  readonly identify: Identify | undefined;
  readonly sourceIPs: SourceIPResolver;
  readonly routes: RouteTable | null;
  readonly auditMap: AuditMap | undefined;
  readonly serviceType: string | undefined;
  readonly serviceName: string;
  readonly longRunning: (attrs: RequestAttributes) => boolean;
  readonly streamingIsLongRunning: boolean;
  readonly bodyLimit: number;
  readonly strict: boolean;
  readonly onError: (err: unknown, during: ErrorSource) => void;
  readonly #maskPaths: ReturnType<typeof parseMaskPath>[] | undefined;
  #pending = 0;
  #idle: (() => void)[] = [];
  readonly #settled = (): void => {
    if (--this.#pending === 0) for (const f of this.#idle.splice(0)) f();
  };
  readonly #failed = (err: unknown): void => {
    this.onError(err, 'sink');
    this.#settled();
  };

  constructor(options: AuditorOptions) {
    if (typeof options?.policy?.evaluate !== 'function')
      throw new TypeError('createCapture: options.policy must have evaluate()');
    if (typeof options.sink?.write !== 'function') throw new TypeError('createCapture: options.sink must have write()');
    this.policy = options.policy;
    this.sink = options.sink;
    this.identify = options.identify;
    this.sourceIPs = new SourceIPResolver(options.trustedProxies);
    this.routes = options.routes && options.routes.length > 0 ? new RouteTable(options.routes) : null;
    this.auditMap = options.auditMap;
    this.serviceType = options.serviceType ?? options.auditMap?.targetEndpointType;
    this.serviceName = options.serviceName ?? this.serviceType ?? 'unknown';
    this.longRunning = options.longRunning ?? kubernetesLongRunning;
    this.streamingIsLongRunning = options.streamingIsLongRunning ?? true;
    this.bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
    if (!(this.bodyLimit >= 0)) throw new RangeError('createCapture: bodyLimit must be a number ≥ 0');
    this.strict = options.strict ?? false;
    this.onError = options.onError ?? defaultOnError;
    // Parsed once (a bad path fails here, at setup, not per request).
    this.#maskPaths = options.mask?.length ? options.mask.map(parseMaskPath) : undefined;
  }

  /**
   * Starts auditing a request: assigns the Audit-ID, resolves the attributes, asks the policy. Returns null when
   * the level is None (then nothing else happens). `identifyArg` is the framework's request object.
   */
  begin(
    req: IncomingMessage,
    res: ServerResponse,
    identifyArg: CapturedRequest,
    reply?: ReplyHeaders,
  ): AuditRecord | null {
    const header = req.headers['audit-id'];
    const auditID = typeof header === 'string' && header !== '' ? header : randomUUID();
    if (reply !== undefined) {
      if (!reply.hasHeader('audit-id')) reply.header('audit-id', auditID);
    } else if (!res.hasHeader('audit-id')) {
      res.setHeader('Audit-ID', auditID);
    }
    const method = req.method ?? 'GET';
    // Express rewrites req.url inside mounted routers; originalUrl is what the client sent.
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const { path, query } = splitTarget(url);
    const route = this.routes?.match(method, path, query);
    let attrs: RequestAttributes & { apiVersion: string };
    let action: string | undefined;
    let cadfAction: string | undefined;
    if (route !== undefined) {
      attrs = {
        verb: route.verb,
        resourceRequest: true,
        path,
        namespace: route.namespace,
        apiGroup: route.apiGroup,
        apiVersion: route.apiVersion,
        resource: route.resource,
        subresource: route.subresource,
        name: route.name,
      };
      action = route.action;
    } else {
      attrs = resolveRequest(method, path, query);
    }
    if (this.auditMap !== undefined) {
      // Until the body is read, POST …/action is an `update` (keystonemiddleware's `update/<first key>` prefix).
      cadfAction = this.auditMap.actionNeedsBody(method, path) ? 'update' : this.auditMap.cadfAction(method, path);
      // An OpenStack-style API: the verb is the action's, as Vigil reads real CADF events (read/list → list…).
      if (route === undefined && !attrs.resourceRequest) attrs.verb = cadfActionToVerb(cadfAction);
    }
    let who: UserInfo | null | undefined;
    if (this.identify !== undefined) {
      try {
        who = this.identify(identifyArg);
      } catch (err) {
        // A failing identify must not take the request down: the caller counts as not authenticated.
        this.onError(err, 'identify');
        who = null;
      }
    }
    if (who !== null) attrs.user = who ?? ANONYMOUS;
    const decision = this.policy.evaluate(attrs);
    if (decision.level === 'None') return null;
    return new AuditRecord(this, req, res, attrs, decision, auditID, url, action, cadfAction);
  }

  /**
   * Hands one event to the sink, its credentials masked as the collector masks what it ingests (one function for
   * both): what capture writes to a log, a webhook or a broker holds no more secrets than the store. The promise is
   * the sink's (callers in strict mode wait on it).
   */
  send(event: AuditEvent): Promise<void> {
    let p: Promise<void>;
    try {
      p = this.sink.write([maskCredentials(event, this.#maskPaths)]);
    } catch (err) {
      p = Promise.reject(err);
    }
    this.#pending++;
    p.then(this.#settled, this.#failed);
    return p;
  }

  /** Resolves once every event handed to the sink so far has been written (or failed). */
  flush(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

const CLOSED_EARLY: ResponseStatus = Object.freeze({
  metadata: {},
  code: 200,
  status: 'Success',
  message: 'Connection closed early',
}) as ResponseStatus;

/** The audit state of one request. */
export class AuditRecord {
  readonly auditor: Auditor;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly level: Level;
  readonly auditID: string;
  readonly requestURI: string;
  readonly attrs: RequestAttributes & { apiVersion: string };
  readonly user: UserInfo;
  readonly sourceIPs: string[];
  readonly userAgent: string | undefined;
  readonly objectRef: ObjectReference | undefined;
  readonly receivedAt: number;
  /** The decision's omitStages (at most four; the checker shares and freezes them, so no copy is made). */
  readonly omit: readonly Stage[];
  readonly omitManagedFields: boolean;
  readonly longRunning: boolean;
  readonly contentType: string | undefined;
  /** Record the request body (level ≥ Request on a resource request). */
  readonly recordRequest: boolean;
  readonly recordResponse: boolean;
  origin: AuditEvent['origin'];
  /** The CADF action still depends on the request body (POST …/action). */
  cadfNeedsBody: boolean;
  /** The verb; with an audit map it can follow the action once the body is known. */
  verb: string;
  /** The verb is the audit map's action (not a Kubernetes or route-map verb). */
  verbFromMap: boolean;
  annotations: Record<string, string> | undefined;
  #receivedStamp: string | undefined;
  done = false;
  started = false;
  headersFlushed = false;
  reqChunks: Buffer[] | null = null;
  reqBytes = 0;
  resChunks: Buffer[] | null = null;
  resBytes = 0;
  origReqEmit: IncomingMessage['emit'] | undefined;
  origWrite: ServerResponse['write'] | undefined;
  origEnd: ServerResponse['end'] | undefined;
  origWriteHead: ServerResponse['writeHead'] | undefined;
  /** Content-Type passed straight to writeHead (Fastify does): node keeps no getHeader() for those. */
  responseContentType: string | undefined;
  origFlushHeaders: ServerResponse['flushHeaders'] | undefined;

  constructor(
    auditor: Auditor,
    req: IncomingMessage,
    res: ServerResponse,
    attrs: RequestAttributes & { apiVersion: string },
    decision: PolicyDecision,
    auditID: string,
    requestURI: string,
    action: string | undefined,
    cadfAction: string | undefined,
  ) {
    this.auditor = auditor;
    this.req = req;
    this.res = res;
    this.receivedAt = nowMicros();
    this.level = decision.level;
    this.auditID = auditID;
    this.requestURI = requestURI;
    this.attrs = attrs;
    this.user = attrs.user ?? NO_USER;
    this.sourceIPs = auditor.sourceIPs.resolve(req.socket?.remoteAddress, req.headers);
    this.userAgent = truncateUserAgent(req.headers['user-agent']);
    this.objectRef = attrs.resourceRequest ? objectRef(attrs) : undefined;
    this.omit = decision.omitStages;
    this.omitManagedFields = decision.omitManagedFields;
    this.longRunning = auditor.longRunning(attrs);
    this.contentType = req.headers['content-type'];
    const rank = this.level === 'RequestResponse' ? 3 : this.level === 'Request' ? 2 : 1;
    // As kube-apiserver: request and response objects are never recorded for non-resource requests.
    this.recordRequest = rank >= 2 && attrs.resourceRequest;
    this.recordResponse = rank >= 3 && attrs.resourceRequest;
    this.cadfNeedsBody = false;
    this.origin = undefined;
    this.verb = attrs.verb;
    this.verbFromMap = false;
    if (cadfAction !== undefined) {
      const map = auditor.auditMap!;
      this.cadfNeedsBody = map.actionNeedsBody(req.method ?? 'GET', attrs.path);
      this.verbFromMap = !attrs.resourceRequest;
      const typeURI = map.cadfTargetTypeURI(attrs.path, auditor.serviceType);
      const name = auditor.serviceName;
      this.origin = {
        cadf: {
          action: cadfAction,
          target: typeURI === 'unknown' ? { typeURI, id: 'unknown', name: 'unknown' } : { typeURI, id: name, name },
          observer: { id: 'target' },
        },
      };
    }
    if (action !== undefined) this.origin = { ...this.origin, openfaas: { actions: [action] } };

    (req as Tapped)[kRecord] = this;
    (res as Tapped)[kRecord] = this;
    if (this.recordRequest || this.cadfNeedsBody) {
      this.reqChunks = [];
      this.origReqEmit = req.emit;
      req.emit = tapRequestEmit as IncomingMessage['emit'];
    }
    const mayStart = !this.omits('ResponseStarted') && (this.longRunning || auditor.streamingIsLongRunning);
    if (this.recordResponse || mayStart) {
      this.origWrite = res.write;
      res.write = tapWrite as ServerResponse['write'];
      this.origFlushHeaders = res.flushHeaders;
      res.flushHeaders = tapFlushHeaders;
    }
    if (this.recordResponse) {
      this.resChunks = [];
      this.origEnd = res.end;
      res.end = tapEnd as ServerResponse['end'];
      this.origWriteHead = res.writeHead;
      res.writeHead = tapWriteHead as ServerResponse['writeHead'];
    }
    // 'close' comes once per response (after 'finish', or alone when the connection dies); `on` avoids once()'s wrapper.
    res.on('close', onResponseClose);
  }

  omits(stage: Stage): boolean {
    return this.omit.length !== 0 && this.omit.includes(stage);
  }

  /**
   * Emits RequestReceived. In strict mode returns the sink's promise, which the adapter waits on (a rejection means
   * "answer 500 failed to store audit event"); otherwise returns undefined.
   */
  received(): Promise<void> | undefined {
    if (this.omits('RequestReceived')) return undefined;
    const p = this.auditor.send(this.event('RequestReceived', this.receivedAt, undefined));
    return this.auditor.strict ? p : undefined;
  }

  /** Strict mode: RequestReceived could not be stored; the adapter answers 500 and nothing else is recorded. */
  rejected(res: ServerResponse): void {
    this.done = true;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`Internal Server Error: ${JSON.stringify(this.attrs.path)}: failed to store audit event\n`);
  }

  /** The handler threw (or its promise rejected): a Panic event replaces ResponseComplete. */
  panic(err: unknown): void {
    if (this.done) return;
    this.done = true;
    const message = err instanceof Error ? err.message : String(err);
    this.emit('Panic', {
      metadata: {},
      code: 500,
      status: 'Failure',
      reason: 'InternalError',
      message: `APIServer panic'd: ${message}`,
    });
  }

  /** First bytes of the response go out (write or flushHeaders before end). */
  headersOut(res: ServerResponse, early: boolean): void {
    this.headersFlushed = true;
    if (this.started || this.done || this.omits('ResponseStarted')) return;
    if (this.longRunning || (early && this.auditor.streamingIsLongRunning && isStreamed(res))) {
      this.started = true;
      this.emit('ResponseStarted', { metadata: {}, code: res.statusCode });
    }
  }

  /** The response ended or the connection closed. */
  closed(res: ServerResponse): void {
    if (this.done) return;
    this.done = true;
    let status: ResponseStatus;
    if (res.writableFinished || res.headersSent) {
      status = { metadata: {}, code: res.statusCode };
    } else {
      status = CLOSED_EARLY;
    }
    if (this.longRunning && !this.started && !this.omits('ResponseStarted')) {
      this.started = true;
      this.emit('ResponseStarted', status);
    }
    this.emit('ResponseComplete', status);
  }

  emit(stage: Stage, status: ResponseStatus | undefined): void {
    if (this.omits(stage)) return;
    this.auditor.send(this.event(stage, nowMicros(), status));
  }

  event(stage: Stage, at: number, status: ResponseStatus | undefined): AuditEvent {
    this.#receivedStamp ??= microTime(this.receivedAt);
    const ev: AuditEvent = {
      level: this.level,
      auditID: this.auditID,
      stage,
      requestURI: this.requestURI,
      verb: this.verb,
      user: this.user,
      requestReceivedTimestamp: this.#receivedStamp,
      stageTimestamp: at === this.receivedAt ? this.#receivedStamp : microTime(at),
      source: 'vigil',
    };
    if (this.sourceIPs.length > 0) ev.sourceIPs = this.sourceIPs;
    if (this.userAgent !== undefined) ev.userAgent = this.userAgent;
    if (this.objectRef !== undefined) ev.objectRef = this.objectRef;
    if (stage !== 'RequestReceived') this.bodies(ev, status);
    else if (this.annotations !== undefined) ev.annotations = { ...this.annotations };
    if (status !== undefined && ev.responseStatus === undefined) ev.responseStatus = status;
    if (this.origin !== undefined) ev.origin = this.origin;
    return ev;
  }

  /** Request/response objects for the later stages, with the objectRef completed from the request object. */
  bodies(ev: AuditEvent, status: ResponseStatus | undefined): void {
    let requestObject: unknown;
    if (this.reqChunks !== null && this.reqChunks.length > 0) {
      requestObject = decodeBody(this.reqChunks, this.reqBytes, this.contentType);
    } else if (this.reqChunks !== null && this.reqBytes === 0) {
      requestObject = this.parsedBody();
    }
    if (requestObject !== undefined) {
      if (this.cadfNeedsBody) {
        this.cadfNeedsBody = false;
        const action = this.auditor.auditMap!.cadfAction('POST', this.attrs.path, requestObject);
        this.origin = { ...this.origin, cadf: { ...this.origin?.cadf, action } };
        if (this.verbFromMap) this.verb = cadfActionToVerb(action);
      }
      ev.verb = this.verb;
    }
    if (this.reqChunks === null && this.reqBytes > this.auditor.bodyLimit)
      this.annotate(ANNOTATION_REQUEST_OMITTED, this.reqBytes);
    if (this.recordRequest && requestObject !== undefined) {
      if (this.omitManagedFields) dropManagedFields(requestObject);
      ev.requestObject = requestObject;
      ev.objectRef = completeObjectRef(this.objectRef, requestObject);
    }
    if (this.recordResponse && ev.stage !== 'ResponseStarted') {
      if (this.resChunks !== null && this.resChunks.length > 0) {
        const responseObject = decodeBody(
          this.resChunks,
          this.resBytes,
          contentTypeOf(this.res) ?? this.responseContentType,
        );
        if (this.omitManagedFields) dropManagedFields(responseObject);
        ev.responseObject = responseObject;
        if (status !== undefined) ev.responseStatus = statusFrom(responseObject, status);
      } else if (this.resChunks === null && this.resBytes > this.auditor.bodyLimit) {
        this.annotate(ANNOTATION_RESPONSE_OMITTED, this.resBytes);
      }
    }
    if (this.annotations !== undefined) ev.annotations = { ...this.annotations };
  }

  /**
   * The body a framework parsed before the audit middleware could see the stream (an Express body parser
   * registered before it): a copy (masking and managedFields removal change it; the handler's stays as it is),
   * skipped past the size limit.
   */
  parsedBody(): unknown {
    const body = (this.req as { body?: unknown }).body;
    if (body === undefined || Buffer.isBuffer(body)) return undefined;
    const length = Number(this.req.headers['content-length']);
    if (length > this.auditor.bodyLimit) {
      this.reqBytes = length;
      this.reqChunks = null;
      return undefined;
    }
    try {
      return structuredClone(body);
    } catch {
      // Not plain data (a function, a class with private state): it could not be masked, so it is left out.
      return undefined;
    }
  }

  annotate(key: string, bytes: number): void {
    this.annotations ??= {};
    // First writer wins, as kube-apiserver's AddAuditAnnotation.
    this.annotations[key] ??= `body of ${bytes} bytes exceeds the ${this.auditor.bodyLimit}-byte limit`;
  }

  requestChunk(chunk: unknown): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    this.reqBytes += buf.length;
    if (this.reqChunks === null) return;
    if (this.reqBytes > this.auditor.bodyLimit) this.reqChunks = null;
    else this.reqChunks.push(buf);
  }

  responseChunk(chunk: unknown, encoding: unknown): void {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array);
    this.resBytes += buf.length;
    if (this.resChunks === null) return;
    if (this.resBytes > this.auditor.bodyLimit) this.resChunks = null;
    else this.resChunks.push(buf);
  }
}

// Shared (not per-request) replacements of stream methods; they find their record through a symbol property.

function tapRequestEmit(this: IncomingMessage & Tapped, event: string | symbol, ...args: unknown[]): boolean {
  const rec = this[kRecord]!;
  if (event === 'data') rec.requestChunk(args[0]);
  return rec.origReqEmit!.call(this, event, ...args);
}

function tapWrite(this: ServerResponse & Tapped, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const rec = this[kRecord]!;
  if (!rec.headersFlushed) rec.headersOut(this, true);
  if (rec.resChunks !== null) rec.responseChunk(chunk, encoding);
  return (rec.origWrite as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
}

function tapEnd(this: ServerResponse & Tapped, chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
  const rec = this[kRecord]!;
  if (rec.resChunks !== null) rec.responseChunk(chunk, encoding);
  return (rec.origEnd as (...a: unknown[]) => ServerResponse).call(this, chunk, encoding, cb);
}

function tapWriteHead(this: ServerResponse & Tapped, ...args: unknown[]): ServerResponse {
  const rec = this[kRecord]!;
  const headers = args[args.length - 1];
  if (headers !== null && typeof headers === 'object') rec.responseContentType = findContentType(headers);
  return (rec.origWriteHead as (...a: unknown[]) => ServerResponse).apply(this, args);
}

/** Content-Type in writeHead's headers: an object, a flat [name, value, …] array or [[name, value], …]. */
function findContentType(headers: object): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i];
      if (Array.isArray(h)) {
        if (String(h[0]).toLowerCase() === 'content-type') return String(h[1]);
      } else if (i % 2 === 0 && String(h).toLowerCase() === 'content-type') {
        return String(headers[i + 1]);
      }
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'content-type') return String(v);
  return undefined;
}

function tapFlushHeaders(this: ServerResponse & Tapped): void {
  const rec = this[kRecord]!;
  if (!rec.headersFlushed) rec.headersOut(this, true);
  rec.origFlushHeaders!.call(this);
}

function onResponseClose(this: ServerResponse & Tapped): void {
  this[kRecord]?.closed(this);
}

/** The audit record of a request, for adapters. */
export function recordOf(req: IncomingMessage): AuditRecord | undefined {
  return (req as Tapped)[kRecord];
}

/** A response whose headers go out before its end is streamed unless it declared its length (SSE always is). */
function isStreamed(res: ServerResponse): boolean {
  const type = res.getHeader('content-type');
  if (typeof type === 'string' && type.startsWith('text/event-stream')) return true;
  return res.getHeader('content-length') === undefined;
}

function contentTypeOf(res: ServerResponse): string | undefined {
  const type = res.getHeader('content-type');
  return type === undefined ? undefined : String(type);
}

function objectRef(attrs: RequestAttributes & { apiVersion: string }): ObjectReference {
  const ref: ObjectReference = { resource: attrs.resource };
  if (attrs.namespace !== '') ref.namespace = attrs.namespace;
  if (attrs.name !== '') ref.name = attrs.name;
  if (attrs.apiGroup !== '') ref.apiGroup = attrs.apiGroup;
  if (attrs.apiVersion !== '') ref.apiVersion = attrs.apiVersion;
  if (attrs.subresource !== '') ref.subresource = attrs.subresource;
  return ref;
}

/** LogRequestObject: a missing namespace/name, and uid/resourceVersion, come from the request object's metadata. */
function completeObjectRef(ref: ObjectReference | undefined, obj: unknown): ObjectReference | undefined {
  if (ref === undefined || obj === null || typeof obj !== 'object') return ref;
  const meta = (obj as { metadata?: unknown }).metadata;
  if (meta === null || typeof meta !== 'object') return ref;
  const m = meta as Record<string, unknown>;
  const out = { ...ref };
  if (!out.namespace && typeof m.namespace === 'string' && m.namespace !== '') out.namespace = m.namespace;
  if (!out.name && typeof m.name === 'string' && m.name !== '') out.name = m.name;
  if (!out.uid && typeof m.uid === 'string' && m.uid !== '') out.uid = m.uid;
  if (!out.resourceVersion && typeof m.resourceVersion === 'string' && m.resourceVersion !== '') {
    out.resourceVersion = m.resourceVersion;
  }
  return out;
}

/** A Status response body gives the event its status, message, reason and details (as kube-apiserver copies them). */
function statusFrom(body: unknown, status: ResponseStatus): ResponseStatus {
  if (body === null || typeof body !== 'object' || (body as { kind?: unknown }).kind !== 'Status') return status;
  const s = body as Record<string, unknown>;
  const out: ResponseStatus = { ...status };
  if (typeof s.status === 'string') out.status = s.status;
  if (typeof s.message === 'string') out.message = s.message;
  if (typeof s.reason === 'string') out.reason = s.reason;
  if (s.details !== undefined) out.details = s.details;
  return out;
}

/** omitManagedFields: drops metadata.managedFields of an object or of each item of a list (bodies are our own copies). */
function dropManagedFields(obj: unknown): void {
  if (obj === null || typeof obj !== 'object') return;
  const meta = (obj as { metadata?: Record<string, unknown> }).metadata;
  if (meta !== null && typeof meta === 'object') delete meta.managedFields;
  const items = (obj as { items?: unknown }).items;
  if (Array.isArray(items)) for (const item of items) dropManagedFields(item);
}

/**
 * A body as the event carries it: JSON parsed when the content type is JSON, text as a string, anything else as
 * `{ encoding: 'base64', data }`.
 */
export function decodeBody(chunks: Buffer[], bytes: number, contentType: string | undefined): unknown {
  const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('json')) {
    const text = buf.toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (isUtf8(buf) && (type === '' || type.startsWith('text/') || type.includes('xml') || type.includes('urlencoded'))) {
    return buf.toString('utf8');
  }
  return { encoding: 'base64', data: buf.toString('base64') };
}

function truncateUserAgent(ua: string | undefined): string | undefined {
  if (ua === undefined || ua === '') return undefined;
  if (ua.length <= USER_AGENT_LIMIT / 3 || Buffer.byteLength(ua) <= USER_AGENT_LIMIT) return ua;
  return `${Buffer.from(ua).subarray(0, USER_AGENT_LIMIT).toString()}...TRUNCATED`;
}

// Read once: the getter checks its receiver on every call, which showed in the capture profile.
const TIME_ORIGIN = performance.timeOrigin;

/** Microseconds since the epoch (Kubernetes MicroTime resolution). */
export function nowMicros(): number {
  return Math.floor((TIME_ORIGIN + performance.now()) * 1000);
}

// The date-and-seconds part changes once a second: format it then, not for every event.
let cachedSecond = -1;
let cachedPrefix = '';

/** `2006-01-02T15:04:05.000000Z`, always six fraction digits, UTC. */
export function microTime(us: number): string {
  const second = Math.floor(us / 1e6);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  return `${cachedPrefix}${String(us - second * 1e6).padStart(6, '0')}Z`;
}
