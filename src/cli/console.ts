import { ensureConsoleBuilt } from '../server/console.ts';
import { CliError, defineCommand } from './command.ts';

export const consoleBuildCommand = defineCommand({
  name: ['console', 'build'],
  summary: 'Build the web console (web/dist) when it is missing or older than its sources',
  usage: `Usage: vigil console build

Builds the console that \`vigil serve\` serves at /, when web/dist is missing or older than web/src. \`npm start\`
runs it first, so a fresh clone shows the console.
`,
  options: {},
  async run(_args, io) {
    try {
      const r = await ensureConsoleBuilt({ log: (m) => io.stderr.write(`${m}\n`) });
      if (r === 'unavailable')
        io.stderr.write('vigil console build: no console sources or no Vite; the API runs without a console\n');
      return 0;
    } catch (err) {
      throw new CliError((err as Error).message, 1);
    }
  },
});
