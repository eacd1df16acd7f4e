// Runs the `vigil` CLI in-process with captured output: what every CLI test needs.
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.ts';

export async function vigil(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => {
    out += d;
  });
  stderr.on('data', (d) => {
    err += d;
  });
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr });
  return { code, out, err };
}
