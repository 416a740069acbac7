/**
 * The worker's handlers for the Asset, Verify and Settings pages: hashing dropped files, tracing a file's chain
 * of custody, custody records, the device key (identity, backup, restore), the vault passphrase, and export
 * and import of the whole ledger. Kept apart from host.ts so each concept has its own file; the host lends
 * its ledger and storage through small public methods.
 */
import { Ledger } from '../core/ledger.ts';
import { DocStore } from '../core/docstore.ts';
import type { LedgerEvent } from '../core/event.ts';
import { isGenesis } from '../core/roster.ts';
import { sigKey } from '../core/journal/signatures.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { keyFingerprint, type PublicKey } from '../core/keys.ts';
import { decryptKeyBackup, type KeyBackup } from '../core/backup.ts';
import { decryptFullBackup, encryptFullBackup } from '../core/full-backup.ts';
import { PromptVault } from '../core/vault.ts';
import { sha256Hex } from '../core/hash.ts';
import { fromUtf8, utf8 } from '../core/bytes.ts';
import type { LedgerHost } from './host.ts';
import { recordCustody, hashAll } from './custody.ts';
import { MAX_IMPORT_BYTES, encodeLedger, parseLedgerExport, verifyExport } from './transfer.ts';
import type { VaultLock } from './vault-lock.ts';
import type { IdentityInfo, ImportResult, Progress, Request, RestoreResult, Results, VaultStatus } from './protocol.ts';
import type { BrowserIdentity } from '../adapters/browser-identity.ts';

export type DeviceRequest = Extract<
  Request,
  {
    type:
      | 'hash-files'
      | 'trace'
      | 'record-custody'
      | 'identity'
      | 'key-backup'
      | 'restore-key'
      | 'export-ledger'
      | 'import-ledger'
      | 'vault'
      | 'full-backup'
      | 'full-restore';
  }
>;

export const DEVICE_REQUESTS: ReadonlySet<string> = new Set([
  'hash-files',
  'trace',
  'record-custody',
  'identity',
  'key-backup',
  'restore-key',
  'export-ledger',
  'import-ledger',
  'vault',
  'full-backup',
  'full-restore'
]);

export const isDeviceRequest = (r: Request): r is DeviceRequest => DEVICE_REQUESTS.has(r.type);

/** The device key functions (browser-identity.ts in the worker; fakes in unit tests). */
export interface IdentityStore {
  load(): Promise<BrowserIdentity | undefined>;
  /** The restored identity, with the team keys the backup carries (kept beside the ledger, not with the key). */
  restore(
    backup: unknown,
    passphrase: string
  ): Promise<BrowserIdentity & { teamKeys?: Array<{ epoch: number; key: Uint8Array; covers: string[] }> }>;
}

export interface DeviceDeps {
  host: LedgerHost;
  /** The vault lock over the device storage (made when the host opens its storage). */
  vault(): Promise<VaultLock>;
  identity: IdentityStore;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Union of the chains of custody of several files, oldest first. */
export function traceAll(ledger: Ledger, hashes: unknown): LedgerEvent[] {
  if (
    !Array.isArray(hashes) ||
    hashes.length > 1000 ||
    !hashes.every((h) => typeof h === 'string' && HEX64.test(h.toLowerCase()))
  ) {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'trace needs a list of SHA-256 hashes');
  }
  const found = new Map<string, LedgerEvent>();
  for (const h of hashes as string[]) for (const ev of ledger.trace(h)) found.set(ev.id, ev);
  return [...found.values()].sort((a, b) =>
    a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.id < b.id ? -1 : 1
  );
}

async function identityInfo(id: BrowserIdentity | undefined): Promise<IdentityInfo | null> {
  if (!id) return null;
  return {
    memberName: id.memberName,
    publicKey: id.publicKey,
    fingerprint: await keyFingerprint(id.publicKey as PublicKey),
    createdAt: id.createdAt,
    hasBackup: id.backup !== undefined
  };
}

