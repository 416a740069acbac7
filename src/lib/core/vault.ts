/**
 * The prompt vault: openings (prompt + salt) kept on this device only, under their commitment.
 * It shares the device's storage but lives under its own prefix, which is never synced or journaled.
 */
import type { StorageAdapter } from './storage.ts';
import type { Opening } from './commitment.ts';
import { fromUtf8, utf8 } from './bytes.ts';
import { verifyOpening } from './commitment.ts';
import { ErrorCode, LedgerError } from './errors.ts';

const PREFIX = 'vault';

export class PromptVault {
  readonly #storage: StorageAdapter;
  constructor(storage: StorageAdapter) {
    this.#storage = storage;
  }

  async put(opening: Opening): Promise<void> {
    await verifyOpening(opening, opening.commitment);
    await this.#storage.save([PREFIX, opening.commitment], utf8(JSON.stringify(opening)));
  }

  /** The opening for a commitment, checked again on the way out; undefined when this device has none. */
  async get(commitment: string): Promise<Opening | undefined> {
    if (!/^[0-9a-f]{64}$/.test(commitment)) return undefined;
    const bytes = await this.#storage.load([PREFIX, commitment]);
    if (!bytes) return undefined;
    // A damaged file fails with VAULT_CORRUPT naming it: an opening is given out only once it recomputes.
    const where = `${PREFIX}/${commitment}`;
    let opening: Opening;
    try {
      opening = JSON.parse(fromUtf8(bytes)) as Opening;
      if (typeof opening !== 'object' || opening === null || opening.commitment !== commitment) throw new Error(`it does not name commitment ${commitment}`);
      await verifyOpening(opening, commitment);
    } catch (e) {
      throw new LedgerError(ErrorCode.VAULT_CORRUPT, `the prompt opening ${where} is damaged (${(e as Error).message}): it cannot be revealed`, { detail: { key: where } });
    }
    return opening;
  }
}
