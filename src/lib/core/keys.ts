/** Ed25519 device keys through WebCrypto (browser, worker and Node alike). */
import { fromBase64url, toBase64url, toHex } from './bytes.ts';
import { sha256Sync, initHash } from './hash.ts';

/** A base64url (no padding) raw 32-byte Ed25519 public key. */
export type PublicKey = string & { readonly __publicKey: true };

export interface Signer {
  readonly publicKey: PublicKey;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

const ED = { name: 'Ed25519' } as const;
const PUBLIC_KEY_RE = /^[A-Za-z0-9_-]{43}$/;

export function isPublicKey(s: unknown): s is PublicKey {
  if (typeof s !== 'string' || !PUBLIC_KEY_RE.test(s)) return false;
  try {
    return fromBase64url(s).length === 32;
  } catch {
    return false;
  }
}

export interface DeviceKey {
  privateKey: CryptoKey;
  publicKey: PublicKey;
}

export async function generateDeviceKey(extractable: boolean): Promise<DeviceKey> {
  const pair = (await crypto.subtle.generateKey(ED, extractable, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: toBase64url(raw) as PublicKey };
}

export function signerFromCryptoKey(privateKey: CryptoKey, publicKey: PublicKey): Signer {
  return {
    publicKey,
    async sign(message) {
      return new Uint8Array(await crypto.subtle.sign(ED, privateKey, message as BufferSource));
    }
  };
}

export async function exportPrivateKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
}

/** Imports a PKCS#8 Ed25519 private key and derives its public key (through the JWK form). */
export async function importPrivateKey(pkcs8: Uint8Array, extractable = false): Promise<DeviceKey> {
  const temp = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, ED, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', temp);
  if (!jwk.x) throw new TypeError('not an Ed25519 private key');
  const publicKey = jwk.x as PublicKey;
  const privateKey = extractable
    ? temp
    : await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, ED, false, ['sign']);
  return { privateKey, publicKey };
}

const verifyKeys = new Map<string, Promise<CryptoKey>>();

function verifyKey(publicKey: string): Promise<CryptoKey> {
  let k = verifyKeys.get(publicKey);
  if (!k) {
    k = crypto.subtle.importKey('raw', fromBase64url(publicKey) as BufferSource, ED, false, ['verify']);
    if (verifyKeys.size > 10_000) verifyKeys.clear();
    verifyKeys.set(publicKey, k);
  }
  return k;
}

/** True when sig is a valid Ed25519 signature of message by publicKey; false for any malformed input. */
export async function verifySignature(publicKey: string, message: Uint8Array, sig: Uint8Array): Promise<boolean> {
  // A key already imported passed isPublicKey when it was (verifyKey's cache holds no other).
  const key = verifyKeys.get(publicKey) ?? (isPublicKey(publicKey) ? verifyKey(publicKey) : undefined);
  if (!key || sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify(ED, await key, sig as BufferSource, message as BufferSource);
  } catch {
    return false;
  }
}

/** A short, stable fingerprint for display: the first 16 hex digits of SHA-256(raw public key). */
export async function keyFingerprint(publicKey: PublicKey): Promise<string> {
  await initHash();
  return toHex(sha256Sync(fromBase64url(publicKey))).slice(0, 16);
}
