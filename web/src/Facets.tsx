// Facets: the top values of user, verb, resource, namespace, status code and source IP for the query on screen
// (from /stats, one request per field), each with include (+) and exclude (−). Shown on demand, so the first
// screen costs no more requests.
import { useEffect, useState } from 'preact/hooks';
import { stats } from './api.ts';
import type { Pivot } from './Detail.tsx';
import { PivotValue } from './Detail.tsx';
import { compactNumber } from './format.ts';
import { ALL_FIELDS, apiParams, resolveRange, type ViewState } from './query.ts';

const FACETS = ['user', 'verb', 'resource', 'namespace', 'code', 'sourceip'];
const SIZE = 5;

interface Facet {
  key: string;
  label: string;
  top?: { key: string; count: number }[];
  error?: string;
}

export function Facets({ view, onFilter }: { view: ViewState; onFilter: Pivot }) {
  const [facets, setFacets] = useState<Facet[]>([]);
  useEffect(() => {
    const ac = new AbortController();
    const fields = FACETS.map((k) => ALL_FIELDS.find((f) => f.key === k)).filter((f) => f?.stats);
    setFacets(fields.map((f) => ({ key: f!.key, label: f!.label })));
    const win = resolveRange(view, Date.now());
    for (const f of fields) {
      const p = apiParams(view, win);
      p.set('by', f!.stats as string);
      p.set('size', String(SIZE));
      const set = (patch: Partial<Facet>) =>
        setFacets((all) => all.map((x) => (x.key === f!.key ? { ...x, ...patch } : x)));
      stats(p, ac.signal).then(
        (s) => set({ top: s.top.filter((t) => t.key !== '') }),
        (err) => {
          if (!ac.signal.aborted) set({ error: String(err.message ?? err) });
        },
      );
    }
    return () => ac.abort();
  }, [view]);
  return (
    <section class="card facets" aria-label="Facets" data-testid="facets">
      {facets.map((f) => (
        <section class="facet" key={f.key} data-facet={f.key} aria-label={`Top ${f.label}`}>
          <h3>{f.label}</h3>
          {f.error ? (
            <p class="error-text small">{f.error}</p>
          ) : !f.top ? (
            <p class="muted small">…</p>
          ) : f.top.length === 0 ? (
            <p class="muted small">None</p>
          ) : (
            <ul>
              {f.top.map((t) => (
                <li key={t.key}>
                  <PivotValue field={f.key} value={t.key} onFilter={onFilter} />
                  <b class="facet-count">{compactNumber(t.count)}</b>
                </li>
              ))}
            </ul>
          )}
        </section>
      ))}
    </section>
  );
}
