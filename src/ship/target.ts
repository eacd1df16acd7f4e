// Where audit events go from a control-plane node, and with which credentials: the collector's webhook URL, a CA
// bundle, and either a client certificate or a bearer token. Read and checked once here for both of its users:
// `vigil k8s webhook-config` writes them into kube-apiserver's --audit-webhook-config-file (a kubeconfig), and
// `vigil ship` hands them to the sinks' WebhookTransport as the WebhookTarget that a kubeconfig would give.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { WebhookTarget } from '../sinks/index.ts';

/** Vigil's ingest path for Kubernetes EventList batches. */
export const WEBHOOK_PATH = '/audit/webhook/event';

/** The flags as given: file names, not contents. */
export interface TargetFlags {
  server?: string;
  caFile?: string;
  clientCert?: string;
  clientKey?: string;
  tokenFile?: string;
}

/** A problem with the flags or the files they name; the CLI prints it as one line (exit 2). */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** The target, its files read and checked (PEM, the key matches the certificate, one token without whitespace). */
export interface Target extends WebhookTarget {
  /** The files it was read from, absolute, for a kubeconfig that refers to them instead of embedding them. */
  files: { ca?: string; cert?: string; key?: string; token?: string };
}

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TargetError(
      `${flag} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function certificates(flag: string, file: string, pem: Buffer): void {
  const text = pem.toString('utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new TargetError(`${flag} ${file}: no PEM certificate in it`);
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new TargetError(`${flag} ${file}: not a valid PEM certificate: ${(err as Error).message}`);
  }
}

/** Reads and checks the files the flags name; `urlFlag` names the URL's flag in errors. */
export function readTarget(flags: TargetFlags, urlFlag = '--server'): Target {
  if (!flags.server) throw new TargetError(`${urlFlag}: the collector URL is required`);
  let url: URL;
  try {
    url = new URL(flags.server);
  } catch {
    throw new TargetError(`${urlFlag}: "${flags.server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TargetError(`${urlFlag}: "${flags.server}" must be an https (or http) URL`);
  // The collector's URL alone means its Kubernetes webhook path.
  if (url.pathname === '/' && !flags.server.endsWith('/')) url.pathname = WEBHOOK_PATH;
  if (!!flags.clientCert !== !!flags.clientKey) throw new TargetError('--client-cert and --client-key go together');
  if (flags.clientCert && flags.tokenFile)
    throw new TargetError('give either a client certificate (--client-cert/--client-key) or --token-file, not both');
  if (url.protocol === 'http:' && (flags.caFile || flags.clientCert))
    throw new TargetError(`${urlFlag}: "${flags.server}" is plain http: a CA or a client certificate needs https`);
  const target: Target = { url: url.href, files: {} };
  if (flags.caFile) {
    target.ca = read('--ca-file', flags.caFile);
    certificates('--ca-file', flags.caFile, target.ca);
    target.files.ca = path.resolve(flags.caFile);
  }
  if (flags.clientCert && flags.clientKey) {
    const cert = read('--client-cert', flags.clientCert);
    const key = read('--client-key', flags.clientKey);
    certificates('--client-cert', flags.clientCert, cert);
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw new TargetError(`--client-key ${flags.clientKey}: not a PEM private key: ${(err as Error).message}`);
    }
    if (!new X509Certificate(cert).checkPrivateKey(privateKey))
      throw new TargetError(`--client-key ${flags.clientKey} is not the key of --client-cert ${flags.clientCert}`);
    Object.assign(target, { cert, key });
    target.files.cert = path.resolve(flags.clientCert);
    target.files.key = path.resolve(flags.clientKey);
  }
  if (flags.tokenFile) {
    const token = read('--token-file', flags.tokenFile).toString('utf8').trim();
    if (token === '') throw new TargetError(`--token-file ${flags.tokenFile}: empty`);
    // It travels as `Authorization: Bearer <token>`, which cannot carry whitespace.
    if (/\s/.test(token)) throw new TargetError(`--token-file ${flags.tokenFile}: a token cannot contain whitespace`);
    target.token = token;
    target.files.token = path.resolve(flags.tokenFile);
  }
  return target;
}

/**
 * kube-apiserver's --audit-webhook-config-file for `target`: one cluster (the collector's URL and CA), one user
 * (client certificate or token), one context. Embedded (`*-data`, `token`) by default, so that the file is whole
 * wherever it is copied; `reference` writes the absolute file names instead (`tokenFile`), for credentials that
 * are mounted into the kube-apiserver pod at those paths and rotated there.
 */
export function webhookKubeconfig(target: Target, o: { reference?: boolean } = {}): string {
  const b64 = (b: Buffer) => b.toString('base64');
  const cluster: Record<string, string> = { server: target.url };
  if (target.ca)
    Object.assign(
      cluster,
      o.reference ? { 'certificate-authority': target.files.ca } : { 'certificate-authority-data': b64(target.ca) },
    );
  const user: Record<string, string> = {};
  if (target.cert && target.key)
    Object.assign(
      user,
      o.reference
        ? { 'client-certificate': target.files.cert, 'client-key': target.files.key }
        : { 'client-certificate-data': b64(target.cert), 'client-key-data': b64(target.key) },
    );
  if (target.token) Object.assign(user, o.reference ? { tokenFile: target.files.token } : { token: target.token });
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'vigil', cluster }],
    users: [{ name: 'kube-apiserver', user }],
    contexts: [{ name: 'vigil', context: { cluster: 'vigil', user: 'kube-apiserver' } }],
    'current-context': 'vigil',
  };
  return `# kube-apiserver --audit-webhook-config-file: audit events to Vigil (written by vigil k8s webhook-config)\n${stringify(doc, { lineWidth: 0 })}`;
}
