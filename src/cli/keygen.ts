// `vigil keygen`: a new Ed25519 signing key for the tamper-evident trail, for collectors that share one PostgreSQL
// database (each must sign with the same key) or a key kept outside the data directory.
import { createSigningKey, publicKeyPath } from '../integrity/index.ts';
import { CliError, defineCommand } from './command.ts';
import { CONFIG_OPTIONS, CONFIG_USAGE, commandConfig } from './config.ts';

export const keygenCommand = defineCommand({
  name: ['keygen'],
  summary: 'Create an Ed25519 signing key (and its .pub) for integrity.signingKey',
  usage: `Usage: vigil keygen [--out FILE] [--config vigil.yaml | --data DIR | --storage-url URL]

Writes a new Ed25519 private key (PEM, mode 0600) to FILE and its public key beside it (FILE without .key, plus
.pub), atomically, and never over an existing file. Without --out: the signing key the configuration names, or
Vigil's default one in the data directory — where \`vigil serve\` would otherwise create it on first start. Give
every collector of a shared PostgreSQL database the same key (integrity.signingKey), and keep the .pub apart
for \`vigil verify --public-key\`.

  --out FILE                 where to write the key
${CONFIG_USAGE}
`,
  options: { ...CONFIG_OPTIONS, out: { type: 'string', short: 'o' } },
  async run({ values }, io) {
    const file = values.out ?? commandConfig(values).integrity.signingKey;
    if (file === undefined) throw new CliError('no key file: give --out FILE');
    try {
      createSigningKey(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new CliError(`${file} exists: not overwritten`);
      throw new CliError(`${file}: ${(err as Error).message}`, 1);
    }
    io.stdout.write(`signing key ${file}, public key ${publicKeyPath(file)}\n`);
    return 0;
  },
});