async function keyBackup(store: IdentityStore): Promise<KeyBackup> {
  const id = await store.load();
  if (!id) throw new LedgerError(ErrorCode.NOT_FOUND, 'This device has no key yet.');
  if (!id.backup) {
    throw new LedgerError(
      ErrorCode.NOT_FOUND,
      'This key was made without a backup passphrase. A backup needs the key itself, and this browser keeps it ' +
        'sealed (it cannot be read, by design), so no backup can be made of it now.'
    );
  }
  return id.backup;
}

/** Imports an export file: all of it verified first, then received; any problem and nothing is stored. */
export async function importLedger(host: LedgerHost, file: unknown): Promise<ImportResult> {
  if (!(file instanceof Blob)) throw new LedgerError(ErrorCode.BAD_INPUT, 'Choose a ledger export file.');
  if (file.size > MAX_IMPORT_BYTES) throw new LedgerError(ErrorCode.BAD_INPUT, 'The file is larger than 512 MB.');
  const text = await file.text();
  const parsed = parseLedgerExport(text);
  await verifyExport(parsed);

  const storage = await host.storage();
  const state = await host.open();
  let before: number;
  if (state.state === 'ready') {
    if (state.ledger.id !== parsed.manifest.ledgerId) {
      throw new LedgerError(
        ErrorCode.WRONG_LEDGER,
        `This file holds the ledger “${parsed.manifest.ledgerName}”, not “${state.ledger.name}” which this device holds. Nothing was imported.`
      );
    }
    before = state.events.length;
  } else {
    // An empty device: the file's genesis (verified above, with the whole file) starts the ledger here.
    const genesis = parsed.entries.find(([id]) => id === parsed.manifest.ledgerId);
    const env = genesis && JSON.parse(genesis[1]);
    if (!genesis || !isGenesis({ id: genesis[0], event: env.event, sig: env.sig } as LedgerEvent)) {
      throw new LedgerError(ErrorCode.GENESIS, 'The file lacks the event that creates its ledger.');
    }
    // With its journal signature (verified with the file), so the genesis' commit can be built here.
    const genesisSig = parsed.signatures.find(([k]) => k === sigKey(genesis[0]));
    const { store } = await DocStore.load(storage);
    await store.commit(genesisSig ? [genesis, genesisSig] : [genesis]);
    await host.reopen();
    before = 0;
  }
  const ledger = host.ledger();
  const result = await ledger.receive([...parsed.entries, ...parsed.signatures], { allOrNothing: true });
  if (result.problems.length > 0) {
    const p = result.problems[0];
    throw new LedgerError(p.code, `An event in the file is not accepted, so nothing was imported: ${p.message}`, {
      eventId: p.eventId,
      detail: result.problems
    });
  }
  await host.saveOpenCache().catch(() => undefined); // the next page load opens fast
  const after = await host.open();
  const count = after.state === 'ready' ? after.events.length : 0;
  return {
    ledgerName: parsed.manifest.ledgerName,
    accepted: count - before,
    already: parsed.entries.length - (count - before),
    state: after
  };
}

/**
 * The complete backup (core/full-backup.ts), encrypted with the passphrase of this device's key backup (one
 * passphrase opens both): the key backup, the ledger export, every policy text and prompt opening this device holds,
 * and its team keys (the key backup inside was made when the key was, before any team key: the sealed journal
 * opens with these).
 */
