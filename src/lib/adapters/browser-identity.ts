/**
 * The device identity in the browser: one Ed25519 key pair per browser profile, made once.
 *
 * The private key is a NON-EXTRACTABLE CryptoKey kept in its own IndexedDB database by structured clone:
 * scripts on the page can ask the browser to sign with it, but nothing (not even this code) can read its
 * bytes. The record also holds the public key and the member name shown in the roster.
 *
 * Key backup (design): a backup needs the key's bytes, and a non-extractable key has none to give. So when
 * the user sets a backup passphrase as the key is made, the key is generated EXTRACTABLE once, its PKCS#8 is
 * encrypted at once (core/backup.ts: Argon2id + AES-256-GCM) into a backup blob, the key is re-imported
 * NON-EXTRACTABLE from those bytes and the bytes are zeroed. The record keeps only the non-extractable
 * CryptoKey and the encrypted blob: never the raw private key. A key made without a passphrase can never be
 * backed up (the settings page says so plainly). Restoring decrypts a blob with its passphrase and replaces
 * the device key in one IndexedDB transaction; a wrong passphrase fails before anything is written.
 *
 * Used from the ledger worker; works on the main thread as well (both have indexedDB and crypto.subtle).
 */
import { openDB, type IDBPDatabase } from 'idb';
import {
  exportPrivateKey,
  generateDeviceKey,
  importPrivateKey,
  signerFromCryptoKey,
  type PublicKey,
  type Signer
} from '../core/keys.ts';
import {
  DEFAULT_KDF,
  assertKeyBackup,
  decryptKeyBackup,
  encryptKeyBackup,
  type BackupTeamKey,
  type KeyBackup
} from '../core/backup.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';

export const IDENTITY_DB = 'provenance-ledger-identity';
const STORE = 'identity';
const DEVICE = 'device';

export interface BrowserIdentity {
  /** Non-extractable Ed25519 private key, usable for signing only. */
  readonly privateKey: CryptoKey;
  readonly publicKey: PublicKey;
  readonly memberName: string;
  /** RFC 3339 time the key was made. */
  readonly createdAt: string;
  /** The passphrase-encrypted PKCS#8 of this key, when it was made (or restored) with one. */
  readonly backup?: KeyBackup;
}

export interface IdentityOptions {
  /** Make the key with an encrypted backup under this passphrase (at least 8 characters). */
  backupPassphrase?: string;
  /** Argon2id cost (tests use a cheap one). */
  kdf?: { iterations: number; memoryKiB: number; parallelism: number };
}

function open(dbName: string): Promise<IDBPDatabase> {
  return openDB(dbName, 1, {
    upgrade(db) {
      db.createObjectStore(STORE);
    }
  });
}

/** Checks a record read back from IndexedDB: another script or an old version may have written it. */
function isIdentity(v: unknown): v is BrowserIdentity {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.privateKey instanceof CryptoKey &&
    r.privateKey.type === 'private' &&
    r.privateKey.usages.includes('sign') &&
    typeof r.publicKey === 'string' &&
    typeof r.memberName === 'string' &&
    typeof r.createdAt === 'string'
  );
}

export async function loadIdentity(dbName = IDENTITY_DB): Promise<BrowserIdentity | undefined> {
  const db = await open(dbName);
  try {
    const value: unknown = await db.get(STORE, DEVICE);
    if (value === undefined) return undefined;
    if (!isIdentity(value))
      throw new LedgerError(ErrorCode.IDENTITY_INVALID, 'the stored device identity is malformed');
    return value;
  } finally {
    db.close();
  }
}

/**
 * Returns the device identity, making it on first use. A second call never replaces an existing key (that
 * would orphan every event the device signed); it returns the stored one, whatever memberName says.
 */
