/**
 * key export / key import: a passphrase-encrypted backup of this device's key (Argon2id + AES-256-GCM,
 * lib/core/backup.ts). The passphrase comes from $PROVENANCE_LEDGER_PASSPHRASE or is typed without echo.
 */
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { loadIdentity, saveIdentity } from '../../lib/adapters/node/identity.ts';
import { getPassphrase } from '../../lib/adapters/node/passphrase.ts';
import { assertReadableFile, nativePath } from '../../lib/adapters/node/files.ts';
import { decryptKeyBackup, encryptKeyBackup } from '../../lib/core/backup.ts';
import { keyFingerprint } from '../../lib/core/keys.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import { LEDGER_FOLDERS, existingStorage, ledgerDir, openSession, type GlobalOptions } from '../context.ts';
import type { Output } from '../output.ts';

export async function keyExport(opts: GlobalOptions & { out: string; force?: boolean }, out: Output): Promise<void> {
  const dir = ledgerDir(opts);
  const storage = await existingStorage(dir);
  const identity = await loadIdentity(storage);
  if (!identity) throw new LedgerError(ErrorCode.NOT_FOUND, `no device key in ${dir} to export`);
  const passphrase = await getPassphrase('Passphrase for the backup: ', true);
  // The team keys go with the device key: they open the sealed journal (clone --key-backup). The owner of a ledger
  // that has none yet makes epoch 1 now, so the backup of a solo ledger opens what it will push.
  const { loadTeamKeys, ensureTeamKey } = await import('../../lib/core/team/teamkey.ts');
  let teamKeys = await loadTeamKeys(storage);
  if (!teamKeys.length) {
    const session = await openSession(opts, { write: false }).catch(() => undefined);
    if (session?.ledger.member(identity.publicKey)?.role === 'owner') await ensureTeamKey(storage, true);
    teamKeys = await loadTeamKeys(storage);
  }
  const backup = await encryptKeyBackup(
    identity.pkcs8,
    identity.publicKey,
    identity.name,
    passphrase,
    undefined,
    teamKeys
  );
  let handle;
  try {
    // 'wx': never overwrite an existing file (it may be an older backup of another key) unless --force.
    handle = await open(opts.out, opts.force ? 'w' : 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new LedgerError(ErrorCode.BAD_INPUT, `${opts.out} already exists: choose another --out, or pass --force`);
    throw new LedgerError(ErrorCode.BAD_INPUT, `cannot write ${opts.out}: ${(e as Error).message}`);
  }
  try {
    await handle.writeFile(JSON.stringify(backup, null, 2) + '\n');
  } finally {
    await handle.close();
  }
  const fingerprint = await keyFingerprint(identity.publicKey);
  out.result(
    {
      out: path.resolve(opts.out),
      publicKey: identity.publicKey,
      fingerprint,
      name: identity.name,
      teamKeyEpochs: teamKeys.map((k) => k.epoch)
    },
    (say) => {
      say(
        `Wrote the encrypted key backup of ${identity.name} (fingerprint ${fingerprint}) to ${path.resolve(opts.out)}`
      );
      if (teamKeys.length)
        say(
          `  with the team keys of epoch${teamKeys.length === 1 ? '' : 's'} ${teamKeys
            .map((k) => k.epoch)
            .sort((a, b) => a - b)
            .join(', ')} (they open the sealed journal)`
        );
      say('Keep it and its passphrase apart; either alone is useless, both together sign as you.');
    }
  );
}

export async function keyImport(file: string, opts: GlobalOptions, out: Output): Promise<void> {
  const dir = ledgerDir(opts);
  await assertReadableFile(file, 'backup file');
  let backup: unknown;
  try {
    backup = JSON.parse(await readFile(nativePath(file), 'utf8'));
  } catch (e) {
    throw new LedgerError(ErrorCode.BAD_BACKUP, `backup file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const passphrase = await getPassphrase('Passphrase of the backup: ');
  // Decrypt before touching the directory: a wrong passphrase changes nothing.
  const key = await decryptKeyBackup(backup, passphrase, true);
  const storage = await FsStorage.open(dir, { sweep: LEDGER_FOLDERS });
  const existing = await loadIdentity(storage);
  const fingerprint = await keyFingerprint(key.publicKey);
  let status: 'imported' | 'already-present';
  if (existing && existing.publicKey !== key.publicKey) {
    throw new LedgerError(
      ErrorCode.KEY_MISMATCH,
      `${dir} already has another device key (${existing.publicKey.slice(0, 12)}…); refusing to replace it with ${key.publicKey.slice(0, 12)}…`
    );
  } else if (existing) {
    status = 'already-present';
  } else {
    await saveIdentity(storage, key, key.name);
    status = 'imported';
  }
  // Team keys the directory lacks (an epoch already held is kept as it is).
  const { loadTeamKeys, saveTeamKey } = await import('../../lib/core/team/teamkey.ts');
  const held = new Set((await loadTeamKeys(storage)).map((k) => k.epoch));
  const added = key.teamKeys.filter((k) => !held.has(k.epoch));
  for (const k of added) await saveTeamKey(storage, k);
  out.result(
    {
      status,
      dir: path.resolve(dir),
      publicKey: key.publicKey,
      fingerprint,
      name: key.name,
      teamKeyEpochs: added.map((k) => k.epoch)
    },
    (say) => {
      say(
        status === 'imported'
          ? `Imported the key of ${key.name} (fingerprint ${fingerprint}) into ${path.resolve(dir)}`
          : `${path.resolve(dir)} already holds this key (fingerprint ${fingerprint}); nothing changed`
      );
    }
  );
}
