/** init: make this device's key (unless one was imported) and a new ledger whose owner it is. */
import { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { loadIdentity, saveIdentity, identitySigner } from '../../lib/adapters/node/identity.ts';
import { Ledger } from '../../lib/core/ledger.ts';
import { ErrorCode, LedgerError } from '../../lib/core/errors.ts';
import { generateDeviceKey, keyFingerprint } from '../../lib/core/keys.ts';
import { LEDGER_FOLDERS, keepReadIndex, ledgerDir, refuseUnfinishedClone, type GlobalOptions } from '../context.ts';
import { trackDocument } from '../read-index.ts';
import type { Output } from '../output.ts';
import { userInfo } from 'node:os';
import path from 'node:path';

export interface InitOptions extends GlobalOptions {
  name?: string;
  ledgerName?: string;
}

export async function init(opts: InitOptions, out: Output): Promise<void> {
  const dir = ledgerDir(opts);
  await refuseUnfinishedClone(dir);
  const storage = await FsStorage.open(dir, { sweep: LEDGER_FOLDERS });
  if (await Ledger.exists(storage)) {
    throw new LedgerError(
      ErrorCode.ALREADY_INITIALIZED,
      `${dir} already holds a ledger: refusing to create another over it`
    );
  }
  // A ledger's journal or device log without its document: that ledger lost its document (recover rebuilds it).
  const copies = await (await import('./recover.ts')).survivingCopies(dir);
  if (copies.length) {
    throw new LedgerError(
      ErrorCode.ALREADY_INITIALIZED,
      `${dir} holds ${copies.join(' and ')} of a ledger whose document is missing: refusing to start another ledger beside it; run \`provenance-ledger recover --ledger ${dir}\` to rebuild its document`
    );
  }
  let identity = await loadIdentity(storage);
  const name = opts.name ?? identity?.name ?? defaultName();
  const ledgerName = opts.ledgerName ?? path.basename(path.resolve(dir));
  let created = false;
  if (identity) {
    out.note(`using the device key already in ${dir} (${identity.publicKey.slice(0, 12)}…)`);
  } else {
    identity = await saveIdentity(storage, await generateDeviceKey(true), name);
    created = true;
  }
  let ledger: Ledger;
  try {
    const tracked = trackDocument(storage, { created: true }); // no chunk yet (Ledger.exists said so)
    ledger = await Ledger.create({
      storage: tracked.storage,
      signer: identitySigner(identity),
      memberName: name,
      ledgerName
    });
    keepReadIndex(ledger, tracked);
  } catch (e) {
    // Leave the directory as it was: an invalid name must not leave a key without a ledger behind.
    if (created) await storage.removeRange(['identity']);
    throw e;
  }
  const fingerprint = await keyFingerprint(identity.publicKey);
  out.result(
    {
      ledger: { id: ledger.id, name: ledger.name, dir: path.resolve(dir) },
      member: { name, publicKey: identity.publicKey, fingerprint, role: 'owner' },
      keyCreated: created
    },
    (say) => {
      say(`Created ledger "${ledger.name}" in ${path.resolve(dir)}`);
      say(`  ledger id    ${ledger.id}`);
      say(`  owner        ${name}`);
      say(`  device key   ${identity.publicKey} (fingerprint ${fingerprint})${created ? ', new' : ''}`);
      if (created) say(`Back the key up now: provenance-ledger key export --ledger ${dir} --out FILE`);
    }
  );
}

function defaultName(): string {
  try {
    return userInfo().username || 'owner';
  } catch {
    return 'owner';
  }
}
