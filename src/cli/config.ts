// The one way every command that opens the store reads its configuration: `--config` (vigil.yaml), `--data` (the
// SQLite folder) and `--storage-url` (PostgreSQL, or VIGIL_STORAGE_URL), exactly as `vigil serve` reads them.
import { ConfigError, loadConfig, type Overrides, type VigilConfig } from '../config/index.ts';
import { CliError } from './command.ts';

export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  data: { type: 'string' },
  'storage-url': { type: 'string' },
} as const;

/** The usage lines of CONFIG_OPTIONS, for a command's help. */
export const CONFIG_USAGE = `  -c, --config FILE          vigil.yaml (default: the embedded defaults)
  --data DIR                 the SQLite data directory (the store is DIR/vigil.db)
  --storage-url URL          PostgreSQL instead of the file's storage (default: $VIGIL_STORAGE_URL)`;

/** An environment variable, unset when empty. */
export function env(name: string): string | undefined {
  return process.env[name] || undefined;
}

/** The configuration of a command's `--config/--data/--storage-url`; a bad one is a CliError (exit 2). */
export function commandConfig(
  values: { config?: string; data?: string; 'storage-url'?: string },
  more: Omit<Overrides, 'data' | 'storageUrl'> = {},
): VigilConfig {
  try {
    return loadConfig(values.config, {
      ...more,
      data: values.data,
      storageUrl: values['storage-url'] ?? env('VIGIL_STORAGE_URL'),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}