export async function fullBackup(deps: DeviceDeps, passphrase: unknown): Promise<Results['full-backup']> {
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Enter the passphrase of your key backup.');
  const key = await keyBackup(deps.identity);
  try {
    await decryptKeyBackup(key, passphrase);
  } catch {
    throw new LedgerError(
      ErrorCode.BAD_PASSPHRASE,
      'This is not the passphrase of this device’s key backup (the one given when the ledger was created). The backup is encrypted with it, so one passphrase restores everything.'
    );
  }
  const ledger = deps.host.ledger();
  const storage = await deps.host.storage();
  const texts: Array<[string, string]> = [];
  for (const { key: k, data } of await storage.loadRange(['texts'])) {
    // A damaged text (its bytes no longer hash to its name) is left out, as the app treats it as missing.
    if (k.length === 2 && (await sha256Hex(data)) === k[1]) texts.push([k[1], fromUtf8(data)]);
  }
  const vault = new PromptVault(await deps.vault());
  const prompts = [];
  for (const c of await vault.commitments()) {
    const o = await vault.get(c); // a locked vault fails here with VAULT_LOCKED: nothing is written
    if (o) prompts.push(o);
  }
  const { loadTeamKeys } = await import('../core/team/teamkey.ts');
  const teamKeys = await loadTeamKeys(storage);
  const backup = await encryptFullBackup(
    { key, ledger: encodeLedger(ledger), texts, prompts, teamKeys },
    { ledgerId: ledger.id, ledgerName: ledger.name, events: ledger.size },
    passphrase
  );
  const safe =
    ledger.name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'ledger';
  return {
    text: JSON.stringify(backup) + '\n',
    filename: `${safe}.backup.json`,
    events: ledger.size,
    texts: texts.length,
    prompts: prompts.length
  };
}

/**
 * Restores a complete backup. Everything is decrypted and checked before anything is written: the passphrase,
 * every text and opening (core/full-backup.ts), the key backup, and every event and journal signature as a whole
 * ledger (transfer.ts). A device holding another ledger is refused (WRONG_LEDGER), nothing changed. A device
 * without a ledger takes the backup's key, ledger, texts and prompts. A device holding the same ledger keeps its
 * own key and gains what it lacks (events, texts, prompts, team key epochs); when it lacks nothing, the result says so (all zero).
 */
export async function fullRestore(deps: DeviceDeps, file: unknown, passphrase: unknown): Promise<RestoreResult> {
  const { host } = deps;
  if (!(file instanceof Blob)) throw new LedgerError(ErrorCode.BAD_INPUT, 'Choose a backup file.');
  if (file.size > MAX_IMPORT_BYTES * 2) throw new LedgerError(ErrorCode.BAD_INPUT, 'The file is larger than 1 GB.');
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Enter the backup passphrase.');
  const { header, payload } = await decryptFullBackup(await file.text(), passphrase);
  const parsed = parseLedgerExport(payload.ledger);
  if (parsed.manifest.ledgerId !== header.ledgerId)
    throw new LedgerError(
      ErrorCode.BAD_BACKUP,
      'The backup’s ledger is not the one its header names. Nothing was changed.'
    );
  await verifyExport(parsed);
  await decryptKeyBackup(payload.key, passphrase); // the key opens with the same passphrase

  const state = await host.open();
  const holds = state.state === 'ready';
  if (holds && state.ledger.id !== header.ledgerId) {
    throw new LedgerError(
      ErrorCode.WRONG_LEDGER,
      `This browser already holds the ledger “${state.ledger.name}”; the backup is of “${header.ledgerName}”. A browser keeps one ledger: restore it in another browser profile. Nothing was changed.`
    );
  }
  const storage = await host.storage();
  const vault = new PromptVault(await deps.vault());
  const heldPrompts = new Set(await vault.commitments());
  const newPrompts = payload.prompts.filter((o) => !heldPrompts.has(o.commitment));
  const vs = await (await deps.vault()).status();
  if (newPrompts.length > 0 && vs.protected && !vs.unlocked) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      'The prompt vault is locked: unlock it in Settings, then restore again. Nothing was changed.'
    );
  }
  let keyRestored = false;
  if (!holds) {
    await deps.identity.restore(payload.key, passphrase);
    keyRestored = true;
  }
  // Team keys of epochs this device lacks (they open the sealed journal); a held epoch is kept.
  const { loadTeamKeys, saveTeamKey } = await import('../core/team/teamkey.ts');
  const heldEpochs = new Set((await loadTeamKeys(storage)).map((k) => k.epoch));
  const newTeamKeys = (payload.teamKeys ?? []).filter((k) => !heldEpochs.has(k.epoch));
  for (const k of newTeamKeys) await saveTeamKey(storage, k);
  // Texts and openings first: an event whose text or prompt this device cannot show is worse than the reverse.
  let texts = 0;
  for (const [sha, text] of payload.texts) {
    if (await storage.load(['texts', sha])) continue;
    await storage.save(['texts', sha], utf8(text));
    texts++;
  }
  for (const o of newPrompts) await vault.put(o);
  const imported = await importLedger(host, new Blob([payload.ledger]));
  return {
    ledgerName: header.ledgerName,
    accepted: imported.accepted,
    already: imported.already,
    texts,
    prompts: newPrompts.length,
    keyRestored,
    teamKeys: newTeamKeys.length,
    state: imported.state
  };
}

