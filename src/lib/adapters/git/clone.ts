/** Clone: a ledger rebuilt from a Git remote alone. */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import type { GitBinding } from './binding.ts';
import type { GitJournal } from './journal.ts';
import { fetchAndAccept, NeedGenesis } from './fetch.ts';

/**
 * Rebuilds a ledger from a remote alone: its root commit must be a valid genesis, which founds the ledger in
 * `storage` (empty); every other commit is checked as a pull checks it. The events are stored in batches
 * (`batch` events each, parents first; fetch.ts), one chunk per batch, not compacted here (a snapshot of a large
 * ledger takes as much memory again; `compact` makes one). When this throws, the document it wrote is removed
 * (all or nothing); the caller removes the journal's repository. A crash part-way leaves a prefix of the history
 * (every stored event checked, its parents stored before it), no pack and no refs: it verifies, with the commits
 * pending, which the next command writes from the stored signatures, and a pull fetches the rest.
 */
export async function clone(
  binding: GitBinding,
  url: string,
  storage: import('../../core/storage.ts').StorageAdapter,
  signer?: import('../../core/keys.ts').Signer,
  /** The archive keys of the team key epochs this device holds: a sealed remote is opened with them. */
  keys?: readonly import('../../core/journal/sealed.ts').ArchiveKey[],
  opts: { batch?: number } = {}
): Promise<GitJournal> {
  const { GitJournal } = await import('./journal.ts');
  const { Ledger } = await import('../../core/ledger.ts');
  const { DocStore } = await import('../../core/docstore.ts');
  if (await Ledger.exists(storage))
    throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'a ledger already exists here: clone into an empty directory');
  await GitJournal.init(binding);
  let journal: GitJournal | undefined;
  const { sealedFetch } = await import('./sealed.ts');
  try {
    return await fetchInto();
  } catch (e) {
    await journal?.settled().catch(() => undefined);
    await storage.removeRange(['doc']).catch(() => undefined);
    throw e;
  }

  async function fetchInto(): Promise<GitJournal> {
    const { remote, kind } = await fetchAndAccept(
      binding,
      url,
      async (genesis) => {
        if (journal) return journal;
        if (!genesis) throw new NeedGenesis();
        const { store } = await DocStore.load(storage);
        await store.commit([[genesis.id, genesis.json]], genesis.id);
        const ledger = await Ledger.open({ storage, signer });
        journal = await GitJournal.attach(binding, ledger);
        return journal;
      },
      await sealedFetch(undefined, keys ?? []),
      opts
    );
    if (!journal) throw new LedgerError(ErrorCode.REMOTE_DIVERGED, `${url} is empty: there is no ledger to clone`);
    await journal
      .recordRemote('pull', { url, main: remote.get('main'), count: journal.ledger.size, sealed: kind === 'sealed' })
      .catch(() => undefined);
    return journal;
  }
}
