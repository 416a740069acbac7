/**
 * The device identity of the CLI: one Ed25519 key per ledger directory, kept in that directory's storage under
 * ["identity", "device"] as JSON { publicKey, privateKey: base64url PKCS#8, name }. FsStorage writes it with
 * mode 0600 in a 0700 directory. Unlike the browser's, this key is extractable so that `key export` can back
 * it up (passphrase-encrypted).
 */
import type { StorageAdapter } from '../../core/storage.ts';
import { fromBase64url, fromUtf8, toBase64url, utf8 } from '../../core/bytes.ts';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import {
  exportPrivateKey,
  importPrivateKey,
  signerFromCryptoKey,
  verifySignature,
  type DeviceKey,
  type PublicKey,
  type Signer
} from '../../core/keys.ts';

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
    throw new LedgerError(
      ErrorCode.IDENTITY_INVALID,
      `the stored device identity (identity/device) is damaged: ${what}; restore it with provenance-ledger key import <backup>`
    );
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
    throw new LedgerError(
      ErrorCode.IDENTITY_INVALID,
      'the stored device identity (identity/device) is damaged: its private key does not match its public key; restore it with provenance-ledger key import <backup>'
    );
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

/** What verify finds of the stored identity: the key when it is sound, else the problem (and where). */
export interface IdentityCheck {
  /** The device's public key, when the identity is sound. */
  publicKey?: PublicKey;
  problem?: { code: string; message: string; location: string };
  /** Why it could not be checked (no identity here, and nothing says this directory had one). */
  unchecked?: string;
}

/**
 * verify's check of identity/device, read-only: it parses, its private key is the one of its public key, that key
 * signs and the signature verifies, and it is the key the ledger knows for this device (a member's, active or
 * removed). `logKey`: the key this device's log checkpoints name, when known (then the identity must be it, and a
 * missing identity is a lost key, not a copy made without one).
 */
export async function checkIdentity(
  storage: StorageAdapter,
  roster: ReadonlyArray<{ key: string }>,
  logKey?: string
): Promise<IdentityCheck> {
  const location = IDENTITY_KEY.join('/');
  const problem = (message: string, code: string = ErrorCode.IDENTITY_INVALID) => ({
    problem: { code, message, location }
  });
  let identity: NodeIdentity | undefined;
  try {
    identity = await loadIdentity(storage);
  } catch (e) {
    return problem((e as Error).message);
  }
  if (!identity) {
    if (logKey)
      return problem(
        `the device key that signed this log's checkpoints (${logKey.slice(0, 12)}…) is gone: key import your backup of it`,
        ErrorCode.STORAGE_MISSING
      );
    return { unchecked: 'no device key in this directory (a copy made without one): nothing to check' };
  }
  const probe = utf8('provenance-ledger/identity-check/v1');
  if (!(await verifySignature(identity.publicKey, probe, await identitySigner(identity).sign(probe)))) {
    return problem('its private key makes signatures its public key does not verify');
  }
  if (!roster.some((m) => m.key === identity.publicKey))
    return problem(`its key (${identity.publicKey.slice(0, 12)}…) is not one of this ledger's members' keys`);
  if (logKey && logKey !== identity.publicKey)
    return problem(
      `its key (${identity.publicKey.slice(0, 12)}…) is not the one that signed this log's checkpoints (${logKey.slice(0, 12)}…)`
    );
  return { publicKey: identity.publicKey };
}
