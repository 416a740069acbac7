/**
 * Passphrase-encrypted backup of a device key: Argon2id (hash-wasm) derives an AES-256-GCM key; the header
 * (everything but the ciphertext) is bound as additional authenticated data, so no field can be swapped.
 */
import { argon2id } from 'hash-wasm';
import { canonicalBytes } from './canonical.ts';
import { fromBase64url, toBase64url } from './bytes.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import { importPrivateKey, type DeviceKey, type PublicKey } from './keys.ts';

export const BACKUP_FORMAT = 'provenance-ledger/key-backup/v1';

export interface KdfParams {
  alg: 'argon2id';
  salt: string;
  iterations: number;
  memoryKiB: number;
  parallelism: number;
}

export interface KeyBackup {
  format: typeof BACKUP_FORMAT;
  publicKey: PublicKey;
  name: string;
  kdf: KdfParams;
  cipher: { alg: 'AES-256-GCM'; iv: string };
  ciphertext: string;
  /**
   * The team keys the device held when the backup was made (they open a sealed journal: clone with a key backup),
   * sealed under the same passphrase with their own nonce: UTF-8 JSON `[{"epoch", "key", "covers"}, …]`.
   * Absent from backups made before sealed journals, or of a device that held none.
   */
  teamKeys?: { iv: string; ciphertext: string };
}

/** A team key as a key backup carries it (core/team/teamkey.ts's record). */
export interface BackupTeamKey {
  epoch: number;
  key: Uint8Array;
  covers: string[];
}

export const DEFAULT_KDF = { iterations: 3, memoryKiB: 65536, parallelism: 1 } as const;

/** The AES-256-GCM key Argon2id derives from a passphrase (key backups and the prompt vault's lock). */
export async function deriveKey(passphrase: string, kdf: KdfParams): Promise<CryptoKey> {
  const raw = await argon2id({
    password: passphrase,
    salt: fromBase64url(kdf.salt),
    iterations: kdf.iterations,
    memorySize: kdf.memoryKiB,
    parallelism: kdf.parallelism,
    hashLength: 32,
    outputType: 'binary'
  });
  return crypto.subtle.importKey('raw', raw as BufferSource, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** Fresh Argon2id and AES-256-GCM parameters for one passphrase-sealed file (a passphrase of 8 characters or more). */
export function sealParams(
  passphrase: string,
  params: { iterations: number; memoryKiB: number; parallelism: number } = DEFAULT_KDF
) {
  if (typeof passphrase !== 'string' || passphrase.length < 8) {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'the passphrase must be at least 8 characters');
  }
  const kdf: KdfParams = { alg: 'argon2id', salt: toBase64url(crypto.getRandomValues(new Uint8Array(16))), ...params };
  const cipher = { alg: 'AES-256-GCM' as const, iv: toBase64url(crypto.getRandomValues(new Uint8Array(12))) };
  return { kdf, cipher };
}

/** AES-256-GCM under the passphrase's Argon2id key, the header bytes authenticated; base64url ciphertext. */
export async function seal(
  passphrase: string,
  kdf: KdfParams,
  iv: string,
  aad: Uint8Array,
  plain: Uint8Array
): Promise<string> {
  const key = await deriveKey(passphrase, kdf);
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: fromBase64url(iv) as BufferSource, additionalData: aad as BufferSource },
    key,
    plain as BufferSource
  );
  return toBase64url(new Uint8Array(ct));
}

/** The plaintext of `seal`; a wrong passphrase or any changed byte (header included) fails as BAD_PASSPHRASE. */
export async function unseal(
  passphrase: string,
  kdf: KdfParams,
  iv: string,
  aad: Uint8Array,
  ciphertext: string,
  failure: string
): Promise<Uint8Array> {
  const key = await deriveKey(passphrase, kdf);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: fromBase64url(iv) as BufferSource, additionalData: aad as BufferSource },
        key,
        fromBase64url(ciphertext) as BufferSource
      )
    );
  } catch {
    throw new LedgerError(ErrorCode.BAD_PASSPHRASE, failure);
  }
}

function header(b: Omit<KeyBackup, 'ciphertext'>): Uint8Array {
  return canonicalBytes({ format: b.format, publicKey: b.publicKey, name: b.name, kdf: b.kdf, cipher: b.cipher });
}

export async function encryptKeyBackup(
  pkcs8: Uint8Array,
  publicKey: PublicKey,
  name: string,
  passphrase: string,
  params: { iterations: number; memoryKiB: number; parallelism: number } = DEFAULT_KDF,
  teamKeys: readonly BackupTeamKey[] = []
): Promise<KeyBackup> {
  const { kdf, cipher } = sealParams(passphrase, params);
  const partial: Omit<KeyBackup, 'ciphertext' | 'teamKeys'> = { format: BACKUP_FORMAT, publicKey, name, kdf, cipher };
  const backup: KeyBackup = { ...partial, ciphertext: await seal(passphrase, kdf, cipher.iv, header(partial), pkcs8) };
  if (teamKeys.length) {
    const iv = toBase64url(crypto.getRandomValues(new Uint8Array(12)));
    const json = JSON.stringify(teamKeysJson(teamKeys));
    backup.teamKeys = {
      iv,
      ciphertext: await seal(passphrase, kdf, iv, teamKeysAad(partial), new TextEncoder().encode(json))
    };
  }
  return backup;
}

/** The team keys' associated data: the header and a label, so neither part can stand in for the other. */
const teamKeysAad = (b: Omit<KeyBackup, 'ciphertext' | 'teamKeys'>): Uint8Array =>
  new Uint8Array([...header(b), ...new TextEncoder().encode('\nteam keys')]);

