// One event laid out for a person: who, what, where, when and the outcome; then the request/response bodies when
// the level kept them, the alerts it raised, and the raw JSON with a copy button. Every filterable value has an
// include (+) and an exclude (−) pivot; a row without a value is not shown at all.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Alert, type AuditEvent, getEvent, listAlerts } from './api.ts';
import { Context } from './Context.tsx';
import { codeClass, formatTime, latency, matchedRules, reasonPhrase, sentence, zoneLabel } from './format.ts';
import { ObjectHistory } from './ObjectHistory.tsx';
import { ALL_FIELDS, type ViewState } from './query.ts';

export type Pivot = (fieldKey: string, value: string, exclude?: boolean) => void;

interface Props {
  event: AuditEvent;
  onClose: () => void;
  /** Adds an exact filter (or an exclusion) on a field key of query.ts ALL_FIELDS. */
  onFilter: Pivot;
  /** Shown when the event was opened from the alerts panel: back to it, where it was. */
  onBack?: () => void;
  /** Opens a view around this event (it stays open). */
  onView: (view: ViewState) => void;
}

const present = (v: unknown) =>
  v !== undefined && v !== null && v !== '' && v !== false && !(Array.isArray(v) && v.length === 0);

function Row({ label, value, children }: { label: string; value?: unknown; children?: ComponentChildren }) {
  if (!present(value)) return null;
  return (
    <>
      <dt>{label}</dt>
      <dd>{children ?? String(value)}</dd>
    </>
  );
}

/** A value with its pivots; the buttons' accessible names say the field and the value ("Exclude Operator alice"). */
export function PivotValue(props: {
  field: string;
  value?: string;
  onFilter: Pivot;
  mono?: boolean;
  pill?: boolean;
  wrap?: boolean;
}) {
  const { field, value, onFilter } = props;
  if (!value) return null;
  const def = ALL_FIELDS.find((f) => f.key === field);
  const cls = `${props.mono ? 'mono' : ''} ${props.pill ? 'pill' : ''} ${props.wrap ? 'wrap' : ''}`;
  // A field this server's table does not filter by, or a value a filter cannot hold (the comma separates values,
  // as in KubeSphere's parameters: a request URI's `labelSelector=a,b`): the value alone.
  if (!def || value.includes(',')) return <span class={cls}>{value}</span>;
  const label = def.label;
  return (
    <span class="value-link">
      <span class={cls}>{value}</span>
      <button
        type="button"
        class="icon-btn pivot"
        title="Show only events with this value"
        aria-label={`Filter on ${label} ${value}`}
        onClick={() => onFilter(field, value)}
      >
        +
      </button>
      <button
        type="button"
        class="icon-btn pivot"
        title="Hide events with this value"
        aria-label={`Exclude ${label} ${value}`}
        onClick={() => onFilter(field, value, true)}
      >
        −
      </button>
    </span>
  );
}

function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

function Who({ e, onFilter }: { e: AuditEvent; onFilter: Pivot }) {
  return (
    <section>
      <h3>Who</h3>
      <dl>
        <Row label="User" value={e.user?.username}>
          <PivotValue field="user" value={e.user?.username} onFilter={onFilter} />
        </Row>
        <Row label="UID" value={e.user?.uid}>
          <span class="mono">{e.user?.uid}</span>
        </Row>
        <Row label="Groups" value={e.user?.groups}>
          <span class="chips-inline">
            {e.user?.groups?.map((g) => (
              <PivotValue key={g} field="group" value={g} onFilter={onFilter} pill />
            ))}
          </span>
        </Row>
        <Row label="Impersonated" value={e.impersonatedUser?.username} />
        <Row label="Source IPs" value={e.sourceIPs}>
          <span>
            {e.sourceIPs?.map((ip) => (
              <PivotValue key={ip} field="sourceip" value={ip} onFilter={onFilter} mono />
            ))}
          </span>
        </Row>
        <Row label="User agent" value={e.userAgent}>
          <PivotValue field="useragent" value={e.userAgent} onFilter={onFilter} mono wrap />
        </Row>
      </dl>
    </section>
  );
}

