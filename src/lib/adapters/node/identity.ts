/**
 * The device identity of the CLI: one Ed25519 key per ledger directory, kept in that directory's storage under
 * ["identity", "device"] as JSON { publicKey, privateKey: base64url PKCS#8, name }. FsStorage writes it with
 * mode 0600 in a 0700 directory. Unlike the browser's, this key is extractable so that `key export` can back
 * it up (passphrase-encrypted).
 */
import type { StorageAdapter } from '../../core/storage.ts';
import { fromBase64url, fromUtf8, toBase64url, utf8 } from '../../core/bytes.ts';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { exportPrivateKey, importPrivateKey, signerFromCryptoKey, type DeviceKey, type PublicKey, type Signer } from '../../core/keys.ts';

export const IDENTITY_KEY = ['identity', 'device'];

export interface NodeIdentity {
  publicKey: PublicKey;
  /** The member name this device records under. */
  name: string;
  privateKey: CryptoKey;
  /** PKCS#8 bytes of the private key (for backups). */
  pkcs8: Uint8Array;
}

/** The stored identity, checked field by field; undefined when the directory has none. */
export async function loadIdentity(storage: StorageAdapter): Promise<NodeIdentity | undefined> {
  const bytes = await storage.load(IDENTITY_KEY);
  if (!bytes) return undefined;
  const bad = (what: string): never => {
    throw new LedgerError(ErrorCode.BAD_INPUT, `the stored device identity is damaged: ${what}`);
  };
  let record: Record<string, unknown> = {};
  try {
    record = JSON.parse(fromUtf8(bytes));
  } catch {
    bad('not JSON');
  }
  if (typeof record !== 'object' || record === null) bad('not an object');
  if (typeof record.publicKey !== 'string') bad('publicKey');
  if (typeof record.privateKey !== 'string') bad('privateKey');
  if (typeof record.name !== 'string') bad('name');
  let pkcs8: Uint8Array = new Uint8Array();
  let key: DeviceKey | undefined;
  try {
    pkcs8 = fromBase64url(record.privateKey as string);
    key = await importPrivateKey(pkcs8, false);
  } catch {
    bad('privateKey is not a base64url PKCS#8 Ed25519 key');
  }
  if (key!.publicKey !== record.publicKey) {
    throw new LedgerError(ErrorCode.KEY_MISMATCH, 'the stored device identity is damaged: its private key does not match its public key');
  }
  return { publicKey: key!.publicKey, name: record.name as string, privateKey: key!.privateKey, pkcs8 };
}

/** Stores an identity (atomically: the storage's save is). */
export async function saveIdentity(storage: StorageAdapter, key: DeviceKey, name: string): Promise<NodeIdentity> {
  const pkcs8 = await exportPrivateKey(key.privateKey);
  const record = { publicKey: key.publicKey, privateKey: toBase64url(pkcs8), name };
  await storage.save(IDENTITY_KEY, utf8(JSON.stringify(record)));
  return { publicKey: key.publicKey, name, privateKey: key.privateKey, pkcs8 };
}

export function identitySigner(identity: NodeIdentity): Signer {
  return signerFromCryptoKey(identity.privateKey, identity.publicKey);
}
