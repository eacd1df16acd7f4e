// Starts a real Prometheus Alertmanager (Debian's prometheus-alertmanager, installed by .ci/run) on a loopback port.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.ts';

const BINARY = '/usr/bin/prometheus-alertmanager';

export interface RunningAlertmanager {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** `config`: alertmanager.yml (default: every alert to a receiver that sends nothing). */
export async function startAlertmanager(port?: number, config?: string): Promise<RunningAlertmanager> {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run .ci/run (it installs Debian's prometheus-alertmanager)`);
  }
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-am-'));
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, config ?? 'route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n');
  const child: ChildProcess = spawn(
    BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.path=${dir}`,
      `--web.listen-address=127.0.0.1:${p}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${p}`;
  try {
    await waitFor('alertmanager to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`alertmanager exited: ${stderr}`);
      return (await fetch(`${url}/-/ready`)).ok;
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port: p,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
