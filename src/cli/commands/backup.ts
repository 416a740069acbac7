/**
 * backup / restore: the complete backup (lib/core/full-backup.ts; ledger-schema/README.md section 21): the device
 * key, every event with its journal signature, the policy texts, the prompt vault and the team keys (they open the
 * sealed journal) in one passphrase-encrypted file. The passphrase comes from $PROVENANCE_LEDGER_PASSPHRASE or is typed without echo.
 *
 * restore checks everything before it writes: the passphrase, every text and opening, the key, every event and
 * journal signature as a whole ledger. Into a directory without a ledger (or a missing one) it writes the key, team
 * keys, texts, openings and ledger (team keys of epochs the directory lacks are added in either case); into the same ledger it adds what is missing (the directory's own key is kept); into a
 * directory holding another ledger it refuses (WRONG_LEDGER, exit 2) and writes nothing.
 */
import { lstat, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { loadIdentity, saveIdentity } from '../../lib/adapters/node/identity.ts';
import { getPassphrase } from '../../lib/adapters/node/passphrase.ts';
import { assertReadableFile, nativePath } from '../../lib/adapters/node/files.ts';
import { decryptKeyBackup, encryptKeyBackup } from '../../lib/core/backup.ts';
import { decryptFullBackup, encryptFullBackup } from '../../lib/core/full-backup.ts';
import { PromptVault } from '../../lib/core/vault.ts';
import { loadTeamKeys, saveTeamKey } from '../../lib/core/team/teamkey.ts';
import { Ledger } from '../../lib/core/ledger.ts';
import { DocStore } from '../../lib/core/docstore.ts';
import { sha256Hex } from '../../lib/core/hash.ts';
import { fromUtf8, utf8 } from '../../lib/core/bytes.ts';
import { sigKey } from '../../lib/core/journal/signatures.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import type { Opening } from '../../lib/core/commitment.ts';
import { encodeLedger, parseLedgerExport, verifyExport } from '../../lib/engine/transfer.ts';
import { LEDGER_FOLDERS, ledgerDir, refuseUnfinishedClone, openSession, type GlobalOptions } from '../context.ts';
import type { Output } from '../output.ts';

export async function backupLedger(opts: GlobalOptions & { out: string; force?: boolean }, out: Output): Promise<void> {
  const session = await openSession(opts);
  const identity = session.identity;
  if (!identity)
    throw new LedgerError(ErrorCode.NOT_FOUND, `no device key in ${session.dir}: a complete backup holds the key`);
  const texts: Array<[string, string]> = [];
  for (const { key, data } of await session.storage.loadRange(['texts'])) {
    if (key.length === 2 && (await sha256Hex(data)) === key[1]) texts.push([key[1], fromUtf8(data)]);
  }
  const vault = new PromptVault(session.storage);
  const prompts: Opening[] = [];
  for (const c of await vault.commitments()) {
    const o = await vault.get(c);
    if (o) prompts.push(o);
  }
  const teamKeys = await loadTeamKeys(session.storage);
  const passphrase = await getPassphrase('Passphrase for the backup: ', true);
  const key = await encryptKeyBackup(identity.pkcs8, identity.publicKey, identity.name, passphrase);
  const ledger = session.ledger;
  const backup = await encryptFullBackup(
    { key, ledger: encodeLedger(ledger), texts, prompts, teamKeys },
    { ledgerId: ledger.id, ledgerName: ledger.name, events: ledger.size },
    passphrase
  );
  let handle;
  try {
    handle = await open(opts.out, opts.force ? 'w' : 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LedgerError(ErrorCode.BAD_INPUT, `${opts.out} already exists: choose another --out, or pass --force`);
    throw new LedgerError(ErrorCode.BAD_INPUT, `cannot write ${opts.out}: ${(e as Error).message}`);
  }
  try {
    await handle.writeFile(JSON.stringify(backup) + '\n');
  } finally {
    await handle.close();
  }
  const counts = { events: ledger.size, texts: texts.length, prompts: prompts.length };
  const teamKeyEpochs = teamKeys.map((k) => k.epoch).sort((a, b) => a - b);
  out.result(
    { out: path.resolve(opts.out), ledger: { id: ledger.id, name: ledger.name }, ...counts, teamKeyEpochs },
    (say) => {
      say(
        `Wrote the complete backup of "${ledger.name}" (${counts.events} events, ${counts.texts} policy texts, ${counts.prompts} prompts and the key of ${identity.name}) to ${path.resolve(opts.out)}`
      );
      if (teamKeyEpochs.length)
        say(
          `  with the team keys of epoch${teamKeyEpochs.length === 1 ? '' : 's'} ${teamKeyEpochs.join(', ')} (they open the sealed journal)`
        );
      say('Keep it and its passphrase apart; both together sign as you.');
    }
  );
}

export async function restoreLedger(file: string, opts: GlobalOptions, out: Output): Promise<void> {
  const dir = ledgerDir(opts);
  await assertReadableFile(file, 'backup file');
  const text = await readFile(nativePath(file), 'utf8');
  const passphrase = await getPassphrase('Passphrase of the backup: ');
  // Everything checked before the directory is touched.
  const { header, payload } = await decryptFullBackup(text, passphrase);
  const parsed = parseLedgerExport(payload.ledger);
  if (parsed.manifest.ledgerId !== header.ledgerId)
    throw new LedgerError(
      ErrorCode.BAD_BACKUP,
      'the backup’s ledger is not the one its header names; nothing was changed'
    );
  await verifyExport(parsed);
  const key = await decryptKeyBackup(payload.key, passphrase, true);

  const hasDoc = await lstat(path.join(dir, 'doc')).then(
    () => true,
    () => false
  );
  let held: Ledger | undefined;
  if (hasDoc) {
    const s = await openSession(opts);
    held = s.ledger;
    if (held.id !== header.ledgerId) {
      throw new LedgerError(
        ErrorCode.WRONG_LEDGER,
        `${dir} holds the ledger "${held.name}"; the backup is of "${header.ledgerName}". Nothing was changed.`
      );
    }
  }
  await refuseUnfinishedClone(dir);
  const storage = await FsStorage.open(dir, { sweep: LEDGER_FOLDERS });
  const existing = await loadIdentity(storage);
  let keyRestored = false;
  if (!existing) {
    await saveIdentity(storage, key, key.name);
    keyRestored = true;
  }
  // Team keys of epochs this directory lacks (they open the sealed journal); a held epoch is kept.
  const heldEpochs = new Set((await loadTeamKeys(storage)).map((k) => k.epoch));
  const teamKeysAdded = (payload.teamKeys ?? []).filter((k) => !heldEpochs.has(k.epoch));
  for (const k of teamKeysAdded) await saveTeamKey(storage, k);
  const teamKeyEpochs = teamKeysAdded.map((k) => k.epoch).sort((a, b) => a - b);
  // Texts and openings before the events that name them.
  let texts = 0;
  for (const [sha, t] of payload.texts) {
    if (await storage.load(['texts', sha])) continue;
    await storage.save(['texts', sha], utf8(t));
    texts++;
  }
  const vault = new PromptVault(storage);
  const heldPrompts = new Set(await vault.commitments());
  let prompts = 0;
  for (const o of payload.prompts) {
    if (heldPrompts.has(o.commitment)) continue;
    await vault.put(o);
    prompts++;
  }
  if (!held) {
    const genesis = parsed.entries.find(([id]) => id === header.ledgerId);
    if (!genesis) throw new LedgerError(ErrorCode.GENESIS, 'the backup lacks the event that creates its ledger');
    const genesisSig = parsed.signatures.find(([k]) => k === sigKey(genesis[0]));
    const { store } = await DocStore.load(storage);
    await store.commit(genesisSig ? [genesis, genesisSig] : [genesis]);
  }
  const identity = existing ?? (await loadIdentity(storage));
  const before = held?.size ?? 0;
  // A write session when this directory's key is a member (the Git journal and device log follow the events).
  const writable =
    identity !== undefined && (held ?? (await openSession(opts)).ledger).member(identity.publicKey)?.active === true;
  const session = await openSession(opts, { write: writable });
  const result = await session.ledger.receive([...parsed.entries, ...parsed.signatures], { allOrNothing: true });
  if (result.problems.length > 0) {
    const p = result.problems[0];
    throw new LedgerError(p.code, `an event of the backup is not accepted: ${p.message}`, { eventId: p.eventId });
  }
  if (session.journal) await session.journal.settled();
  if (session.deviceLog) await session.deviceLog();
  const events = session.ledger.size - before;
  const nothing = events === 0 && texts === 0 && prompts === 0 && !keyRestored && teamKeyEpochs.length === 0;
  out.result(
    {
      dir: path.resolve(dir),
      ledger: { id: header.ledgerId, name: header.ledgerName },
      events,
      already: parsed.entries.length - events,
      texts,
      prompts,
      keyRestored,
      teamKeyEpochs
    },
    (say) =>
      say(
        nothing
          ? `${path.resolve(dir)} already holds everything in the backup of "${header.ledgerName}": nothing to do`
          : `Restored "${header.ledgerName}" into ${path.resolve(dir)}: ${events} events added (${parsed.entries.length - events} already there), ${texts} policy texts, ${prompts} prompts${teamKeyEpochs.length ? `, the team keys of epoch${teamKeyEpochs.length === 1 ? '' : 's'} ${teamKeyEpochs.join(', ')}` : ''}${keyRestored ? ', the device key' : existing && existing.publicKey !== key.publicKey ? '; the directory keeps its own key' : ''}`
      )
  );
}
