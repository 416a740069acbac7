/**
 * The complete backup of a device: one passphrase-encrypted file holding the device key (its key backup), the
 * whole ledger (every event and its journal signature, as the ledger export writes them), the policy texts and
 * the prompt vault. Same primitives as the key backup (backup.ts): Argon2id derives an AES-256-GCM key, and the
 * header (every field but the ciphertext) is the additional authenticated data, so no field can be swapped.
 *
 *   { "format": "provenance-ledger/backup/v1", "ledgerId", "ledgerName", "publicKey", "createdAt",
 *     "counts": { "events", "texts", "prompts" }, "kdf": {...}, "cipher": { "alg": "AES-256-GCM", "iv" },
 *     "ciphertext": base64url(AES-GCM(payload)) }
 *
 *   payload (UTF-8 JSON): { "key": <key backup, backup.ts, encrypted with the same passphrase>,
 *     "ledger": <the ledger export text, format v2>, "texts": [[sha256, text], ...], "prompts": [<opening>, ...],
 *     "teamKeys": [{ "epoch", "key" (base64url), "covers" }, ...] }   (optional: the team keys the device held, which
 *     open its sealed journal; absent from backups made before it was added, or of a device that held none)
 *
 * A wrong passphrase or any changed byte fails authentication (BAD_PASSPHRASE); a file that is not one, or is
 * cut short, is refused field by field (BAD_BACKUP). Decrypting checks every text against its hash and every
 * prompt opening against its commitment; the ledger itself is verified by whoever restores it (transfer.ts).
 * See ledger-schema/README.md, "Complete backup".
 */
import { canonicalBytes } from './canonical.ts';
import { fromUtf8, utf8 } from './bytes.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import {
  assertKeyBackup,
  assertSealParams,
  DEFAULT_KDF,
  fieldsOf,
  seal,
  sealParams,
  teamKeysFromJson,
  teamKeysJson,
  unseal,
  type BackupTeamKey,
  type KdfParams,
  type KeyBackup
} from './backup.ts';
import { verifyOpening, type Opening } from './commitment.ts';
import { sha256Hex } from './hash.ts';

export const FULL_BACKUP_FORMAT = 'provenance-ledger/backup/v1';

export interface FullBackupPayload {
  key: KeyBackup;
  ledger: string;
  texts: Array<[string, string]>;
  prompts: Opening[];
  /** Every team key epoch the device held (they open its sealed journal); absent when it held none. */
  teamKeys?: BackupTeamKey[];
}

export interface FullBackupHeader {
  format: typeof FULL_BACKUP_FORMAT;
  ledgerId: string;
  ledgerName: string;
  publicKey: string;
  createdAt: string;
  counts: { events: number; texts: number; prompts: number };
  kdf: KdfParams;
  cipher: { alg: 'AES-256-GCM'; iv: string };
}

export interface FullBackup extends FullBackupHeader {
  ciphertext: string;
}

const header = (b: FullBackupHeader): Uint8Array =>
  canonicalBytes({
    format: b.format,
    ledgerId: b.ledgerId,
    ledgerName: b.ledgerName,
    publicKey: b.publicKey,
    createdAt: b.createdAt,
    counts: b.counts,
    kdf: b.kdf,
    cipher: b.cipher
  });

export async function encryptFullBackup(
  payload: FullBackupPayload,
  meta: { ledgerId: string; ledgerName: string; events: number; createdAt?: string },
  passphrase: string,
  params: { iterations: number; memoryKiB: number; parallelism: number } = DEFAULT_KDF
): Promise<FullBackup> {
  const { kdf, cipher } = sealParams(passphrase, params);
  const head: FullBackupHeader = {
    format: FULL_BACKUP_FORMAT,
    ledgerId: meta.ledgerId,
    ledgerName: meta.ledgerName,
    publicKey: payload.key.publicKey,
    createdAt: meta.createdAt ?? new Date().toISOString(),
    counts: { events: meta.events, texts: payload.texts.length, prompts: payload.prompts.length },
    kdf,
    cipher
  };
  const { teamKeys, ...rest } = payload;
  const plain = teamKeys?.length ? { ...rest, teamKeys: teamKeysJson(teamKeys) } : rest;
  return { ...head, ciphertext: await seal(passphrase, kdf, cipher.iv, header(head), utf8(JSON.stringify(plain))) };
}

