import { CliError, type Command, type CommandIO, parseCommandArgs } from './command.ts';
import { commands } from './commands.ts';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.join(' ').length), 8);
  const lines = commands.map((c) => `  vigil ${c.name.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'Vigil: an API audit trail.',
    '',
    'Usage:',
    ...lines,
    '',
    'Run `vigil <command> --help` for its options.',
    '',
  ].join('\n');
}

function find(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.name.every((w, i) => argv[i] === w) && (!best || c.name.length > best.name.length)) best = c;
  }
  return best && { command: best, rest: argv.slice(best.name.length) };
}

export async function main(argv: string[], io: CommandIO = process): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.stdout.write(help());
    return 0;
  }
  const found = find(argv);
  if (!found) {
    io.stderr.write(`vigil: unknown command "${argv.join(' ')}"\n\n${help()}`);
    return 2;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage.trimEnd()}\n`);
    return 0;
  }
  try {
    const args = parseCommandArgs(command, rest);
    return await command.run(args as Parameters<Command['run']>[0], io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`vigil ${command.name.join(' ')}: ${err.message}\n`);
      if (err.showUsage) io.stderr.write(`\n${command.usage.trimEnd()}\n`);
      return err.exitCode;
    }
    // Anything else (a store that cannot be reached, a disk error): one line too; the stack only when asked for.
    const e = err as Error;
    io.stderr.write(`vigil ${command.name.join(' ')}: ${e.message ?? String(err)}\n`);
    if (process.env.VIGIL_DEBUG) io.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
