/**
 * The journal's index from event id to commit id, in memory. It needs no file of its own: the journal is a
 * function of the document, so at attach every event's commit id comes from the ledger (Ledger.commitOf) and
 * the event counts as written when the object store holds that commit. (Journals written before kept a
 * `ledger-map/` directory; it is removed.)
 */
import type { Ledger } from '../../core/ledger.ts';
import type { GitFs } from './binding.ts';
import type { ObjectWriter } from './objects.ts';

export class EventMap {
  readonly byEvent = new Map<string, string>();
  readonly byCommit = new Map<string, string>();

  static async load(fs: GitFs, gitdir: string, ledger: Ledger, objects: ObjectWriter): Promise<EventMap> {
    const m = new EventMap();
    for (const ev of ledger.events()) {
      const oid = ledger.commitOf(ev.id);
      if (oid && (await objects.has(oid))) m.#set(ev.id, oid);
    }
    const old = `${gitdir}/ledger-map`;
    for (const f of await fs.promises.readdir(old).catch(() => [] as string[])) await fs.promises.unlink(`${old}/${f}`).catch(() => undefined);
    await fs.promises.rmdir(old).catch(() => undefined);
    return m;
  }

  #set(eventId: string, oid: string) {
    this.byEvent.set(eventId, oid);
    this.byCommit.set(oid, eventId);
  }

  /** Records entries whose objects were just written. */
  async add(entries: Array<[eventId: string, oid: string]>): Promise<void> {
    for (const [e, o] of entries) this.#set(e, o);
  }
}
