// Small pieces of the console's own state: sign-in (a 401 asks for a token), the theme, and the toast.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { setTimeZone, type TimeZone } from './format.ts';

export type Theme = 'light' | 'dark';

export function useAuth() {
  const [auth, setAuth] = useState<'ok' | 'needed'>('ok');
  /** Bumped after a sign-in, so what failed with 401 loads again. */
  const [authVersion, setAuthVersion] = useState(0);
  /** Whether an error is handled here: an abort, or a 401 that shows the sign-in form. */
  const failed = useCallback((err: unknown) => {
    if (err instanceof DOMException && err.name === 'AbortError') return true;
    if (err instanceof ApiError && err.status === 401) {
      setAuth('needed');
      return true;
    }
    return false;
  }, []);
  const signedIn = useCallback(() => {
    setAuth('ok');
    setAuthVersion((v) => v + 1);
  }, []);
  return { auth, setAuth, authVersion, failed, signedIn };
}

/** The theme the page starts in: the saved choice (set on <html> by index.html's inline script), else the system's. */
function initialTheme(): Theme {
  const saved = document.documentElement.dataset.theme;
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = () => {
    const t = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('vigil.theme', t);
    // Set on <html> now, not in an effect: the chart reads the theme's colours in its own (earlier) layout effect.
    document.documentElement.dataset.theme = t;
    setTheme(t);
  };
  return [theme, toggle];
}

/** A message shown for five seconds. */
export function useToast(): [string, (message: string) => void] {
  const [toast, setToast] = useState('');
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(''), 5000);
    return () => clearTimeout(t);
  }, [toast]);
  return [toast, setToast];
}

/** A panel's open/closed choice, remembered in this browser. */
export function useStoredFlag(key: string): [boolean, () => void] {
  const [on, setOn] = useState(() => {
    try {
      return localStorage.getItem(key) === '1';
    } catch {
      return false;
    }
  });
  const toggle = () => {
    localStorage.setItem(key, on ? '0' : '1');
    setOn(!on);
  };
  return [on, toggle];
}

/** Local time or UTC for every time shown, remembered in this browser. */
export function useTimeZone(): [TimeZone, () => void] {
  const [tz, setTz] = useState<TimeZone>(() => {
    let saved: string | null = null;
    try {
      saved = localStorage.getItem('vigil.tz');
    } catch {
      // no storage: local time
    }
    const z: TimeZone = saved === 'utc' ? 'utc' : 'local';
    setTimeZone(z);
    return z;
  });
  const toggle = () => {
    const z: TimeZone = tz === 'utc' ? 'local' : 'utc';
    localStorage.setItem('vigil.tz', z);
    // Set before the render that follows: every formatter reads it.
    setTimeZone(z);
    setTz(z);
  };
  return [tz, toggle];
}
