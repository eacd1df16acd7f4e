// What every CLI command is: a name, a one-line summary for the help, and a runner that returns the exit code.
export interface Command {
  /** Words that select the command, e.g. `['policy', 'test']`. */
  name: string[];
  summary: string;
  usage: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** An error the CLI reports as one line on stderr with the given exit code (2: bad input or usage). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
