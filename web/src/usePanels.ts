// What the side panel shows: the detail of the selected row, an event opened from elsewhere (an alert), or the
// alerts panel. The selected row's index is kept in a ref as well: keys can arrive faster than renders (j j Enter).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { AuditEvent } from './api.ts';

export function usePanels() {
  const [selected, setSelectedState] = useState(-1);
  const selectedRef = useRef(-1);
  const setSelected = useCallback((next: number | ((s: number) => number)) => {
    selectedRef.current = typeof next === 'function' ? next(selectedRef.current) : next;
    setSelectedState(selectedRef.current);
  }, []);
  /** An event opened from elsewhere than the list (an alert), shown in the detail view. */
  const [pinned, setPinned] = useState<AuditEvent>();
  const [detailOpen, setDetailOpen] = useState(false);
  const [alertsOpen, setAlertsOpen] = useState(false);
  const openRow = (i: number) => {
    kept.current = undefined;
    setPinned(undefined);
    setSelected(i);
    setDetailOpen(true);
    setAlertsOpen(false);
  };
  // Opened from an alert: the alerts panel stays (hidden behind the detail) so "Back to alerts" finds its place.
  const openPinned = (e: AuditEvent) => setPinned(e);
  /** An event kept open across a view change (a pivot): pinned until the new list shows where it is. */
  const kept = useRef<string>(undefined);
  const keep = (e: AuditEvent | undefined) => {
    if (!e) return;
    kept.current = e.id;
    setPinned(e);
  };
  /**
   * Called with the list on screen: the kept event, if the list has it, becomes the selected row again; and a
   * permalink (`?audit_id_filter=<id>`) opens its event's detail once, when its list first arrives.
   */
  const permalinked = useRef<string>(undefined);
  const useKept = (items: AuditEvent[], auditId: string | undefined) =>
    useEffect(() => {
      const id = kept.current;
      const i = id
        ? items.findIndex((x) => x.id === id)
        : auditId && permalinked.current !== auditId
          ? items.findIndex((x) => x.auditID === auditId)
          : -1;
      if (i < 0) return;
      kept.current = undefined;
      if (!id) permalinked.current = auditId;
      setSelected(i);
      setDetailOpen(true);
      setPinned(undefined);
    }, [items]);
  const closeDetail = () => {
    kept.current = undefined;
    setPinned(undefined);
    setDetailOpen(false);
  };
  const toggleAlerts = () => {
    setAlertsOpen(!alertsOpen);
    closeDetail();
  };
  /** The list was replaced by a new view's: its selection and detail go with it. */
  const reset = () => {
    setSelected(-1);
    setDetailOpen(false);
  };
  /** Esc: closes the detail, else the alerts panel; false when neither was open. */
  const closeTop = () => {
    if (detailOpen || pinned) closeDetail();
    else if (alertsOpen) setAlertsOpen(false);
    else return false;
    return true;
  };
  /** j/k: the next or previous row of `count`. */
  const move = (by: 1 | -1, count: number) => {
    setPinned(undefined);
    setSelected((s) => (by > 0 ? Math.min(s + 1, count - 1) : Math.max(s - 1, 0)));
  };
  /** Enter: opens the selected row's detail; false when no row is selected. */
  const openSelected = () => {
    if (selectedRef.current < 0) return false;
    setDetailOpen(true);
    setAlertsOpen(false);
    return true;
  };
  return {
    keep,
    useKept,
    closeTop,
    move,
    openSelected,
    selected,
    selectedRef,
    setSelected,
    pinned,
    setPinned,
    detailOpen,
    setDetailOpen,
    alertsOpen,
    setAlertsOpen,
    openRow,
    openPinned,
    closeDetail,
    toggleAlerts,
    reset,
  };
}
