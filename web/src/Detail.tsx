// One event laid out for a person: who, what, where, when and the outcome; then the request/response bodies when
// the level kept them, the alerts it raised, and the raw JSON with a copy button.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Alert, type AuditEvent, getEvent, listAlerts } from './api.ts';
import { codeClass, formatTime, latency, reasonPhrase, sentence } from './format.ts';

interface Props {
  event: AuditEvent;
  onClose: () => void;
  /** Adds an exact filter on a field key of query.ts FIELDS. */
  onFilter: (fieldKey: string, value: string) => void;
}

function Row({ label, children }: { label: string; children: ComponentChildren }) {
  if (children === undefined || children === null || children === '' || children === false) return null;
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function FilterLink(props: { field: string; value?: string; onFilter: Props['onFilter']; mono?: boolean }) {
  const { field, value, onFilter } = props;
  if (!value) return null;
  return (
    <span class="value-link">
      <span class={props.mono ? 'mono' : ''}>{value}</span>
      <button
        type="button"
        class="icon-btn"
        title={`Show only events with this value`}
        onClick={() => onFilter(field, value)}
      >
        <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
          <path d="M2 3h12l-4.5 5.5V13l-3 1.5v-6z" fill="none" stroke="currentColor" stroke-width="1.4" />
        </svg>
      </button>
    </span>
  );
}

function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function Detail({ event: listed, onClose, onFilter }: Props) {
  const [full, setFull] = useState<AuditEvent>(listed);
  // null: loading; undefined: the server has no alerts API; a string: it failed.
  const [alerts, setAlerts] = useState<Alert[] | undefined | null | string>(null);
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    setFull(listed);
    setCopied(false);
    const ac = new AbortController();
    // The list may carry a trimmed event; the single-event endpoint has it whole.
    getEvent(listed.id, ac.signal).then(setFull, () => {});
    setAlerts(null);
    listAlerts(new URLSearchParams({ event_id: listed.id }), ac.signal).then(
      // Filtered here too, in case the server ignores the parameter.
      (a) => setAlerts(a?.filter((x) => x.eventId === listed.id || (!x.eventId && x.auditID === listed.auditID))),
      (err) => setAlerts(`Could not load alerts: ${err.message ?? err}`),
    );
    return () => ac.abort();
  }, [listed.id]);

  const e = full;
  const code = e.responseStatus?.code;
  const cls = codeClass(code);
  const copy = async () => {
    const text = JSON.stringify(e, null, 2);
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API refused (plain http): fall back to a hidden textarea.
      const ta = document.createElement('textarea');
      ta.value = text;
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    setCopied(true);
  };

  return (
    <aside class="detail" aria-label="Event detail" data-testid="detail">
      <header class="detail-head">
        <div class="detail-title">
          <span class={`badge code ${cls}`}>{code ?? '—'}</span>
          <h2>{sentence(e)}</h2>
        </div>
        <button type="button" class="icon-btn close" title="Close (Esc)" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <div class="detail-sub">
        {e.requestReceivedTimestamp ? formatTime(Date.parse(e.requestReceivedTimestamp)) : ''}
        {e.source ? <span class="pill">{e.source}</span> : null}
        {e.level ? <span class="pill">{e.level}</span> : null}
      </div>
      <div class="detail-body">
        <section>
          <h3>Who</h3>
          <dl>
            <Row label="User">
              <FilterLink field="user" value={e.user?.username} onFilter={onFilter} />
            </Row>
            <Row label="UID">{e.user?.uid ? <span class="mono">{e.user.uid}</span> : undefined}</Row>
            <Row label="Groups">
              {e.user?.groups?.length ? (
                <span class="chips-inline">
                  {e.user.groups.map((g) => (
                    <span class="pill" key={g}>
                      {g}
                    </span>
                  ))}
                </span>
              ) : undefined}
            </Row>
            <Row label="Impersonated">{e.impersonatedUser?.username}</Row>
            <Row label="Source IPs">
              {e.sourceIPs?.length ? (
                <span>
                  {e.sourceIPs.map((ip) => (
                    <FilterLink key={ip} field="sourceip" value={ip} onFilter={onFilter} mono />
                  ))}
                </span>
              ) : undefined}
            </Row>
            <Row label="User agent">{e.userAgent ? <span class="mono wrap">{e.userAgent}</span> : undefined}</Row>
          </dl>
        </section>
        <section>
          <h3>What</h3>
          <dl>
            <Row label="Verb">
              <FilterLink field="verb" value={e.verb} onFilter={onFilter} />
            </Row>
            <Row label="Resource">
              <FilterLink field="resource" value={e.objectRef?.resource} onFilter={onFilter} />
            </Row>
            <Row label="Subresource">{e.objectRef?.subresource}</Row>
            <Row label="Name">
              <FilterLink field="name" value={e.objectRef?.name} onFilter={onFilter} />
            </Row>
            <Row label="API group">
              {e.objectRef?.apiGroup || e.objectRef?.apiVersion
                ? [e.objectRef?.apiGroup || 'core', e.objectRef?.apiVersion].filter(Boolean).join('/')
                : undefined}
            </Row>
            <Row label="Request URI">{e.requestURI ? <span class="mono wrap">{e.requestURI}</span> : undefined}</Row>
          </dl>
        </section>
        <section>
          <h3>Where</h3>
          <dl>
            <Row label="Cluster">
              <FilterLink field="cluster" value={e.cluster} onFilter={onFilter} />
            </Row>
            <Row label="Workspace">
              <FilterLink field="workspace" value={e.workspace} onFilter={onFilter} />
            </Row>
            <Row label="Project">
              <FilterLink field="namespace" value={e.objectRef?.namespace} onFilter={onFilter} />
            </Row>
            <Row label="DevOps">{e.devops}</Row>
            <Row label="Source system">
              <FilterLink field="source" value={e.source} onFilter={onFilter} />
            </Row>
          </dl>
        </section>
        <section>
          <h3>When</h3>
          <dl>
            <Row label="Received">
              {e.requestReceivedTimestamp ? <span class="mono">{e.requestReceivedTimestamp}</span> : undefined}
            </Row>
            <Row label="Stage">
              {e.stage}
              {e.stageTimestamp ? <span class="muted"> at {e.stageTimestamp}</span> : null}
            </Row>
            <Row label="Latency">{latency(e)}</Row>
          </dl>
        </section>
        <section>
          <h3>Outcome</h3>
          <dl>
            <Row label="Status code">
              {code !== undefined ? (
                <span class={`code-text ${cls}`}>
                  {code} {reasonPhrase(code)}
                </span>
              ) : undefined}
            </Row>
            <Row label="Status">{e.responseStatus?.status}</Row>
            <Row label="Reason">{e.responseStatus?.reason}</Row>
            <Row label="Message">{e.responseStatus?.message}</Row>
            <Row label="Audit ID">
              <span class="mono">{e.auditID}</span>
            </Row>
          </dl>
        </section>
        {e.annotations && Object.keys(e.annotations).length > 0 ? (
          <section>
            <h3>Annotations</h3>
            <dl>
              {Object.entries(e.annotations).map(([k, v]) => (
                <Row key={k} label={k}>
                  <span class="mono wrap">{v}</span>
                </Row>
              ))}
            </dl>
          </section>
        ) : null}
        <section>
          <h3>Alerts raised</h3>
          {alerts === null ? (
            <p class="muted">Loading…</p>
          ) : alerts === undefined ? (
            <p class="muted">This server has no alerts API.</p>
          ) : typeof alerts === 'string' ? (
            <p class="error-text">{alerts}</p>
          ) : alerts.length === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <ul class="alert-list">
              {alerts.map((a, i) => (
                <li key={a.id ?? i}>
                  <span class={`pill prio ${String(a.priority ?? '').toLowerCase()}`}>{a.priority ?? 'ALERT'}</span>{' '}
                  <b>{a.rule}</b> {a.message}
                </li>
              ))}
            </ul>
          )}
        </section>
        {e.requestObject !== undefined ? (
          <details class="section-details">
            <summary>Request object</summary>
            <Json value={e.requestObject} />
          </details>
        ) : null}
        {e.responseObject !== undefined ? (
          <details class="section-details">
            <summary>Response object</summary>
            <Json value={e.responseObject} />
          </details>
        ) : null}
        <details class="section-details" open={false}>
          <summary>
            Raw JSON
            <button
              type="button"
              class="btn small"
              onClick={(ev) => {
                ev.preventDefault();
                copy();
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
          </summary>
          <Json value={e} />
        </details>
      </div>
    </aside>
  );
}