const bad: (what: string) => never = (what) => {
  throw new LedgerError(
    ErrorCode.BAD_BACKUP,
    `This is not a complete backup, or it is damaged: ${what}. Nothing was changed.`
  );
};

/** Parses the text of a backup file, field by field. */
export function parseFullBackup(text: string): FullBackup {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    bad('the file is not JSON (cut short or altered)');
  }
  const b = fieldsOf(x, bad, 'not a JSON object');
  if (b.format !== FULL_BACKUP_FORMAT) {
    if (typeof b.format === 'string' && b.format.startsWith('provenance-ledger/key-backup/'))
      bad('this is a key backup (the key only), restore it under Settings → Restore a key');
    bad(`format must be "${FULL_BACKUP_FORMAT}"`);
  }
  if (typeof b.ledgerId !== 'string' || !/^[0-9a-f]{64}$/.test(b.ledgerId)) bad('ledgerId');
  if (typeof b.ledgerName !== 'string' || b.ledgerName.length > 256) bad('ledgerName');
  if (typeof b.publicKey !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(b.publicKey)) bad('publicKey');
  if (typeof b.createdAt !== 'string' || b.createdAt.length > 64) bad('createdAt');
  const c = fieldsOf(b.counts, bad, 'counts');
  if (!['events', 'texts', 'prompts'].every((k) => Number.isSafeInteger(c[k]) && (c[k] as number) >= 0)) bad('counts');
  assertSealParams(b, bad);
  if (typeof b.ciphertext !== 'string' || !/^[A-Za-z0-9_-]{24,}$/.test(b.ciphertext)) bad('ciphertext');
  return b as unknown as FullBackup;
}

/**
 * Decrypts a backup and checks what it holds: the key backup's form and public key, each policy text against its
 * SHA-256, each prompt opening against its commitment, the counts against the header. Nothing is stored here.
 */
export async function decryptFullBackup(
  backup: FullBackup | string,
  passphrase: string
): Promise<{ header: FullBackupHeader; payload: FullBackupPayload }> {
  const b = typeof backup === 'string' ? parseFullBackup(backup) : parseFullBackup(JSON.stringify(backup));
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Enter the backup passphrase.');
  const plain = await unseal(
    passphrase,
    b.kdf,
    b.cipher.iv,
    header(b),
    b.ciphertext,
    'Wrong passphrase, or the backup file was altered. Nothing was changed.'
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(plain));
  } catch {
    return bad('its contents are not JSON');
  }
  const p = fieldsOf(parsed, bad, 'its contents are not an object');
  try {
    assertKeyBackup(p.key);
  } catch (e) {
    bad(`the device key: ${(e as Error).message}`);
  }
  if (p.key.publicKey !== b.publicKey) bad('the device key is not the one the header names');
  if (typeof p.ledger !== 'string' || p.ledger.length === 0) bad('no ledger');
  if (!Array.isArray(p.texts) || !Array.isArray(p.prompts)) bad('no texts or prompts list');
  if (p.texts.length !== b.counts.texts || p.prompts.length !== b.counts.prompts)
    bad('the counts differ from the header');
  for (const t of p.texts) {
    if (
      !Array.isArray(t) ||
      t.length !== 2 ||
      typeof t[0] !== 'string' ||
      typeof t[1] !== 'string' ||
      (await sha256Hex(utf8(t[1]))) !== t[0]
    ) {
      bad('a policy text does not match its hash');
    }
  }
  for (const o of p.prompts) {
    try {
      await verifyOpening(o, (o as Opening)?.commitment);
    } catch {
      bad('a prompt opening does not match its commitment');
    }
  }
  const { teamKeys: rawTeamKeys, ...rest } = p;
  const payload = rest as unknown as FullBackupPayload;
  if (rawTeamKeys !== undefined)
    payload.teamKeys = teamKeysFromJson(
      rawTeamKeys,
      'This is not a complete backup, or it is damaged: its team keys are not a list of {epoch, key, covers}. Nothing was changed.'
    );
  const { ciphertext: _ct, ...head } = b;
  return { header: head, payload };
}
