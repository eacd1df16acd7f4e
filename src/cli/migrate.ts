// `vigil migrate`: creates or upgrades Vigil's schema in PostgreSQL (collectors also do it when they open the
// store; this runs it ahead of a rollout, e.g. as a Kubernetes Job, with a role allowed to change the schema).
import { migratePostgres } from '../store/index.ts';
import { MIGRATIONS } from '../store/postgres/migrations.ts';
import { CliError, defineCommand } from './command.ts';
import { env } from './config.ts';

const usage = `Usage: vigil migrate [--storage-url postgres://USER@HOST:PORT/DB] [--schema NAME]

Creates Vigil's tables in PostgreSQL, or applies the migrations a newer Vigil brings. Idempotent, and safe to run
from several places at once (it runs under an advisory lock).

Options:
  --storage-url URL  the database (default: $VIGIL_STORAGE_URL)
  --schema NAME      the schema holding Vigil's tables (default: vigil)

Exit status: 0 when the schema is current, 1 when a migration failed, 2 on bad usage.
`;

export const migrateCommand = defineCommand({
  name: ['migrate'],
  summary: "create or upgrade Vigil's schema in PostgreSQL",
  usage,
  options: { 'storage-url': { type: 'string' }, schema: { type: 'string' } },
  async run({ values }, io) {
    const url = values['storage-url'] ?? env('VIGIL_STORAGE_URL');
    if (!url) throw new CliError('no database: pass --storage-url postgres://… or set VIGIL_STORAGE_URL');
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new CliError(
        `--storage-url must be a postgres:// URL, not "${url}" (the embedded SQLite store migrates itself)`,
      );
    const schema = values.schema ?? 'vigil';
    let applied: number[];
    try {
      applied = await migratePostgres(url, schema);
    } catch (err) {
      if ((err as Error).message.startsWith('schema name')) throw new CliError((err as Error).message);
      io.stderr.write(`vigil migrate: ${(err as Error).message}\n`);
      return 1;
    }
    const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    io.stdout.write(
      applied.length === 0
        ? `schema ${schema} is up to date (version ${newest})\n`
        : `schema ${schema}: applied ${applied.map((v) => `${v} (${MIGRATIONS.find((m) => m.version === v)!.name})`).join(', ')}; now at version ${newest}\n`,
    );
    return 0;
  },
});
