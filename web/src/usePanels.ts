// What the side panel shows: the detail of the selected row, an event opened from elsewhere (an alert), or the
// alerts panel. The selected row's index is kept in a ref as well: keys can arrive faster than renders (j j Enter).
import { useCallback, useRef, useState } from 'preact/hooks';
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
    setPinned(undefined);
    setSelected(i);
    setDetailOpen(true);
    setAlertsOpen(false);
  };
  const openPinned = (e: AuditEvent) => {
    setPinned(e);
    setAlertsOpen(false);
  };
  const closeDetail = () => {
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
