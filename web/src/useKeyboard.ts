// Keyboard: j/k or arrows move, Enter opens, Esc closes (the detail, else the alerts, else the export menu),
// / focuses search, r refreshes. Typing in a field keeps its keys.
import { useEffect, useRef } from 'preact/hooks';

export interface KeyActions {
  /** Esc: closes the topmost thing open. */
  escape: () => void;
  focusSearch: () => void;
  refresh: () => void;
  move: (by: 1 | -1) => void;
  /** Enter: opens the selected event; false when none is selected (the key then does what it does). */
  open: () => boolean;
}

export function useKeyboard(actions: KeyActions): void {
  const latest = useRef(actions);
  latest.current = actions;
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const a = latest.current;
      const t = e.target as HTMLElement;
      const typing = t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT';
      if (e.key === 'Escape') {
        if (!typing) a.escape();
        return;
      }
      if (typing || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === '/') {
        e.preventDefault();
        a.focusSearch();
      } else if (e.key === 'r') {
        a.refresh();
      } else if (e.key === 'j' || e.key === 'ArrowDown') {
        e.preventDefault();
        a.move(1);
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        e.preventDefault();
        a.move(-1);
      } else if (e.key === 'Enter' && a.open()) {
        e.preventDefault();
      }
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, []);
}
