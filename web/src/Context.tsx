// "Around this event": the events within ±1/5/15 minutes of it, of the same user, object or source IP, or all of
// them; one click away from the detail. The event stays open and is marked in the list it opens.
import { useState } from 'preact/hooks';
import type { AuditEvent } from './api.ts';
import { eventTime } from './format.ts';
import { type ContextScope, contextView, type ViewState } from './query.ts';

const SPANS = [1, 5, 15];
const SCOPES: { key: ContextScope; label: string }[] = [
  { key: 'user', label: 'Same user' },
  { key: 'object', label: 'Same object' },
  { key: 'ip', label: 'Same source IP' },
  { key: 'all', label: 'Everything' },
];

export function Context({ e, onView }: { e: AuditEvent; onView: (v: ViewState) => void }) {
  const [minutes, setMinutes] = useState(5);
  const r = e.objectRef;
  const available: Record<ContextScope, boolean> = {
    user: !!e.user?.username,
    object: !!(r?.resource && r.name),
    ip: !!e.sourceIPs?.length,
    all: true,
  };
  const go = (scope: ContextScope) =>
    onView(
      contextView(
        {
          time: eventTime(e),
          user: e.user?.username,
          resource: r?.resource,
          namespace: r?.namespace,
          name: r?.name,
          ip: e.sourceIPs?.[0],
        },
        minutes,
        scope,
      ),
    );
  return (
    <section class="context" aria-label="Surrounding events">
      <h3>Surrounding events</h3>
      <div class="context-row">
        <fieldset class="seg">
          <legend class="sr-only">Within</legend>
          {SPANS.map((m) => (
            <button
              type="button"
              key={m}
              class={minutes === m ? 'on' : ''}
              aria-pressed={minutes === m}
              onClick={() => setMinutes(m)}
            >
              ±{m} min
            </button>
          ))}
        </fieldset>
        {SCOPES.filter((s) => available[s.key]).map((s) => (
          <button
            type="button"
            class="btn small"
            key={s.key}
            aria-label={`Show events within ±${minutes} min, ${s.label.toLowerCase()}`}
            onClick={() => go(s.key)}
          >
            {s.label}
          </button>
        ))}
      </div>
    </section>
  );
}