function What({ e, onFilter, onHistory }: { e: AuditEvent; onFilter: Pivot; onHistory: () => void }) {
  const r = e.objectRef;
  return (
    <section>
      <h3>What</h3>
      <dl>
        <Row label="Verb" value={e.verb}>
          <PivotValue field="verb" value={e.verb} onFilter={onFilter} />
        </Row>
        <Row label="Resource" value={r?.resource}>
          <PivotValue field="resource" value={r?.resource} onFilter={onFilter} />
        </Row>
        <Row label="Subresource" value={r?.subresource}>
          <PivotValue field="subresource" value={r?.subresource} onFilter={onFilter} />
        </Row>
        <Row label="Name" value={r?.name}>
          <PivotValue field="name" value={r?.name} onFilter={onFilter} />
          {r?.resource ? (
            <button type="button" class="btn small" onClick={onHistory}>
              History
            </button>
          ) : null}
        </Row>
        <Row
          label="API group"
          value={r?.apiGroup || r?.apiVersion ? [r?.apiGroup || 'core', r?.apiVersion].filter(Boolean).join('/') : ''}
        />
        <Row label="Request URI" value={e.requestURI}>
          <PivotValue field="requesturi" value={e.requestURI} onFilter={onFilter} mono wrap />
        </Row>
      </dl>
    </section>
  );
}

function Where({ e, onFilter }: { e: AuditEvent; onFilter: Pivot }) {
  return (
    <section>
      <h3>Where</h3>
      <dl>
        <Row label="Cluster" value={e.cluster}>
          <PivotValue field="cluster" value={e.cluster} onFilter={onFilter} />
        </Row>
        <Row label="Workspace" value={e.workspace}>
          <PivotValue field="workspace" value={e.workspace} onFilter={onFilter} />
        </Row>
        <Row label="Project" value={e.objectRef?.namespace}>
          <PivotValue field="namespace" value={e.objectRef?.namespace} onFilter={onFilter} />
        </Row>
        <Row label="DevOps" value={e.devops}>
          <PivotValue field="devops" value={e.devops} onFilter={onFilter} />
        </Row>
        <Row label="Source system" value={e.source}>
          <PivotValue field="source" value={e.source} onFilter={onFilter} />
        </Row>
      </dl>
    </section>
  );
}

function WhenAndOutcome({ e, onFilter }: { e: AuditEvent; onFilter: Pivot }) {
  const code = e.responseStatus?.code;
  return (
    <>
      <section>
        <h3>When</h3>
        <dl>
          <Row label="Received" value={e.requestReceivedTimestamp}>
            <span class="mono" title={e.requestReceivedTimestamp}>
              {formatTime(Date.parse(e.requestReceivedTimestamp ?? ''))}.
              {String(Date.parse(e.requestReceivedTimestamp ?? '') % 1000).padStart(3, '0')}
            </span>{' '}
            <span class="muted">{zoneLabel()}</span>
          </Row>
          <Row label="Stage" value={e.stage}>
            <PivotValue field="stage" value={e.stage} onFilter={onFilter} />
            {e.stageTimestamp ? <span class="muted"> at {e.stageTimestamp}</span> : null}
          </Row>
          <Row label="Latency" value={latency(e)} />
        </dl>
      </section>
      <section>
        <h3>Outcome</h3>
        <dl>
          <Row label="Status code" value={code}>
            <span class={`code-text ${codeClass(code)}`}>
              <PivotValue field="code" value={String(code)} onFilter={onFilter} /> {reasonPhrase(code)}
            </span>
          </Row>
          <Row label="Status" value={e.responseStatus?.status}>
            <PivotValue field="status" value={e.responseStatus?.status} onFilter={onFilter} />
          </Row>
          <Row label="Reason" value={e.responseStatus?.reason} />
          <Row label="Message" value={e.responseStatus?.message} />
          <Row label="Level" value={e.level}>
            <PivotValue field="level" value={e.level} onFilter={onFilter} />
          </Row>
          <Row label="Audit ID" value={e.auditID}>
            <PivotValue field="auditid" value={e.auditID} onFilter={onFilter} mono />
          </Row>
        </dl>
      </section>
    </>
  );
}

