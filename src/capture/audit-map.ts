// keystonemiddleware's audit map (`api_audit_map.conf`) and the two things it decides: the CADF action of a call
// and the target's typeURI. The file is read with the Python ConfigParser semantics that change results — keys
// lower-cased, `[DEFAULT]` entries visible in every section, `%` interpolation, `None` kept as the text "None".
// The parser is hand-written on purpose: no installed INI library reproduces ConfigParser's DEFAULT leak,
// continuation lines and interpolation, and those decide the actions and typeURIs.
import { readFileSync } from 'node:fs';

export class AuditMapError extends Error {
  override name = 'AuditMapError';
}

interface RawOption {
  lines: string[];
  line: number;
}
type RawSection = Map<string, RawOption>;

const SECTION = /^\[(.+)\]/;
const OPTION = /^(.*?)\s*([=:])\s*(.*)$/;
const MAX_INTERPOLATION_DEPTH = 10;

export class AuditMap {
  /** `[DEFAULT] target_endpoint_type`: the catalog service type used when none is given. */
  readonly targetEndpointType: string | undefined;
  /** `[path_keywords]` (with the DEFAULT entries, as ConfigParser's `items()` returns them). */
  readonly pathKeywords: ReadonlyMap<string, string>;
  readonly customActions: ReadonlyMap<string, string>;
  readonly serviceEndpoints: ReadonlyMap<string, string>;

  constructor(sections: {
    targetEndpointType?: string;
    pathKeywords?: Iterable<[string, string]>;
    customActions?: Iterable<[string, string]>;
    serviceEndpoints?: Iterable<[string, string]>;
  }) {
    this.targetEndpointType = sections.targetEndpointType;
    this.pathKeywords = new Map(sections.pathKeywords ?? []);
    this.customActions = new Map(sections.customActions ?? []);
    this.serviceEndpoints = new Map(sections.serviceEndpoints ?? []);
  }

  /**
   * The CADF action keystonemiddleware gives a call (`_api.py` get_action). `body` is the parsed JSON request body;
   * it only matters for POST to a path ending in `action` (`update/<first key>`).
   */
  cadfAction(method: string, path: string, body?: unknown): string {
    const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
    const ending = cleanSegment(trimmed.slice(trimmed.lastIndexOf('/') + 1));
    const custom = this.customActions.get(`${ending}/${method.toLowerCase()}`) ?? this.customActions.get(ending);
    if (custom !== undefined) return custom;
    switch (method) {
      case 'POST':
        if (ending === 'action') {
          // Python's `if req.json:` — an empty or non-JSON body is a create; keystonemiddleware fails on a truthy
          // non-object (no event at all); here that is a create too.
          if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
            const first = Object.keys(body)[0];
            if (first !== undefined) return `update/${first}`;
          }
          return 'create';
        }
        return this.pathKeywords.has(ending) ? 'create' : 'update';
      case 'GET':
        return this.pathKeywords.has(ending) ? 'read/list' : 'read';
      case 'PUT':
      case 'PATCH':
        return 'update';
      case 'DELETE':
        return 'delete';
      case 'HEAD':
        return 'read';
      default:
        return 'unknown';
    }
  }

  /** True when the action of this call depends on its body (POST …/action with no custom action). */
  actionNeedsBody(method: string, path: string): boolean {
    if (method !== 'POST') return false;
    const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
    const ending = cleanSegment(trimmed.slice(trimmed.lastIndexOf('/') + 1));
    return ending === 'action' && !this.customActions.has('action/post') && !this.customActions.has('action');
  }

  /** The service typeURI from `[service_endpoints]`, or `unknown`. */
  serviceTypeURI(serviceType: string | undefined): string {
    return (serviceType !== undefined && this.serviceEndpoints.get(serviceType)) || 'unknown';
  }

  /**
   * The target typeURI (`_build_typeURI`): the service's typeURI plus `/keyword` for each path keyword and the
   * keyword's value for the segment after it (ids vanish; `None` is appended as is; a trailing slash adds the
   * value of the last keyword). An unmapped service type gives just `unknown`.
   */
  cadfTargetTypeURI(path: string, serviceType: string | undefined): string {
    const service = this.serviceTypeURI(serviceType);
    if (service === 'unknown') return service;
    let uri = service;
    let prev: string | undefined;
    for (const raw of path.split('/')) {
      const seg = cleanSegment(raw);
      const own = this.pathKeywords.get(seg);
      if (own !== undefined) uri += `/${seg}`;
      else if (prev !== undefined) {
        const v = this.pathKeywords.get(prev);
        if (v !== undefined) uri += `/${v}`;
      }
      prev = seg;
    }
    return uri;
  }
}

function cleanSegment(s: string): string {
  return s.endsWith('.json') ? s.slice(0, -5) : s;
}

