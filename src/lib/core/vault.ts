/**
 * The prompt vault: openings (prompt + salt) kept on this device only, under their commitment.
 * It shares the device's storage but lives under its own prefix, which is never synced or journaled.
 */
import type { StorageAdapter } from './storage.ts';
import type { Opening } from './commitment.ts';
import { fromUtf8, utf8 } from './bytes.ts';
import { verifyOpening } from './commitment.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import { PROMPT_COMMITMENT_ALG } from './types.ts';

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

  /** Commitments of the openings the vault holds. */
  async commitments(): Promise<string[]> {
    return (await this.#storage.listKeys([PREFIX])).filter((k) => k.length === 2).map((k) => k[1]);
  }

  /**
   * Removes the openings no event of `events` commits to (orphans), for which `mayRemove` says yes; returns the
   * commitments removed. Why orphans exist: an opening is written before its event (an event whose prompt this
   * device cannot reveal is worse than an opening no event refers to), so an append cut short after the opening
   * leaves one behind. `mayRemove` must say no for an opening that may belong to an append still under way in
   * another process (the CLI: one written in the last ten minutes), and the caller sweeps only while the document
   * is whole (no event it lacks is held by the journal or the log), so that no opening of a recorded event goes.
   */
  async sweepOrphans(
    events: Iterable<{ event: { body: unknown } }>,
    mayRemove: (key: string[]) => Promise<boolean>
  ): Promise<string[]> {
    const held = new Set<string>();
    for (const e of events) collectCommitments(e.event.body, held);
    const removed: string[] = [];
    for (const c of await this.commitments()) {
      if (held.has(c) || !(await mayRemove([PREFIX, c]))) continue;
      await this.#storage.remove([PREFIX, c]);
      removed.push(c);
    }
    return removed;
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
      if (typeof opening !== 'object' || opening === null || opening.commitment !== commitment)
        throw new Error(`it does not name commitment ${commitment}`);
      await verifyOpening(opening, commitment);
    } catch (e) {
      throw new LedgerError(
        ErrorCode.VAULT_CORRUPT,
        `the prompt opening ${where} is damaged (${(e as Error).message}): it cannot be revealed`,
        { detail: { key: where } }
      );
    }
    return opening;
  }
}

/** Every prompt commitment in an event body ({alg, commitment} objects: a generation's prompt and negativePrompt). */
function collectCommitments(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) collectCommitments(x, out);
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o.alg === PROMPT_COMMITMENT_ALG && typeof o.commitment === 'string') out.add(o.commitment);
    for (const x of Object.values(o)) collectCommitments(x, out);
  }
}
