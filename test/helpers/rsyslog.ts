// A real rsyslog for tests: started on a free loopback port with a config of its own in a temporary directory,
// receiving RFC 5424 over TCP (octet counting) or TLS, and writing each message as received (the raw RFC 5424 text,
// framing removed) to a file, one per line. The test may stop and start it again on the same port.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { freePort, waitFor } from './net.ts';
import { Pki } from './pki.ts';
import { tempDir } from './temp.ts';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

export interface RunningRsyslog {
  port: number;
  /** For a TLS rsyslog: the CA file its certificate is signed by. */
  ca?: string;
  /** The messages received so far (raw RFC 5424 text). */
  lines(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
after(() => {
  for (const p of running) p.kill('SIGKILL');
});

async function listening(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** `udp`: also listens for UDP (RFC 5426) on the same port number. */
export async function startRsyslog(o: { tls?: boolean; udp?: boolean } = {}): Promise<RunningRsyslog> {
  const dir = tempDir('vigil-forward-rsyslog-');
  const port = await freePort();
  const out = path.join(dir, 'received.log');
  let ca: string | undefined;
  let driver = '';
  if (o.tls) {
    const pki = new Pki(dir);
    pki.ca('ca');
    pki.cert('server', 'localhost', 'ca', 'IP:127.0.0.1,DNS:localhost');
    ca = pki.file('ca.crt');
    driver =
      `global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${ca}" ` +
      `DefaultNetstreamDriverCertFile="${pki.file('server.crt')}" DefaultNetstreamDriverKeyFile="${pki.file('server.key')}")\n`;
  }
  const conf = path.join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${dir}" maxMessageSize="512k")
${driver}module(load="imtcp"${o.tls ? ' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"' : ''})
template(name="raw" type="string" string="%rawmsg%\\n")
input(type="imtcp" port="${port}" address="127.0.0.1")
${o.udp ? `module(load="imudp")\ninput(type="imudp" port="${port}" address="127.0.0.1")\n` : ''}action(type="omfile" file="${out}" template="raw")
`,
  );
  let proc: ChildProcess | undefined;
  let stderr = '';
  const rs: RunningRsyslog = {
    port,
    ca,
    lines: () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [],
    async start() {
      const p = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      p.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      running.add(p);
      p.once('exit', () => running.delete(p));
      proc = p;
      await waitFor(`rsyslog listening on ${port} (${stderr})`, async () => {
        if (p.exitCode !== null) throw new Error(`rsyslogd exited ${p.exitCode}: ${stderr}`);
        return listening(port);
      });
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGTERM');
      await exited;
      proc = undefined;
    },
  };
  after(() => rs.stop());
  await rs.start();
  return rs;
}
