// The Ed25519 signing key of checkpoints: generated on first start (PEM, mode 0600) or given in the config.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** Default key file beside the database. */
export function defaultKeyPath(dbPath: string): string {
  return path.join(path.dirname(path.resolve(dbPath)), 'vigil-signing.key');
}

/** The public key file written beside the private key (`x.key` → `x.pub`). */
export function publicKeyPath(keyPath: string): string {
  return `${keyPath.replace(/\.key$/, '')}.pub`;
}

/** First 16 hex digits of sha256 over the raw public key: names the key in checkpoints. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Loads the key at `keyPath`, or creates it (and its .pub) when `create` and the file does not exist. */
export function loadSigningKey(keyPath: string, create: boolean): SigningKey {
  if (!existsSync(keyPath)) {
    if (!create) throw new Error(`${keyPath}: no signing key`);
    const { privateKey } = generateKeyPairSync('ed25519');
    // 'wx': never overwrite a key another process created meanwhile
    try {
      writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(keyPath));
  } catch (err) {
    throw new Error(`${keyPath}: not a PEM private key (${(err as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${keyPath}: the signing key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const pub = publicKeyPath(keyPath);
  if (create && pub !== keyPath && !existsSync(pub))
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** A public key from PEM text (a private key's PEM gives its public half). */
export function parsePublicKey(pem: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  } catch (err) {
    throw new Error(`${source}: not a PEM public key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`${source}: the public key must be Ed25519, not ${key.asymmetricKeyType}`);
  return key;
}
