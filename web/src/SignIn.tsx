// The sign-in form shown when the API answers 401: the token is kept in this browser only.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, listEvents, setToken } from './api.ts';
import { Logo } from './Logo.tsx';

export function SignIn({ onDone, failed }: { onDone: () => void; failed: boolean }) {
  const [token, setTok] = useState('');
  const [error, setError] = useState(failed ? 'This server needs an access token.' : '');
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setToken(token.trim());
    try {
      await listEvents(new URLSearchParams({ size: '1' }));
      onDone();
    } catch (err) {
      setToken('');
      setError(err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="signin-backdrop">
      <form class="signin" onSubmit={submit} aria-label="Sign in">
        <div class="brand big">
          <Logo /> Vigil
        </div>
        <h1>Sign in to the audit log</h1>
        <p class="muted">Paste the access token your administrator gave you. It stays in this browser only.</p>
        <label class="field-label">
          Access token
          <input
            type="password"
            ref={input}
            autoComplete="off"
            value={token}
            aria-label="Access token"
            onInput={(e) => setTok(e.currentTarget.value)}
          />
        </label>
        {error ? <p class="error-text">{error}</p> : null}
        <button type="submit" class="btn primary wide" disabled={busy || !token.trim()}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
