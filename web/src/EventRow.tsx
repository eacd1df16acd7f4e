// The result list's columns: KubeSphere's Auditing Operating view's, Vigil's source, and optional ones (cluster,
// workspace, groups, user agent, latency, stage, status message) a column chooser adds. One table: the head, the
// rows and the chooser derive from COLUMNS.
import type { ComponentChildren } from 'preact';
import type { AuditEvent } from './api.ts';
import { codeClass, formatListTime, latency, reasonPhrase } from './format.ts';

const VERB_KIND: Record<string, string> = {
  create: 'write',
  update: 'write',
  patch: 'write',
  delete: 'danger',
  deletecollection: 'danger',
  post: 'write',
  put: 'write',
};

const muted = (v: ComponentChildren) => <span class="muted">{v}</span>;

/** `system:serviceaccount:kube-system:replicaset-controller` → its start and end, the middle elided. */
export function middleEllipsis(s: string, max = 34): string {
  if (s.length <= max) return s;
  const head = Math.ceil((max - 1) / 2);
  return `${s.slice(0, head)}…${s.slice(s.length - (max - 1 - head))}`;
}

export interface Column {
  key: string;
  label: string;
  /** Its grid track (CSS grid-template-columns). */
  width: string;
  /** Shown unless the reader hides it. */
  shown: boolean;
  /** Kept when the detail is open beside the list (the narrow layout). */
  narrow?: boolean;
  mono?: boolean;
  title?: (e: AuditEvent) => string | undefined;
  cell: (e: AuditEvent, today: string) => ComponentChildren;
  /** The filter field (query.ts key) its values pivot on from the list's cell menu (CellMenu.tsx). */
  pivot?: { field: string; values: (e: AuditEvent) => (string | undefined)[] };
}

export const COLUMNS: Column[] = [
  {
    key: 'time',
    label: 'Time',
    width: '118px',
    shown: true,
    mono: true,
    narrow: true,
    title: (e) => e.requestReceivedTimestamp,
    cell: (e, today) => {
      const t = formatListTime(e.requestReceivedTimestamp, today);
      return (
        <>
          {t.date ? <span class="muted">{t.date} </span> : null}
          {t.time}
        </>
      );
    },
  },
  {
    key: 'user',
    pivot: { field: 'user', values: (e) => [e.user?.username] },
    label: 'Operator',
    width: 'minmax(110px, 1.3fr)',
    shown: true,
    narrow: true,
    title: (e) => e.user?.username,
    cell: (e) => (e.user?.username ? middleEllipsis(e.user.username) : muted('—')),
  },
  {
    key: 'verb',
    pivot: { field: 'verb', values: (e) => [e.verb] },
    label: 'Verb',
    width: '92px',
    shown: true,
    narrow: true,
    cell: (e) => <span class={`verb ${VERB_KIND[e.verb ?? ''] ?? 'read'}`}>{e.verb}</span>,
  },
  {
    key: 'res',
    pivot: { field: 'resource', values: (e) => [e.objectRef?.resource] },
    label: 'Resource',
    width: 'minmax(100px, 1fr)',
    shown: true,
    narrow: true,
    title: (e) =>
      e.objectRef?.subresource ? `${e.objectRef.resource}/${e.objectRef.subresource}` : e.objectRef?.resource,
    cell: (e) => (
      <>
        {e.objectRef?.resource ?? muted(e.requestURI)}
        {e.objectRef?.subresource ? muted(`/${e.objectRef.subresource}`) : null}
      </>
    ),
  },
  {
    key: 'name',
    pivot: { field: 'name', values: (e) => [e.objectRef?.name] },
    label: 'Name',
    width: 'minmax(110px, 1.5fr)',
    shown: true,
    narrow: true,
    title: (e) => e.objectRef?.name,
    cell: (e) => e.objectRef?.name,
  },
  {
    key: 'ns',
    pivot: { field: 'namespace', values: (e) => [e.objectRef?.namespace] },
    label: 'Project',
    width: 'minmax(90px, 1fr)',
    shown: true,
    narrow: true,
    title: (e) => e.objectRef?.namespace,
    cell: (e) => e.objectRef?.namespace || (e.workspace ? muted(e.workspace) : null),
  },
  {
    key: 'code',
    pivot: { field: 'code', values: (e) => [e.responseStatus?.code?.toString()] },
    label: 'Code',
    width: '62px',
    shown: true,
    narrow: true,
    title: (e) => {
      const code = e.responseStatus?.code;
      return code ? `${code} ${reasonPhrase(code)}`.trim() : 'No status code';
    },
    cell: (e) => (
      <>
        <i class="dot" />
        {e.responseStatus?.code ?? '—'}
      </>
    ),
  },
  {
    key: 'ip',
    pivot: { field: 'sourceip', values: (e) => e.sourceIPs ?? [] },
    label: 'Source IP',
    width: '112px',
    shown: true,
    mono: true,
    narrow: true,
    title: (e) => e.sourceIPs?.join(', '),
    cell: (e) => e.sourceIPs?.[0],
  },
  {
    key: 'src',
    pivot: { field: 'source', values: (e) => [e.source] },
    label: 'Source',
    width: '96px',
    shown: true,
    cell: (e) => (e.source ? <span class="pill">{e.source}</span> : null),
  },
  {
    key: 'cluster',
    pivot: { field: 'cluster', values: (e) => [e.cluster] },
    label: 'Cluster',
    width: 'minmax(80px, 0.8fr)',
    shown: false,
    cell: (e) => e.cluster,
  },
  {
    key: 'ws',
    pivot: { field: 'workspace', values: (e) => [e.workspace] },
    label: 'Workspace',
    width: 'minmax(80px, 0.8fr)',
    shown: false,
    cell: (e) => e.workspace,
  },
  {
    key: 'groups',
    pivot: { field: 'group', values: (e) => e.user?.groups ?? [] },
    label: 'Groups',
    width: 'minmax(110px, 1.2fr)',
    shown: false,
    title: (e) => e.user?.groups?.join(', '),
    cell: (e) => e.user?.groups?.join(', '),
  },
  {
    key: 'ua',
    pivot: { field: 'useragent', values: (e) => [e.userAgent] },
    label: 'User agent',
    width: 'minmax(120px, 1.4fr)',
    shown: false,
    title: (e) => e.userAgent,
    cell: (e) => e.userAgent,
  },
  { key: 'latency', label: 'Latency', width: '76px', shown: false, cell: (e) => latency(e) },
  {
    key: 'stage',
    pivot: { field: 'stage', values: (e) => [e.stage] },
    label: 'Stage',
    width: '120px',
    shown: false,
    cell: (e) => e.stage,
  },
  {
    key: 'message',
    label: 'Status message',
    width: 'minmax(120px, 1.4fr)',
    shown: false,
    title: (e) => e.responseStatus?.message,
    cell: (e) => e.responseStatus?.message,
  },
];

export function EventRow({ e, today, columns }: { e: AuditEvent; today: string; columns: Column[] }) {
  const cls = codeClass(e.responseStatus?.code);
  return (
    <>
      {columns.map((c) => (
        <span
          key={c.key}
          data-col={c.key}
          class={`c-${c.key}${c.key === 'code' ? ` ${cls}` : ''}${c.mono ? ' mono' : ''}`}
          title={c.title?.(e)}
        >
          {c.cell(e, today)}
        </span>
      ))}
    </>
  );
}
