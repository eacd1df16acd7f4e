// `vigil token hash`: what goes into `auth.tokens[].tokenHash`, so that vigil.yaml holds no usable secret.
import { hashToken } from '../auth/index.ts';
import { CliError, defineCommand } from './command.ts';

export const tokenHashCommand = defineCommand({
  name: ['token', 'hash'],
  summary: 'Print the sha256:<hex> hash of a token read from stdin (for auth.tokens[].tokenHash)',
  usage: `Usage: vigil token hash < token-file

Reads one token from stdin (surrounding whitespace and the final newline are ignored; the token itself may not
contain whitespace) and prints sha256:<hex>. Put it in vigil.yaml as auth.tokens[].tokenHash instead of token.
`,
  options: {},
  async run(_args, io) {
    let text = '';
    for await (const chunk of io.stdin) text += chunk.toString();
    const token = text.trim();
    if (token === '') throw new CliError('no token on stdin');
    // The server takes the token from `Authorization: Bearer <token>`, which cannot carry whitespace.
    if (/\s/.test(token)) throw new CliError('a token cannot contain whitespace');
    io.stdout.write(`${hashToken(token)}\n`);
    return 0;
  },
});
