/**
 * The device identity in the browser: one Ed25519 key pair per browser profile, made once.
 *
 * The private key is a NON-EXTRACTABLE CryptoKey kept in its own IndexedDB database by structured clone:
 * scripts on the page can ask the browser to sign with it, but nothing (not even this code) can read its
 * bytes. The record also holds the public key and the member name shown in the roster.
 *
 * Used from the ledger worker; works on the main thread as well (both have indexedDB and crypto.subtle).
 */
import { openDB, type IDBPDatabase } from 'idb';
import { generateDeviceKey, signerFromCryptoKey, type PublicKey, type Signer } from '../core/keys.ts';

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
    if (!isIdentity(value)) throw new Error('the stored device identity is malformed');
    return value;
  } finally {
    db.close();
  }
}

/**
 * Returns the device identity, making it on first use. A second call never replaces an existing key (that
 * would orphan every event the device signed); it returns the stored one, whatever memberName says.
 */
export async function ensureIdentity(memberName: string, dbName = IDENTITY_DB): Promise<BrowserIdentity> {
  const name = memberName.trim();
  if (name.length === 0 || name.length > 200) throw new RangeError('member name must be 1 to 200 characters');
  const existing = await loadIdentity(dbName);
  if (existing) return existing;

  const key = await generateDeviceKey(false);
  const identity: BrowserIdentity = {
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    memberName: name,
    createdAt: new Date().toISOString()
  };
  const db = await open(dbName);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    // Another tab may have won the race between our read and this write: keep whichever came first.
    const raced: unknown = await tx.store.get(DEVICE);
    if (raced !== undefined) {
      await tx.done;
      if (!isIdentity(raced)) throw new Error('the stored device identity is malformed');
      return raced;
    }
    await tx.store.put(identity, DEVICE);
    await tx.done;
    return identity;
  } finally {
    db.close();
  }
}

export function identitySigner(identity: BrowserIdentity): Signer {
  return signerFromCryptoKey(identity.privateKey, identity.publicKey);
}
