/**
 * The verified record (ledger-schema/README.md section 11, "What each mode proves"): this device's own note that a
 * default verify found the ledger sound while a signed checkpoint of size N (root R) covered its first N log
 * leaves. A later default verify that finds the same checkpoint, recomputes the same root from the stored
 * envelopes and the same leaf ids, takes from the record the per-event checks that are pure functions of those
 * bytes (canonical form, schema, id) instead of running them again: the root pins the exact bytes, the ids hash
 * pins which id each is stored under. It is a cache of this device's work, never evidence: it is kept under
 * cache/ (never in the ledger's data), never sent anywhere, and authenticated with HMAC-SHA-256 under a key
 * derived (HKDF) from this device's private key. A record that is missing, torn, forged, or for another ledger,
 * size, root, ids, checkpoint or rules version is ignored (every check runs); `verify --full` never reads it.
 */
import { toHex, utf8, fromUtf8 } from './bytes.ts';
import type { StorageAdapter } from './storage.ts';

/**
 * The version of the per-event checks a record vouches for (canonical form, schema, id). Bump it whenever any of
 * them changes (parseEnvelope, validate.ts, the schemas, the id's definition): older records are then ignored.
 */
export const VERIFY_RULES = 1;
export const VERIFIED_RECORD_KEY = ['cache', 'verified'];
const FORMAT = 'provenance-ledger/verified/v1';
const MAX_BYTES = 4096;

export interface VerifiedRecord {
  format: typeof FORMAT;
  ledger: string;
  /** The checkpoint's size and root (hex). */
  size: number;
  root: string;
  /** SHA-256 (hex) of the first `size` leaf ids, each followed by "\n". */
  ids: string;
  /** SHA-256 (hex) of the checkpoint note's text. */
  checkpoint: string;
  rules: number;
  /** When the checks were run (RFC 3339). */
  checked: string;
}

/** What a record is matched against: the checkpoint a verify has just checked. */
export type RecordSubject = Pick<VerifiedRecord, 'ledger' | 'size' | 'root' | 'ids' | 'checkpoint'>;

/**
 * The record key: HMAC-SHA-256, derived by HKDF-SHA-256 from the device's private key (PKCS#8). A platform that
 * cannot read its private key's bytes keeps no records.
 */
export async function verifiedRecordKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', pkcs8 as BufferSource, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8(FORMAT) as BufferSource },
    base,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign', 'verify']
  );
}

const sha256HexOf = async (text: string): Promise<string> =>
  toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text) as BufferSource)));

/** What a record of a verify that used the checkpoint `note` over leaves `ids` (root `root`) is about. */
export async function recordSubject(
  ledger: string,
  head: { size: number; root: Uint8Array; ids: string[]; note: string }
): Promise<RecordSubject> {
  return {
    ledger,
    size: head.size,
    root: toHex(head.root),
    ids: await sha256HexOf(head.ids.map((id) => `${id}\n`).join('')),
    checkpoint: await sha256HexOf(head.note)
  };
}

/** The record stored under VERIFIED_RECORD_KEY when it is authentic and about `subject`; else undefined. Never throws. */
export async function readVerifiedRecord(
  storage: StorageAdapter,
  key: CryptoKey,
  subject: RecordSubject
): Promise<VerifiedRecord | undefined> {
  try {
    const bytes = await storage.load(VERIFIED_RECORD_KEY);
    if (!bytes || bytes.length > MAX_BYTES || bytes.length < 66 || bytes[64] !== 0x0a) return undefined;
    const tag = fromUtf8(bytes.subarray(0, 64));
    if (!/^[0-9a-f]{64}$/.test(tag)) return undefined;
    const body = bytes.subarray(65);
    const mac = new Uint8Array(tag.match(/../g)!.map((h) => parseInt(h, 16)));
    if (!(await crypto.subtle.verify('HMAC', key, mac as BufferSource, body as BufferSource))) return undefined;
    const rec = JSON.parse(fromUtf8(body)) as VerifiedRecord;
    const same =
      rec.format === FORMAT &&
      rec.rules === VERIFY_RULES &&
      rec.ledger === subject.ledger &&
      rec.size === subject.size &&
      rec.root === subject.root &&
      rec.ids === subject.ids &&
      rec.checkpoint === subject.checkpoint &&
      typeof rec.checked === 'string';
    return same ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** Stores the record of a sound verify over `subject`. Never throws (a cache): false when it could not. */
export async function writeVerifiedRecord(
  storage: StorageAdapter,
  key: CryptoKey,
  subject: RecordSubject,
  checked = new Date()
): Promise<boolean> {
  try {
    const rec: VerifiedRecord = {
      format: FORMAT,
      ...subject,
      rules: VERIFY_RULES,
      checked: checked.toISOString()
    };
    const body = utf8(JSON.stringify(rec));
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, body as BufferSource));
    const out = new Uint8Array(65 + body.length);
    out.set(utf8(`${toHex(mac)}\n`));
    out.set(body, 65);
    await storage.save(VERIFIED_RECORD_KEY, out);
    return true;
  } catch {
    return false;
  }
}