/** The rules that matched the event (the engine's record), each a pivot on the `rule` field. */
function MatchedRules({ e, onFilter }: { e: AuditEvent; onFilter: Pivot }) {
  const rules = matchedRules(e);
  if (rules.length === 0) return null;
  return (
    <section aria-label="Matched rules">
      <h3>Matched rules</h3>
      <ul class="alert-list">
        {rules.map((r) => (
          <li key={r.rule}>
            {r.priority ? <span class={`pill prio ${r.priority.toLowerCase()}`}>{r.priority}</span> : null}{' '}
            <PivotValue field="rule" value={r.rule} onFilter={onFilter} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function AlertsRaised({ alerts }: { alerts: Alert[] | undefined | null | string }) {
  return (
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
  );
}

async function copyText(text: string): Promise<void> {
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
}

function Bodies({ e }: { e: AuditEvent }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => setCopied(false), [e.id]);
  return (
    <>
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
              copyText(JSON.stringify(e, null, 2)).then(() => setCopied(true));
            }}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
        </summary>
        <Json value={e} />
      </details>
    </>
  );
}

export function Detail({ event: listed, onClose, onFilter, onBack, onView }: Props) {
  const [full, setFull] = useState<AuditEvent>(listed);
  // null: loading; undefined: the server has no alerts API; a string: it failed.
  const [alerts, setAlerts] = useState<Alert[] | undefined | null | string>(null);
  const box = useRef<HTMLElement>(null);
  const [history, setHistory] = useState(false);

  // Focus moves into the detail when it opens (or shows another event), so a screen reader and Tab start there;
  // the page's keys (j/k, Esc) still work from it.
  useEffect(() => box.current?.focus({ preventScroll: true }), [listed.id]);
  useEffect(() => {
    setFull(listed);
    setHistory(false);
    const ac = new AbortController();
    // The list may carry a trimmed event; the single-event endpoint has it whole.
    getEvent(listed.id, ac.signal).then(setFull, () => {});
    setAlerts(null);
    listAlerts(new URLSearchParams({ event_id: listed.id }), ac.signal).then(
      // Filtered here too, in case the server ignores the parameter.
      (a) => setAlerts(a?.items.filter((x) => x.eventId === listed.id || (!x.eventId && x.auditID === listed.auditID))),
      (err) => setAlerts(`Could not load alerts: ${err.message ?? err}`),
    );
    return () => ac.abort();
  }, [listed.id]);

  const e = full;
  const code = e.responseStatus?.code;
  return (
    <aside class="detail" aria-label="Event detail" data-testid="detail" ref={box} tabIndex={-1}>
      <header class="detail-head">
        <div class="detail-title">
          <span class={`badge code ${codeClass(code)}`}>{code ?? '—'}</span>
          <h2>{sentence(e)}</h2>
        </div>
        {onBack ? (
          <button type="button" class="btn small" onClick={onBack}>
            ← Back to alerts
          </button>
        ) : null}
        <button type="button" class="icon-btn close" title="Close (Esc)" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <div class="detail-sub">
        {e.requestReceivedTimestamp ? `${formatTime(Date.parse(e.requestReceivedTimestamp))} ${zoneLabel()}` : ''}
        {e.source ? <span class="pill">{e.source}</span> : null}
        {e.level ? <span class="pill">{e.level}</span> : null}
      </div>
      <div class="detail-body">
        {history && e.objectRef?.resource && e.objectRef.name ? (
          <ObjectHistory
            object={{ resource: e.objectRef.resource, namespace: e.objectRef.namespace, name: e.objectRef.name }}
            onBack={() => setHistory(false)}
          />
        ) : (
          <EventBody e={e} alerts={alerts} onFilter={onFilter} onView={onView} onHistory={() => setHistory(true)} />
        )}
      </div>
    </aside>
  );
}

function EventBody(props: {
  e: AuditEvent;
  alerts: Alert[] | undefined | null | string;
  onFilter: Pivot;
  onView: (view: ViewState) => void;
  onHistory: () => void;
}) {
  const { e, onFilter, onView } = props;
  return (
    <>
      <Context e={e} onView={onView} />
      <Who e={e} onFilter={onFilter} />
      <What e={e} onFilter={onFilter} onHistory={props.onHistory} />
      <Where e={e} onFilter={onFilter} />
      <WhenAndOutcome e={e} onFilter={onFilter} />
      {e.annotations && Object.keys(e.annotations).length > 0 ? (
        <section>
          <h3>Annotations</h3>
          <dl>
            {Object.entries(e.annotations).map(([k, v]) => (
              <Row key={k} label={k} value={v}>
                <span class="mono wrap">{v}</span>
              </Row>
            ))}
          </dl>
        </section>
      ) : null}
      <MatchedRules e={e} onFilter={onFilter} />
      <AlertsRaised alerts={props.alerts} />
      <Bodies e={e} />
    </>
  );
}