export function loadAuditMap(file: string): AuditMap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AuditMapError(`${file}: cannot read the audit map: ${(err as Error).message}`);
  }
  return parseAuditMap(text, file);
}

/** Parses an audit map with ConfigParser's rules; errors name the file and line. */
export function parseAuditMap(text: string, file = '<audit map>'): AuditMap {
  const { defaults, sections } = parseIni(text, file);
  const items = (name: string): [string, string][] => {
    const section = sections.get(name);
    if (section === undefined) return [];
    // ConfigParser.items(section): DEFAULT first, then the section's own entries overriding them.
    const merged = new Map<string, RawOption>([...defaults, ...section]);
    return [...merged].map(([k, opt]) => [k, interpolate(opt, k, merged, file, 0)]);
  };
  const target = defaults.get('target_endpoint_type');
  return new AuditMap({
    targetEndpointType:
      target === undefined ? undefined : interpolate(target, 'target_endpoint_type', defaults, file, 0),
    pathKeywords: items('path_keywords'),
    customActions: items('custom_actions'),
    serviceEndpoints: items('service_endpoints'),
  });
}

function parseIni(text: string, file: string): { defaults: RawSection; sections: Map<string, RawSection> } {
  const defaults: RawSection = new Map();
  const sections = new Map<string, RawSection>();
  let current: RawSection | null = null;
  let currentName = '';
  let option: RawOption | null = null;
  let indent = 0;
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    const stripped = line.trim();
    const isComment = stripped.startsWith('#') || stripped.startsWith(';');
    if (stripped === '' || isComment) {
      // An empty line inside a multi-line value is part of it; a comment line is skipped.
      if (!isComment && option !== null) option.lines.push('');
      continue;
    }
    const lineIndent = line.length - line.trimStart().length;
    if (option !== null && lineIndent > indent) {
      option.lines.push(stripped);
      continue;
    }
    indent = lineIndent;
    const header = SECTION.exec(stripped);
    if (header !== null) {
      const name = header[1];
      option = null;
      if (name === 'DEFAULT') {
        current = defaults;
      } else {
        if (sections.has(name)) throw new AuditMapError(`${file}:${lineNo}: section [${name}] appears twice`);
        current = new Map();
        sections.set(name, current);
      }
      currentName = name;
      continue;
    }
    if (current === null) {
      throw new AuditMapError(`${file}:${lineNo}: a section header like [path_keywords] must come first`);
    }
    const m = OPTION.exec(stripped);
    if (m === null || m[1] === '') {
      throw new AuditMapError(
        `${file}:${lineNo}: expected "key = value" or "key: value", found ${JSON.stringify(stripped)}`,
      );
    }
    const key = m[1].trimEnd().toLowerCase();
    if (current.has(key)) {
      throw new AuditMapError(`${file}:${lineNo}: option "${key}" appears twice in section [${currentName}]`);
    }
    option = { lines: [m[3].trim()], line: lineNo };
    current.set(key, option);
  }
  return { defaults, sections };
}

/** BasicInterpolation: `%%` is `%`, `%(name)s` the (lower-cased) option of the same section or DEFAULT. */
function interpolate(opt: RawOption, key: string, scope: Map<string, RawOption>, file: string, depth: number): string {
  const value = opt.lines.join('\n').trimEnd();
  if (!value.includes('%')) return value;
  if (depth >= MAX_INTERPOLATION_DEPTH) {
    throw new AuditMapError(
      `${file}:${opt.line}: "${key}": interpolation deeper than ${MAX_INTERPOLATION_DEPTH} levels`,
    );
  }
  let out = '';
  let i = 0;
  while (i < value.length) {
    const p = value.indexOf('%', i);
    if (p < 0) {
      out += value.slice(i);
      break;
    }
    out += value.slice(i, p);
    const next = value[p + 1];
    if (next === '%') {
      out += '%';
      i = p + 2;
    } else if (next === '(') {
      const close = value.indexOf(')', p);
      if (close < 0 || value[close + 1] !== 's' || close === p + 2) {
        throw new AuditMapError(
          `${file}:${opt.line}: "${key}": bad interpolation reference in ${JSON.stringify(value)}`,
        );
      }
      const ref = value.slice(p + 2, close).toLowerCase();
      const target = scope.get(ref);
      if (target === undefined) {
        throw new AuditMapError(`${file}:${opt.line}: "${key}": interpolation refers to missing option "${ref}"`);
      }
      out += interpolate(target, ref, scope, file, depth + 1);
      i = close + 2;
    } else {
      throw new AuditMapError(
        `${file}:${opt.line}: "${key}": '%' must be followed by '%' or '(' (write %% for a literal %), found ${JSON.stringify(value.slice(p))}`,
      );
    }
  }
  return out;
}
