// The result list card: column heads, the virtualised rows (or the loading / empty / error state), the footer.
import type { AuditEvent } from './api.ts';
import { EventRow } from './EventRow.tsx';
import { compactNumber, todayString } from './format.ts';
import type { ListState } from './useEvents.ts';
import { VirtualList } from './VirtualList.tsx';

const ROW_HEIGHT = 34;

export function Results(props: {
  list: ListState;
  selected: number;
  fetchingMore: boolean;
  onOpen: (index: number, e: AuditEvent) => void;
  onEndReached?: () => void;
  onRetry: () => void;
  /** The event open in the detail: its row is marked. */
  anchor?: string;
}) {
  const { list } = props;
  const today = todayString();
  return (
    <section class="card results" aria-label="Events" data-loading={list.loading} data-key={list.key}>
      <div class="thead">
        <span>Time</span>
        <span>Operator</span>
        <span>Verb</span>
        <span>Resource</span>
        <span>Name</span>
        <span>Project</span>
        <span>Code</span>
        <span>Source IP</span>
        <span>Source</span>
      </div>
      {list.error ? (
        <div class="empty">
          <b>Could not load events.</b>
          <p class="muted">{list.error}</p>
          <button type="button" class="btn" onClick={props.onRetry}>
            Retry
          </button>
        </div>
      ) : (
        <VirtualList
          items={list.items}
          rowHeight={ROW_HEIGHT}
          selected={props.selected}
          label="Audit events"
          renderRow={(e) => <EventRow e={e} today={today} />}
          rowClass={(e) => (e.id === props.anchor ? 'anchor' : '')}
          onOpen={(i) => props.onOpen(i, list.items[i])}
          onEndReached={props.onEndReached}
          empty={
            list.loading ? (
              <div class="empty">
                <span class="spinner" /> Loading events…
              </div>
            ) : (
              <div class="empty">
                <b>No events match.</b>
                <p class="muted">Widen the time range or remove a filter.</p>
              </div>
            )
          }
        />
      )}
      <div class="tfoot muted">
        {list.items.length > 0
          ? `Showing ${compactNumber(list.items.length)} of ${compactNumber(list.total)} · newest first`
          : ''}
        {props.fetchingMore ? (
          <span class="more">
            <span class="spinner small" /> loading more…
          </span>
        ) : null}
        <span class="keys">
          <kbd>j</kbd>
          <kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> close · <kbd>/</kbd> search · <kbd>r</kbd> refresh
        </span>
      </div>
    </section>
  );
}
