// Pivots from the list without opening the detail: right-click a cell (or Shift+F10 / the menu key on the selected
// row) for a menu that includes (+) or excludes (−) the cell's values. The menu is outside the row's own button, and
// each item's accessible name says the field and the value, as the detail's pivots do.
import { useEffect, useRef } from 'preact/hooks';
import type { AuditEvent } from './api.ts';
import type { Pivot } from './Detail.tsx';
import type { Column } from './EventRow.tsx';
import { ALL_FIELDS } from './query.ts';

export interface CellMenuAt {
  e: AuditEvent;
  /** The columns whose values it offers: the one right-clicked, or every shown one of the selected row. */
  columns: Column[];
  x: number;
  y: number;
}

/** The (field, label, value) pivots of an event's cells; a value with a comma (no filter can hold it) is left out. */
export function cellPivots(e: AuditEvent, columns: Column[]): { field: string; label: string; value: string }[] {
  return columns.flatMap((c) => {
    const def = c.pivot && ALL_FIELDS.find((f) => f.key === c.pivot?.field);
    if (!c.pivot || !def) return [];
    return c.pivot
      .values(e)
      .filter((v): v is string => !!v && !v.includes(','))
      .map((value) => ({ field: def.key, label: def.label, value }));
  });
}

export function CellMenu({ at, onPivot, onClose }: { at: CellMenuAt; onPivot: Pivot; onClose: () => void }) {
  const menu = useRef<HTMLDivElement>(null);
  const pivots = cellPivots(at.e, at.columns);
  useEffect(() => {
    menu.current?.querySelector('button')?.focus();
  }, [at]);
  if (pivots.length === 0) return null;
  const go = (field: string, value: string, exclude: boolean) => {
    onClose();
    onPivot(field, value, exclude);
  };
  return (
    <div
      ref={menu}
      class="popover menu cell-menu"
      role="menu"
      aria-label="Filter on this row's values"
      style={{ position: 'fixed', left: `${at.x}px`, top: `${at.y}px` }}
      onKeyDown={(ev) => {
        if (ev.key === 'Escape') {
          ev.stopPropagation();
          onClose();
        }
      }}
      onFocusOut={(ev) => {
        if (!menu.current?.contains(ev.relatedTarget as Node | null)) onClose();
      }}
    >
      {pivots.map((p) => [
        <button key={`+${p.field}${p.value}`} type="button" role="menuitem" onClick={() => go(p.field, p.value, false)}>
          Filter on {p.label} {p.value}
        </button>,
        <button key={`-${p.field}${p.value}`} type="button" role="menuitem" onClick={() => go(p.field, p.value, true)}>
          Exclude {p.label} {p.value}
        </button>,
      ])}
    </div>
  );
}
