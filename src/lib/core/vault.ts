/**
 * The prompt vault: openings (prompt + salt) kept on this device only, under their commitment.
 * It shares the device's storage but lives under its own prefix, which is never synced or journaled.
 */
import type { StorageAdapter } from './storage.ts';
import type { Opening } from './commitment.ts';
import { fromUtf8, utf8 } from './bytes.ts';
import { verifyOpening } from './commitment.ts';

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
    const opening = JSON.parse(fromUtf8(bytes)) as Opening;
    await verifyOpening(opening, commitment);
    return opening;
  }
}
