import { startServer } from '../server/index.ts';
import { CliError, defineCommand } from './command.ts';
import { CONFIG_OPTIONS, commandConfig, env } from './config.ts';

export const serveCommand = defineCommand({
  name: ['serve'],
  summary: 'Run the collector: ingest endpoints, query API, retention',
  usage: `Usage: vigil serve [--config vigil.yaml] [--listen 127.0.0.1:8080] [--data ./data]
                   [--storage-url postgres://user@host:5432/db] [--log-level info]

Without --config the embedded defaults apply: SQLite in ./data/vigil.db, retention 7d, 127.0.0.1:8080.
--listen (or VIGIL_LISTEN; host:port, :port or a bare port), --data, --storage-url (or VIGIL_STORAGE_URL) and
--log-level (debug, info, warn, error, silent) override the config file. With PostgreSQL storage several
collectors can share one database. SIGINT/SIGTERM drain in-flight ingests and exit.
`,
  options: { ...CONFIG_OPTIONS, listen: { type: 'string' }, 'log-level': { type: 'string' } },
  async run({ values }, io) {
    const config = commandConfig(values, {
      listen: values.listen ?? env('VIGIL_LISTEN'),
      logLevel: values['log-level'],
    });
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer(config);
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError((err as Error).message, (err as Error).name === 'ConfigError' ? 2 : 1);
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        server.app.fastify.log.info({ signal }, 'shutting down: draining in-flight ingests');
        server.close().then(resolve, (err) => {
          io.stderr.write(`vigil serve: shutdown failed: ${(err as Error).message}\n`);
          resolve();
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
});
