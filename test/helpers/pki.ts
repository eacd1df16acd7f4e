// Test certificates made with openssl at test time (node:crypto parses and verifies X.509 but cannot issue it): a CA,
// server certificates with IP/DNS names, client certificates by CN. P-256 keys, valid two days.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export class Pki {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  /** `<name>.crt` and `<name>.key`: a self-signed CA. */
  ca(name: string): void {
    this.openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
    );
  }

  /** `<name>.crt` and `<name>.key` for `cn`, signed by `ca`; with `san` (e.g. `IP:127.0.0.1`) a server certificate. */
  cert(name: string, cn: string, ca: string, san?: string): void {
    this.openssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    const ext = [`extendedKeyUsage=${san ? 'serverAuth' : 'clientAuth'}`, ...(san ? [`subjectAltName=${san}`] : [])];
    writeFileSync(this.file(`${name}.ext`), `${ext.join('\n')}\n`);
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  }
}
