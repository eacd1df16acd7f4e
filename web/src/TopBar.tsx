// The top bar: live tail, export (with progress and cancel), alerts, theme and sign-out.
import { getToken } from './api.ts';
import { EXPORT_FORMATS, type ExportFormat } from './exporter.ts';
import { compactNumber, type TimeZone, zoneLabel } from './format.ts';
import { Logo } from './Logo.tsx';
import type { ViewState } from './query.ts';
import { Searches } from './Searches.tsx';
import type { Exporting } from './useExport.ts';
import type { LiveState } from './useLiveTail.ts';
import type { Theme } from './useSession.ts';

export function TopBar(props: {
  live: boolean;
  liveState: LiveState;
  onToggleLive: () => void;
  exporter: {
    exporting: Exporting | null;
    exportMenu: boolean;
    setExportMenu: (open: boolean) => void;
    startExport: (format: ExportFormat) => void;
  };
  total: number;
  alertsOpen: boolean;
  onToggleAlerts: () => void;
  settings: { theme: Theme; toggleTheme: () => void; tz: TimeZone; toggleTz: () => void };
  onSignOut: () => void;
  view: ViewState;
  onView: (v: ViewState) => void;
}) {
  const { live, liveState } = props;
  const { exporting, exportMenu } = props.exporter;
  const { theme, tz } = props.settings;
  return (
    <header class="topbar">
      <div class="brand">
        <Logo />
        <span>Vigil</span>
        <span class="brand-sub">Audit log</span>
      </div>
      <div class="topbar-actions">
        <button
          type="button"
          class={`btn live-btn ${live ? 'on' : ''} ${liveState}`}
          aria-pressed={live}
          onClick={props.onToggleLive}
          data-testid="live"
          title="Stream new matching events into the list"
        >
          <i class="live-dot" />
          {live ? (liveState === 'on' ? 'Live' : liveState === 'error' ? 'Reconnecting…' : 'Connecting…') : 'Live tail'}
        </button>
        <Searches view={props.view} onView={props.onView} />
        <div class="menu-wrap">
          <button
            type="button"
            class="btn"
            aria-haspopup="true"
            aria-expanded={exportMenu}
            onClick={() => props.exporter.setExportMenu(!exportMenu)}
            disabled={!!exporting}
          >
            {exporting ? `Exporting ${compactNumber(exporting.done)} / ${compactNumber(exporting.total)}` : 'Export'}
          </button>
          {exporting ? (
            <button type="button" class="link-btn" onClick={() => exporting.ac.abort()}>
              Cancel
            </button>
          ) : null}
          {exportMenu ? (
            <div class="popover menu" role="menu">
              {EXPORT_FORMATS.map((f) => (
                <button
                  key={f.format}
                  type="button"
                  role="menuitem"
                  title={f.describe}
                  onClick={() => props.exporter.startExport(f.format)}
                >
                  {f.label} <span class="muted">.{f.ext}</span>
                </button>
              ))}
              <p class="hint">All {compactNumber(props.total)} events of the current query.</p>
            </div>
          ) : null}
        </div>
        <button
          type="button"
          class={`btn ${props.alertsOpen ? 'on' : ''}`}
          aria-pressed={props.alertsOpen}
          onClick={props.onToggleAlerts}
        >
          Alerts
        </button>
        <button
          type="button"
          class="btn ghost tz-btn"
          aria-label={`Times in ${zoneLabel(tz)}: show ${tz === 'utc' ? 'local time' : 'UTC'}`}
          title={`Times in ${zoneLabel(tz)}`}
          onClick={props.settings.toggleTz}
          data-testid="tz"
        >
          {tz === 'utc' ? 'UTC' : 'Local time'}
        </button>
        <ThemeButton theme={theme} onToggle={props.settings.toggleTheme} />
        {getToken() ? (
          <button type="button" class="btn ghost" onClick={props.onSignOut}>
            Sign out
          </button>
        ) : null}
      </div>
    </header>
  );
}

function ThemeButton({ theme, onToggle }: { theme: Theme; onToggle: () => void }) {
  return (
    <button
      type="button"
      class="icon-btn theme-btn"
      title={theme === 'dark' ? 'Light theme' : 'Dark theme'}
      aria-label="Toggle theme"
      onClick={onToggle}
    >
      {theme === 'dark' ? (
        <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
          <circle cx="8" cy="8" r="3.2" fill="currentColor" />
          <path
            d="M8 1v2M8 13v2M1 8h2M13 8h2M3 3l1.4 1.4M11.6 11.6L13 13M3 13l1.4-1.4M11.6 4.4L13 3"
            stroke="currentColor"
            stroke-width="1.4"
            stroke-linecap="round"
          />
        </svg>
      ) : (
        <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
          <path d="M13.5 10.2A6 6 0 015.8 2.5a6 6 0 107.7 7.7z" fill="currentColor" />
        </svg>
      )}
    </button>
  );
}
