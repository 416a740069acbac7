/**
 * The few primitives sync and invites need, all through WebCrypto (browser, worker and Node alike):
 * HKDF-SHA256, AES-256-GCM and X25519. Keys never leave this module as CryptoKeys the caller must manage:
 * callers hold raw bytes for derivation inputs and `AeadKey`s for sealing.
 */
import { concatBytes, utf8 } from '../bytes.ts';

const subtle = () => globalThis.crypto.subtle;

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/** HKDF-SHA256 (RFC 5869): `length` bytes from input keying material, salt and a domain-separating info. */
export async function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string | Uint8Array,
  length = 32
): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', ikm as BufferSource, 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: salt as BufferSource,
      info: (typeof info === 'string' ? utf8(info) : info) as BufferSource
    },
    key,
    length * 8
  );
  return new Uint8Array(bits);
}

export interface AeadKey {
  readonly key: CryptoKey;
}

export async function aeadKey(raw: Uint8Array): Promise<AeadKey> {
  if (raw.length !== 32) throw new TypeError('an AES-256-GCM key is 32 bytes');
  return { key: await subtle().importKey('raw', raw as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']) };
}

/** AES-256-GCM: ciphertext with its 16-byte tag appended. `nonce` is 12 bytes and never reused with a key. */
export async function seal(k: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await subtle().encrypt(
      { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource },
      k.key,
      plaintext as BufferSource
    )
  );
}

/** Decrypts and authenticates; undefined when the ciphertext, nonce or associated data were altered. */
export async function open(
  k: AeadKey,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array
): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(
      await subtle().decrypt(
        { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource },
        k.key,
        ciphertext as BufferSource
      )
    );
  } catch {
    return undefined;
  }
}

export interface EphemeralKey {
  publicKey: Uint8Array;
  privateKey: CryptoKey;
}

/** A fresh X25519 key pair for one connection or one invite exchange. */
export async function ephemeralKey(): Promise<EphemeralKey> {
  const pair = (await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair;
  return { publicKey: new Uint8Array(await subtle().exportKey('raw', pair.publicKey)), privateKey: pair.privateKey };
}

/** X25519 shared secret; undefined for a malformed or low-order peer key (attacker-controlled input). */
export async function sharedSecret(mine: EphemeralKey, theirs: Uint8Array): Promise<Uint8Array | undefined> {
  if (theirs.length !== 32) return undefined;
  try {
    const pub = await subtle().importKey('raw', theirs as BufferSource, { name: 'X25519' }, false, []);
    const bits = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: pub }, mine.privateKey, 256));
    return bits.some((b) => b !== 0) ? bits : undefined;
  } catch {
    return undefined;
  }
}

export async function sha256Bytes(...parts: Uint8Array[]): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', concatBytes(...parts) as BufferSource));
}

/** Length-prefixed concatenation, so that transcripts are unambiguous. */
export function lp(...parts: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    const n = new Uint8Array(4);
    new DataView(n.buffer).setUint32(0, p.length);
    out.push(n, p);
  }
  return concatBytes(...out);
}
