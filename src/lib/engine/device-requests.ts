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
import type { KeyBackup } from '../core/backup.ts';
import type { LedgerHost } from './host.ts';
import { recordCustody, hashAll } from './custody.ts';
import { MAX_IMPORT_BYTES, encodeLedger, parseLedgerExport, verifyExport } from './transfer.ts';
import type { VaultLock } from './vault-lock.ts';
import type { IdentityInfo, ImportResult, Progress, Request, Results, VaultStatus } from './protocol.ts';
import type { BrowserIdentity } from '../adapters/browser-identity.ts';

export type DeviceRequest = Extract<
  Request,
  { type: 'hash-files' | 'trace' | 'record-custody' | 'identity' | 'key-backup' | 'restore-key' | 'export-ledger' | 'import-ledger' | 'vault' }
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
  'vault'
]);

export const isDeviceRequest = (r: Request): r is DeviceRequest => DEVICE_REQUESTS.has(r.type);

/** The device key functions (browser-identity.ts in the worker; fakes in unit tests). */
export interface IdentityStore {
  load(): Promise<BrowserIdentity | undefined>;
  restore(backup: unknown, passphrase: string): Promise<BrowserIdentity>;
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
  if (!Array.isArray(hashes) || hashes.length > 1000 || !hashes.every((h) => typeof h === 'string' && HEX64.test(h.toLowerCase()))) {
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
  let before = 0;
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
    throw new LedgerError(p.code, `An event in the file is not accepted, so nothing was imported: ${p.message}`, { eventId: p.eventId, detail: result.problems });
  }
  await host.saveOpenCache().catch(() => undefined); // the next page load opens fast
  const after = await host.open();
  const count = after.state === 'ready' ? after.events.length : 0;
  return { ledgerName: parsed.manifest.ledgerName, accepted: count - before, already: parsed.entries.length - (count - before), state: after };
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
      if (!Array.isArray(r.files) || !r.files.every((f) => f instanceof Blob)) throw new LedgerError(ErrorCode.BAD_INPUT, 'no files given');
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
      if (typeof r.passphrase !== 'string' || r.passphrase.length === 0) throw new LedgerError(ErrorCode.BAD_INPUT, 'Enter the backup passphrase.');
      await deps.identity.restore(r.backup, r.passphrase);
      result = await host.reopen();
      break;
    }
    case 'export-ledger': {
      const ledger = host.ledger();
      const safe = ledger.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'ledger';
      result = { text: encodeLedger(ledger), filename: `${safe}.ledger.jsonl`, events: ledger.size };
      break;
    }
    case 'import-ledger':
      result = await importLedger(host, r.file);
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
