// The Ed25519 signing key of checkpoints: generated on first start (PEM, mode 0600) or given in the config.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../files/index.ts';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/**
 * The key of the masked values' digests (src/event/mask-digest.ts), derived from the signing key (HKDF-SHA256): a
 * store's collectors already share that key, and it is kept as a secret, so the digests need no key of their own.
 * A new signing key makes new digests: history does not compare values masked under different keys.
 */
export function maskKeyOf(key: SigningKey): Buffer {
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), 'vigil mask digests v1', 32));
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

/** Writes a key file whole or not at all, never over an existing one (EEXIST): a crash leaves no partial key. */
function writeNew(file: string, text: string, mode: number): void {
  writeFileAtomicSync(file, text, { mode, exclusive: true });
}

/** Creates a new key at `keyPath` (and its .pub beside it); throws EEXIST when the file exists. */
export function createSigningKey(keyPath: string): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(path.dirname(path.resolve(keyPath)), { recursive: true });
  writeNew(keyPath, String(privateKey.export({ type: 'pkcs8', format: 'pem' })), 0o600);
  const pub = publicKeyPath(keyPath);
  if (pub !== keyPath && !existsSync(pub))
    writeNew(pub, String(publicKey.export({ type: 'spki', format: 'pem' })), 0o644);
}

/** Loads the key at `keyPath`, or creates it (and its .pub) when `create` and the file does not exist. */
export function loadSigningKey(keyPath: string, create: boolean): SigningKey {
  if (!existsSync(keyPath)) {
    if (!create) throw new Error(`${keyPath}: no signing key`);
    try {
      createSigningKey(keyPath);
    } catch (err) {
      // another process created it meanwhile
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const pem = readFileSync(keyPath);
  if (pem.length === 0)
    throw new Error(
      `${keyPath}: the signing key file is empty, left by a start of an older Vigil that was interrupted while ` +
        'writing it (a full disk, a crash): no checkpoint can have been signed with it. Delete it to have a new key ' +
        'created at the next start (if checkpoints were signed before, restore the key from a backup instead)',
    );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${keyPath}: not a PEM private key (${(err as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${keyPath}: the signing key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const pub = publicKeyPath(keyPath);
  if (create && pub !== keyPath && !existsSync(pub)) {
    try {
      writeNew(pub, String(publicKey.export({ type: 'spki', format: 'pem' })), 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
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