export async function ensureIdentity(
  memberName: string,
  dbName = IDENTITY_DB,
  opts: IdentityOptions = {}
): Promise<BrowserIdentity> {
  const name = memberName.trim();
  if (name.length === 0 || name.length > 200) throw new RangeError('member name must be 1 to 200 characters');
  const existing = await loadIdentity(dbName);
  if (existing) return existing;

  const identity = opts.backupPassphrase ? await withBackup(name, opts.backupPassphrase, opts.kdf) : await plain(name);
  const db = await open(dbName);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    // Another tab may have won the race between our read and this write: keep whichever came first.
    const raced: unknown = await tx.store.get(DEVICE);
    if (raced !== undefined) {
      await tx.done;
      if (!isIdentity(raced))
        throw new LedgerError(ErrorCode.IDENTITY_INVALID, 'the stored device identity is malformed');
      return raced;
    }
    await tx.store.put(identity, DEVICE);
    await tx.done;
    return identity;
  } finally {
    db.close();
  }
}

/**
 * Gives the stored identity another member name, the key unchanged (a device that joined as another device of a
 * member takes the member's name). Read and written in one transaction; throws when there is no identity.
 */
export async function renameIdentity(memberName: string, dbName = IDENTITY_DB): Promise<BrowserIdentity> {
  const name = memberName.trim();
  if (name.length === 0 || name.length > 200) throw new RangeError('member name must be 1 to 200 characters');
  const db = await open(dbName);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    const cur: unknown = await tx.store.get(DEVICE);
    if (cur === undefined) throw new LedgerError(ErrorCode.NOT_INITIALIZED, 'this device has no identity to rename');
    if (!isIdentity(cur)) throw new LedgerError(ErrorCode.IDENTITY_INVALID, 'the stored device identity is malformed');
    const renamed: BrowserIdentity = { ...cur, memberName: name };
    await tx.store.put(renamed, DEVICE);
    await tx.done;
    return renamed;
  } finally {
    db.close();
  }
}

export function identitySigner(identity: BrowserIdentity): Signer {
  return signerFromCryptoKey(identity.privateKey, identity.publicKey);
}

async function plain(name: string): Promise<BrowserIdentity> {
  const key = await generateDeviceKey(false);
  return {
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    memberName: name,
    createdAt: new Date().toISOString()
  };
}

/** The one moment the key's bytes exist: encrypted into a backup, re-imported non-extractable, zeroed. */
async function withBackup(
  name: string,
  passphrase: string,
  kdf: { iterations: number; memoryKiB: number; parallelism: number } = DEFAULT_KDF
): Promise<BrowserIdentity> {
  const key = await generateDeviceKey(true);
  const pkcs8 = await exportPrivateKey(key.privateKey);
  try {
    const backup = await encryptKeyBackup(pkcs8, key.publicKey, name, passphrase, kdf);
    const locked = await importPrivateKey(pkcs8, false);
    return {
      privateKey: locked.privateKey,
      publicKey: key.publicKey,
      memberName: name,
      createdAt: new Date().toISOString(),
      backup
    };
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Replaces this device's key with the one in a backup file. The backup is checked and decrypted first (a bad
 * file throws BAD_BACKUP, a wrong passphrase BAD_PASSPHRASE) and nothing is written unless both pass.
 */
export async function restoreIdentity(
  backup: unknown,
  passphrase: string,
  dbName = IDENTITY_DB
): Promise<BrowserIdentity & { teamKeys: BackupTeamKey[] }> {
  assertKeyBackup(backup);
  const key = await decryptKeyBackup(backup, passphrase, false);
  const identity: BrowserIdentity = {
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    memberName: key.name || 'Restored key',
    createdAt: new Date().toISOString(),
    backup
  };
  const db = await open(dbName);
  try {
    await db.put(STORE, identity, DEVICE);
    // The team keys the backup carries (they open a sealed journal) go with the answer, never into this store:
    // the caller keeps them beside the ledger.
    return { ...identity, teamKeys: key.teamKeys };
  } finally {
    db.close();
  }
}
