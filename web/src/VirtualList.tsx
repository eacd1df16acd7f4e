// A fixed-row-height virtual list: only the rows in view (plus a few either side) are in the DOM, so scrolling tens
// of thousands of events costs the same as scrolling fifty.
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

interface Props<T> {
  items: T[];
  rowHeight: number;
  selected: number;
  renderRow: (item: T, index: number, selected: boolean) => ComponentChildren;
  /** Called with the scroll position after each scroll. */
  onScrolled?: (top: number) => void;
  /** Extra classes of a row (the event a context was opened around, new live rows). */
  rowClass?: (item: T) => string;
  onOpen: (index: number) => void;
  /** A row's context menu (right-click), with the cell's `data-col` when on one. */
  onRowMenu?: (index: number, x: number, y: number, cell?: string) => void;
  /** Called when the last rows come into view (load the next page). */
  onEndReached?: () => void;
  empty?: ComponentChildren;
  label: string;
}

const OVERSCAN = 8;

export function VirtualList<T>(props: Props<T>) {
  const { items, rowHeight, selected } = props;
  const box = useRef<HTMLElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  // Keep the selected row in view when it moves by keyboard.
  useEffect(() => {
    const el = box.current;
    if (!el || selected < 0) return;
    const top = selected * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
  }, [selected, rowHeight]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);

  const { onEndReached } = props;
  useEffect(() => {
    if (onEndReached && items.length > 0 && last >= items.length - OVERSCAN) onEndReached();
  }, [last, items.length, onEndReached]);

  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    const isSel = i === selected;
    rows.push(
      // Rows are buttons outside the tab order: the page's keys (j/k, arrows, Enter) move through them.
      <button
        type="button"
        tabIndex={-1}
        key={i}
        data-index={i}
        class={`row${isSel ? ' selected' : ''}${props.rowClass ? ` ${props.rowClass(items[i])}` : ''}`}
        style={{ transform: `translateY(${i * rowHeight}px)`, height: `${rowHeight}px` }}
        onClick={() => props.onOpen(i)}
        onContextMenu={
          props.onRowMenu
            ? (ev) => {
                ev.preventDefault();
                const cell = (ev.target as Element).closest('[data-col]')?.getAttribute('data-col') ?? undefined;
                props.onRowMenu?.(i, ev.clientX, ev.clientY, cell);
              }
            : undefined
        }
      >
        {props.renderRow(items[i], i, isSel)}
      </button>,
    );
  }

  return (
    <section
      ref={box}
      class="vlist"
      aria-label={props.label}
      data-count={items.length}
      onScroll={(e) => {
        const top = (e.currentTarget as HTMLElement).scrollTop;
        setScrollTop(top);
        props.onScrolled?.(top);
      }}
    >
      {items.length === 0 ? (
        props.empty
      ) : (
        <div class="vlist-spacer" style={{ height: `${items.length * rowHeight}px` }}>
          {rows}
        </div>
      )}
    </section>
  );
}
