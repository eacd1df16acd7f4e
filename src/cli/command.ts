// What every CLI command is: a name, a one-line summary for the help, its usage, the options it takes, and a runner
// that returns the exit code. Options are parsed in one place (`parseCommandArgs`) for every command, so a bad one
// is always one line naming it, then the command's usage, exit 2 — never Node's parse error and its stack.
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
>;

export interface Command<O extends ParseArgsOptionsConfig = ParseArgsOptionsConfig> {
  /** Words that select the command, e.g. `['policy', 'test']`. */
  name: string[];
  summary: string;
  usage: string;
  options: O;
  /** Whether it takes positional arguments (files); without, one is a usage error. */
  positionals?: boolean;
  run(args: { values: Parsed<O>['values']; positionals: string[] }, io: CommandIO): Promise<number>;
}

/** A command with its option types inferred from `options`. */
export function defineCommand<const O extends ParseArgsOptionsConfig>(c: Command<O>): Command {
  return c as unknown as Command;
}

/** An error the CLI reports as one line on stderr with the given exit code (2: bad input or usage). */
export class CliError extends Error {
  readonly exitCode: number;
  /** Print the command's usage after the line. */
  readonly showUsage: boolean;
  constructor(message: string, exitCode = 2, showUsage = false) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.showUsage = showUsage;
  }
}

/** The option a parse error names, as the user typed it (`--port`), from Node's message (`'-n, --namespace <value>'`). */
function optionIn(message: string): string {
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  return /--?[\w-]+/g.exec(quoted.split(',').pop() ?? '')?.[0] ?? quoted;
}

/** Parses `args` against the command's options; a bad option is a CliError naming it, with the usage. */
export function parseCommandArgs(
  c: Command,
  args: string[],
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args, options: c.options, strict: true, allowPositionals: c.positionals === true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const option = optionIn(e.message);
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new CliError(`unknown option ${option}`, 2, true);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        throw new CliError(
          /does not take an argument/.test(e.message)
            ? `option ${option} takes no value`
            : `option ${option} needs a value`,
          2,
          true,
        );
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new CliError(`unexpected argument ${JSON.stringify(option)}`, 2, true);
      default:
        throw err;
    }
  }
}
