// Runs the `vigil` CLI in-process with captured output: what every CLI test needs.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.ts';

/**
 * Runs `vigil <args>` with `stdin` as its standard input; resolves with the exit code and what it printed. `onOut`
 * sees the standard output so far at each write (for commands that stream until stopped).
 */
export async function vigil(
  args: string[],
  stdin = '',
  onOut?: (out: string) => void,
): Promise<{ code: number; out: string; err: string }> {
  const input = new PassThrough();
  input.end(stdin);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
    onOut?.(out);
  });
  stderr.on('data', (d) => {
    err += d;
  });
  const code = await main(args, { stdin: input, stdout, stderr });
  return { code, out, err };
}
