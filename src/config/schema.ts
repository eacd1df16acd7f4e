// The one place that knows which keys `vigil.yaml` may hold. Each top-level section registers its shape in
// SECTIONS; an unknown key anywhere fails at start with file:line:col, so typos never silently fall back to defaults.

/** A config value's expected shape. `describe` strings name the shape in error messages. */
export type Spec =
  | { kind: 'string' }
  | { kind: 'int'; min?: number; max?: number }
  | { kind: 'bool' }
  | { kind: 'duration' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; of: Spec }
  | { kind: 'map'; of: Spec }
  | { kind: 'object'; fields: Record<string, Spec>; required?: readonly string[]; oneOf?: readonly string[] }
  | { kind: 'any' };

const str: Spec = { kind: 'string' };

export const ROLES = ['admin', 'tenant', 'ingest'] as const;
export type Role = (typeof ROLES)[number];

/** Top-level sections. Other stages add theirs here (rules, receivers, capture…), one entry each. */
export const SECTIONS: Record<string, Spec> = {
  listen: str,
  storage: { kind: 'object', fields: { type: { kind: 'enum', values: ['sqlite'] }, path: str } },
  retention: { kind: 'duration' },
  ingest: {
    kind: 'object',
    fields: {
      maxBodyBytes: { kind: 'int', min: 1024 },
      openfaas: { kind: 'object', fields: { secret: str, secretFile: str }, oneOf: ['secret', 'secretFile'] },
      amqp: {
        kind: 'list',
        of: {
          kind: 'object',
          fields: { url: str, exchange: str, topic: str, queue: str, passive: { kind: 'bool' } },
          required: ['url', 'exchange'],
        },
      },
    },
  },
  auth: {
    kind: 'object',
    fields: {
      tokens: {
        kind: 'list',
        of: {
          kind: 'object',
          fields: {
            name: str,
            token: str,
            role: { kind: 'enum', values: ROLES },
            workspaces: { kind: 'list', of: str },
            namespaces: { kind: 'list', of: str },
          },
          required: ['name', 'token', 'role'],
        },
      },
    },
  },
  workspaces: { kind: 'map', of: { kind: 'list', of: str } },
};

export interface TokenConfig {
  name: string;
  token: string;
  role: Role;
  workspaces?: string[];
  namespaces?: string[];
}

export interface AmqpSourceConfig {
  url: string;
  exchange: string;
  /** oslo.messaging topic; the queue is bound with `<topic>.info`. Default `notifications`. */
  topic?: string;
  /** Vigil's own queue (never oslo's shared `notifications.info`). Default `vigil.<exchange>.<topic>`. */
  queue?: string;
  /** Check that the exchange exists instead of declaring it. */
  passive?: boolean;
}

/** The configuration after validation and defaults. Keys of sections other stages own stay in `sections`. */
export interface VigilConfig {
  listen: string;
  storage: { type: 'sqlite'; path: string };
  /** Milliseconds. */
  retention: number;
  ingest: {
    maxBodyBytes: number;
    openfaas?: { secret?: string; secretFile?: string };
    amqp: AmqpSourceConfig[];
  };
  auth: { tokens: TokenConfig[] };
  workspaces: Record<string, string[]>;
  /** Every top-level section as written (validated), for stages that read their own. */
  sections: Record<string, unknown>;
}

export const DEFAULTS = {
  listen: '127.0.0.1:8080',
  dataDir: './data',
  dbFile: 'vigil.db',
  retention: '7d',
  maxBodyBytes: 10 * 1024 * 1024,
} as const;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;

/** `30s`, `15m`, `7d`, `2w` → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT_MS[m[2]!]!;
  return n > 0 ? n : undefined;
}
