// One row of the result list: the columns of KubeSphere's Auditing Operating view, plus Vigil's source.
import type { AuditEvent } from './api.ts';
import { codeClass, formatListTime, reasonPhrase } from './format.ts';

const VERB_KIND: Record<string, string> = {
  create: 'write',
  update: 'write',
  patch: 'write',
  delete: 'danger',
  deletecollection: 'danger',
  post: 'write',
  put: 'write',
};

export function EventRow({ e, today }: { e: AuditEvent; today: string }) {
  const t = formatListTime(e.requestReceivedTimestamp, today);
  const code = e.responseStatus?.code;
  const r = e.objectRef;
  return (
    <>
      <span class="c-time mono" title={e.requestReceivedTimestamp}>
        {t.date ? <span class="muted">{t.date} </span> : null}
        {t.time}
      </span>
      <span class="c-user" title={e.user?.username}>
        {e.user?.username || <span class="muted">—</span>}
      </span>
      <span class="c-verb">
        <span class={`verb ${VERB_KIND[e.verb ?? ''] ?? 'read'}`}>{e.verb}</span>
      </span>
      <span class="c-res" title={r?.subresource ? `${r.resource}/${r.subresource}` : r?.resource}>
        {r?.resource ?? <span class="muted">{e.requestURI}</span>}
        {r?.subresource ? <span class="muted">/{r.subresource}</span> : null}
      </span>
      <span class="c-name" title={r?.name}>
        {r?.name}
      </span>
      <span class="c-ns" title={r?.namespace}>
        {r?.namespace || (e.workspace ? <span class="muted">{e.workspace}</span> : null)}
      </span>
      <span
        class={`c-code ${codeClass(code)}`}
        title={code ? `${code} ${reasonPhrase(code)}`.trim() : 'No status code'}
      >
        <i class="dot" />
        {code ?? '—'}
      </span>
      <span class="c-ip mono" title={e.sourceIPs?.join(', ')}>
        {e.sourceIPs?.[0]}
      </span>
      <span class="c-src">{e.source ? <span class="pill">{e.source}</span> : null}</span>
    </>
  );
}