export async function handleDevice<T extends DeviceRequest>(
  deps: DeviceDeps,
  request: T,
  progress: (p: Progress) => void
): Promise<Results[T['type']]> {
  const { host } = deps;
  const r = request as DeviceRequest;
  let result: unknown;
  switch (r.type) {
    case 'hash-files': {
      if (!Array.isArray(r.files) || !r.files.every((f) => f instanceof Blob))
        throw new LedgerError(ErrorCode.BAD_INPUT, 'no files given');
      result = await hashAll(r.files, progress);
      break;
    }
    case 'trace':
      result = traceAll(host.ledger(), r.hashes);
      break;
    case 'record-custody':
      result = await recordCustody(host.writableLedger(), r.input, progress);
      break;
    case 'identity':
      result = await identityInfo(await deps.identity.load());
      break;
    case 'key-backup':
      result = await keyBackup(deps.identity);
      break;
    case 'restore-key': {
      if (typeof r.passphrase !== 'string' || r.passphrase.length === 0)
        throw new LedgerError(ErrorCode.BAD_INPUT, 'Enter the backup passphrase.');
      const restored = await deps.identity.restore(r.backup, r.passphrase);
      if (restored.teamKeys?.length) {
        // Team keys from the backup that this device lacks (they open the sealed journal); a held epoch is kept.
        const { loadTeamKeys, saveTeamKey } = await import('../core/team/teamkey.ts');
        const storage = await host.storage();
        const held = new Set((await loadTeamKeys(storage)).map((k) => k.epoch));
        for (const k of restored.teamKeys) if (!held.has(k.epoch)) await saveTeamKey(storage, k);
      }
      result = await host.reopen();
      break;
    }
    case 'export-ledger': {
      const ledger = host.ledger();
      const safe =
        ledger.name
          .replace(/[^A-Za-z0-9._-]+/g, '-')
          .replace(/^-+|-+$/g, '')
          .slice(0, 60) || 'ledger';
      result = { text: encodeLedger(ledger), filename: `${safe}.ledger.jsonl`, events: ledger.size };
      break;
    }
    case 'import-ledger':
      result = await importLedger(host, r.file);
      break;
    case 'full-backup':
      result = await fullBackup(deps, r.passphrase);
      break;
    case 'full-restore':
      result = await fullRestore(deps, r.file, r.passphrase);
      break;
    case 'vault': {
      const vault = await deps.vault();
      const s: VaultStatus =
        r.action === 'status'
          ? await vault.status()
          : r.action === 'unlock'
            ? await vault.unlock(r.passphrase)
            : r.action === 'lock'
              ? await vault.lock()
              : r.action === 'set'
                ? await vault.setPassphrase(r.passphrase, r.current)
                : (() => {
                    throw new LedgerError(ErrorCode.BAD_INPUT, 'unknown vault action');
                  })();
      result = s;
      break;
    }
  }
  return result as Results[T['type']];
}
