// An object's history: every write to it (and its subresources), oldest first, with who, when, verb and code, and
// what each change did — the API's diff between consecutive stored states (`/api/v1/objects/history`). Only the
// changed paths are listed (unchanged parts are folded away); a masked value says only whether it changed.
import { useEffect, useState } from 'preact/hooks';
import { getJSON } from './api.ts';
import { codeClass, formatTime } from './format.ts';

export interface ObjectRef {
  resource: string;
  namespace?: string;
  name: string;
}

interface DiffEntry {
  path: string;
  op: 'add' | 'remove' | 'replace';
  before?: unknown;
  after?: unknown;
  masked?: 'changed' | 'unchanged';
}

interface HistoryItem {
  id?: string;
  auditID: string;
  time: string;
  user: string;
  verb: string;
  code?: number;
  subresource?: string;
  stage?: string;
  change: { kind: string; diff: DiffEntry[] };
}

interface HistoryPage {
  items: HistoryItem[];
  next?: string;
}

function historyPage(ref: ObjectRef, after: string | undefined, signal?: AbortSignal): Promise<HistoryPage> {
  const p = new URLSearchParams({ resource: ref.resource, name: ref.name });
  if (ref.namespace) p.set('namespace', ref.namespace);
  if (after) p.set('after', after);
  return getJSON<HistoryPage>('/api/v1/objects/history', p, signal);
}

function Value({ v }: { v: unknown }) {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (text.length <= 80) return <code class="mono">{text}</code>;
  // A large value (a whole spec) is folded: its first characters, the rest on demand.
  return (
    <details class="fold">
      <summary>
        <code class="mono">{text.slice(0, 60)}…</code>
      </summary>
      <pre class="json">{JSON.stringify(v, null, 2)}</pre>
    </details>
  );
}

function Change({ d }: { d: DiffEntry }) {
  // Both sides masked the same way and no digest to compare (a store without the key): say what is known.
  if (!d.masked && d.op === 'replace' && JSON.stringify(d.before) === JSON.stringify(d.after))
    return (
      <li class={`diff ${d.op}`}>
        <code class="mono">{d.path}</code> <span class="muted">masked (whether it changed is not known)</span>
      </li>
    );
  if (d.masked)
    return (
      <li class={`diff ${d.op}`}>
        <code class="mono">{d.path}</code>{' '}
        <span class={d.masked === 'changed' ? 'masked-changed' : 'muted'}>
          {d.op === 'add' ? 'added (masked)' : d.op === 'remove' ? 'removed (masked)' : `value ${d.masked} (masked)`}
        </span>
      </li>
    );
  return (
    <li class={`diff ${d.op}`}>
      <span class="diff-op" aria-hidden="true">
        {d.op === 'add' ? '+' : d.op === 'remove' ? '−' : '~'}
      </span>
      <code class="mono">{d.path}</code>{' '}
      {d.op === 'add' ? (
        <Value v={d.after} />
      ) : d.op === 'remove' ? (
        <s>
          <Value v={d.before} />
        </s>
      ) : (
        <>
          <Value v={d.before} /> → <Value v={d.after} />
        </>
      )}
    </li>
  );
}

export function ObjectHistory({ object, onBack }: { object: ObjectRef; onBack: () => void }) {
  const [items, setItems] = useState<HistoryItem[] | null>(null);
  const [next, setNext] = useState<string>();
  const [error, setError] = useState('');
  useEffect(() => {
    const ac = new AbortController();
    setItems(null);
    historyPage(object, undefined, ac.signal).then(
      (p) => {
        setItems(p.items);
        setNext(p.next);
      },
      (err) => {
        if (!ac.signal.aborted) setError(String(err.message ?? err));
      },
    );
    return () => ac.abort();
  }, [object.resource, object.namespace, object.name]);
  const more = () =>
    historyPage(object, next).then(
      (p) => {
        setItems((i) => [...(i ?? []), ...p.items]);
        setNext(p.next);
      },
      (err) => setError(String(err.message ?? err)),
    );
  const title = `${object.resource}/${object.name}${object.namespace ? ` in ${object.namespace}` : ''}`;
  return (
    <section class="history" aria-label={`History of ${title}`} data-testid="history">
      <div class="history-head">
        <button type="button" class="btn small" onClick={onBack}>
          ← Back to event
        </button>
        <h3>History of {title}</h3>
      </div>
      {error ? (
        <p class="error-text">{error}</p>
      ) : items === null ? (
        <p class="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p class="muted">No writes to this object are stored.</p>
      ) : (
        <ol class="history-list">
          {items.map((it) => (
            <li key={it.auditID} data-audit-id={it.auditID}>
              <div class="history-who">
                <b>{it.user}</b> {it.verb}
                {it.subresource ? `/${it.subresource}` : ''} <span class="pill">{it.change.kind}</span>{' '}
                <span class={`code-text ${codeClass(it.code)}`}>{it.code ?? '—'}</span>{' '}
                <span class="muted small">{formatTime(Date.parse(it.time))}</span>
              </div>
              {it.change.diff.length ? (
                <ul class="diff-list">
                  {it.change.diff.map((d) => (
                    <Change key={d.path} d={d} />
                  ))}
                </ul>
              ) : (
                <p class="muted small">No change to the stored state.</p>
              )}
            </li>
          ))}
        </ol>
      )}
      {next ? (
        <button type="button" class="btn small" onClick={more}>
          Older changes…
        </button>
      ) : null}
    </section>
  );
}
