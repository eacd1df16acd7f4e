import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.ts';
import { startServer } from '../server/serve.ts';
import { CliError, type Command } from './command.ts';

export const serveCommand: Command = {
  name: ['serve'],
  summary: 'Run the collector: ingest endpoints, query API, retention',
  usage: `Usage: vigil serve [--config vigil.yaml] [--listen 127.0.0.1:8080] [--data ./data]
                   [--storage-url postgres://user@host:5432/db]

Without --config the embedded defaults apply: SQLite in ./data/vigil.db, retention 7d, 127.0.0.1:8080.
--listen, --data and --storage-url (or VIGIL_STORAGE_URL) override the config file. With PostgreSQL storage several
collectors can share one database. SIGINT/SIGTERM drain in-flight ingests and exit.
`,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string' },
        data: { type: 'string' },
        'storage-url': { type: 'string' },
      },
      strict: true,
    });
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      const config = loadConfig(values.config, {
        listen: values.listen,
        data: values.data,
        storageUrl: values['storage-url'] ?? (process.env.VIGIL_STORAGE_URL || undefined),
      });
      server = await startServer(config);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw new CliError((err as Error).message, 1);
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
};