/**
 * Checks the sealing fields of an untrusted file (`kdf`: Argon2id with bounded costs, `cipher`: AES-256-GCM and
 * its IV) as sealParams writes them; `bad` names the first field that is wrong and throws.
 */
export function assertSealParams(b: Record<string, unknown>, bad: (what: string) => never): void {
  const k = fieldsOf(b.kdf, bad, 'kdf.alg must be argon2id');
  if (k.alg !== 'argon2id') bad('kdf.alg must be argon2id');
  if (typeof k.salt !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(k.salt)) bad('kdf.salt');
  if (!intIn(k.iterations, 1, 64)) bad('kdf.iterations');
  if (!intIn(k.memoryKiB, 8, 4 * 1024 * 1024)) bad('kdf.memoryKiB');
  if (!intIn(k.parallelism, 1, 16)) bad('kdf.parallelism');
  const c = fieldsOf(b.cipher, bad, 'cipher.alg');
  if (c.alg !== 'AES-256-GCM') bad('cipher.alg');
  if (typeof c.iv !== 'string' || !/^[A-Za-z0-9_-]{16}$/.test(c.iv)) bad('cipher.iv');
}

/** The fields of an untrusted value that must be a JSON object; `bad(what)` when it is not. */
export function fieldsOf(v: unknown, bad: (what: string) => never, what: string): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : bad(what);
}

/** An integer from lo to hi. */
const intIn = (v: unknown, lo: number, hi: number): boolean =>
  Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;

/** Field-by-field check of an untrusted backup file. */
export function assertKeyBackup(x: unknown): asserts x is KeyBackup {
  const bad: (what: string) => never = (what) => {
    throw new LedgerError(ErrorCode.BAD_BACKUP, `not a key backup: ${what}`);
  };
  const b = fieldsOf(x, bad, 'not a JSON object');
  if (b.format !== BACKUP_FORMAT) bad(`format must be "${BACKUP_FORMAT}"`);
  if (typeof b.publicKey !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(b.publicKey)) bad('publicKey');
  if (typeof b.name !== 'string' || b.name.length > 256) bad('name');
  assertSealParams(b, bad);
  if (typeof b.ciphertext !== 'string' || !/^[A-Za-z0-9_-]{20,400}$/.test(b.ciphertext)) bad('ciphertext');
  if (b.teamKeys !== undefined) {
    const t = fieldsOf(b.teamKeys, bad, 'teamKeys');
    if (typeof t.iv !== 'string' || !/^[A-Za-z0-9_-]{16}$/.test(t.iv)) bad('teamKeys.iv');
    if (typeof t.ciphertext !== 'string' || !/^[A-Za-z0-9_-]{20,4000000}$/.test(t.ciphertext))
      bad('teamKeys.ciphertext');
  }
}

/** Decrypts a backup; a wrong passphrase or any changed byte fails authentication (BAD_PASSPHRASE). */
export async function decryptKeyBackup(
  backup: unknown,
  passphrase: string,
  extractable = false
): Promise<DeviceKey & { name: string; teamKeys: BackupTeamKey[] }> {
  assertKeyBackup(backup);
  const pkcs8 = await unseal(
    passphrase,
    backup.kdf,
    backup.cipher.iv,
    header(backup),
    backup.ciphertext,
    'wrong passphrase, or the backup file was altered'
  );
  const dk = await importPrivateKey(pkcs8, extractable);
  if (dk.publicKey !== backup.publicKey) {
    throw new LedgerError(ErrorCode.KEY_MISMATCH, 'the decrypted key does not match the public key in the backup');
  }
  let teamKeys: BackupTeamKey[] = [];
  if (backup.teamKeys) {
    const plain = await unseal(
      passphrase,
      backup.kdf,
      backup.teamKeys.iv,
      teamKeysAad(backup),
      backup.teamKeys.ciphertext,
      'the team keys of the backup file were altered'
    );
    teamKeys = parseTeamKeys(plain);
  }
  return { ...dk, name: backup.name, teamKeys };
}

function parseTeamKeys(b: Uint8Array): BackupTeamKey[] {
  let list: unknown;
  try {
    list = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch {
    list = undefined;
  }
  return teamKeysFromJson(list, 'not a key backup: its team keys are not a list of {epoch, key, covers}');
}

/** The JSON form of team keys in a backup (key backup and complete backup alike): `[{"epoch", "key", "covers"}, …]`. */
export function teamKeysJson(keys: readonly BackupTeamKey[]): Array<{ epoch: number; key: string; covers: string[] }> {
  return keys.map((k) => ({ epoch: k.epoch, key: toBase64url(k.key), covers: [...k.covers] }));
}

/** Reads the JSON form of team keys, field by field; anything else is BAD_BACKUP with `message`. */
export function teamKeysFromJson(list: unknown, message: string): BackupTeamKey[] {
  const bad = (): never => {
    throw new LedgerError(ErrorCode.BAD_BACKUP, message);
  };
  if (!Array.isArray(list)) return bad();
  const epochs = new Set<number>();
  return list.map((r) => {
    if (
      typeof r !== 'object' ||
      r === null ||
      !Number.isSafeInteger(r.epoch) ||
      r.epoch < 1 ||
      typeof r.key !== 'string'
    )
      return bad();
    if (epochs.has(r.epoch)) return bad();
    epochs.add(r.epoch);
    if (!Array.isArray(r.covers) || !r.covers.every((c: unknown) => typeof c === 'string' && /^[0-9a-f]{64}$/.test(c)))
      return bad();
    let key: Uint8Array;
    try {
      key = fromBase64url(r.key);
    } catch {
      return bad();
    }
    if (key.length !== 32) return bad();
    return { epoch: r.epoch, key, covers: r.covers };
  });
}
