/**
 * The Git journal of one ledger: every accepted event is also a signed commit (src/lib/core/journal/commit.ts)
 * in a bare repository written with isomorphic-git's low-level object API.
 *
 * Refs. `refs/heads/main` only ever points at an event commit and only moves forward, so two devices push to
 * one remote without force. When the ledger has several heads (concurrent appends), main stays on the one that
 * descends from what the remote had (ties: latest time, then id) and every other head gets
 * `refs/heads/concurrent/<event id>`; the next append names all heads, so main reaches them again and those
 * refs are dropped. No merge commits are ever written: every commit in the journal is an event.
 *
 * Keeping in step: GitJournal.attach() observes the ledger (Ledger.observe). Events appended with this
 * device's key are signed and committed in the same step; events received through a pull arrive with their
 * commits. An event received any other way (a future Automerge sync) has no commit signature here until a pull
 * brings its commit: verify reports it as JOURNAL_MISSING.
 */
import * as git from 'isomorphic-git';
import type { Ledger } from '../../core/ledger.ts';
import type { EventId, LedgerEvent } from '../../core/event.ts';
import type { Signer } from '../../core/keys.ts';
import { topoOrder } from '../../core/roster.ts';
import { AuthorNames } from '../../core/journal/names.ts';
import { rebuildEventCommit, signEventCommit, type EventCommit } from '../../core/journal/commit.ts';
import type { GitBinding } from './binding.ts';
import { EventMap } from './event-map.ts';

export const MAIN = 'refs/heads/main';
export const CONCURRENT = 'refs/heads/concurrent/';

export class GitJournal {
  readonly binding: GitBinding;
  readonly ledger: Ledger;
  readonly cache: object = {};
  #signer?: Signer;
  #map!: EventMap;
  #names = new AuthorNames();
  /** Commits that arrived with a pull, waiting for the ledger to accept their events. */
  #arrived = new Map<string, { oid: string }>();
  /** Ledger events with no commit here (not ours to sign, and not pulled). */
  readonly missing = new Set<string>();
  #detach?: () => void;
  #lastError?: unknown;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(binding: GitBinding, ledger: Ledger, signer?: Signer) {
    this.binding = binding;
    this.ledger = ledger;
    this.#signer = signer;
  }

  get fs() {
    return this.binding.fs;
  }
  get gitdir() {
    return this.binding.gitdir;
  }

  /** Opens (creating if needed) the journal, writes what it lacks, and keeps it in step with the ledger. */
  static async attach(binding: GitBinding, ledger: Ledger, signer: Signer | undefined = ledger.signer): Promise<GitJournal> {
    const j = new GitJournal(binding, ledger, signer);
    await GitJournal.init(binding);
    j.#map = await EventMap.load(binding.fs, binding.gitdir);
    const all = new Map(ledger.events().map((e) => [e.id, e]));
    for (const id of topoOrder(all)) j.#names.add(all.get(id)!);
    await j.catchUp();
    j.#detach = ledger.observe((events) => j.#enqueue(() => j.#write(events)));
    return j;
  }

  /** Creates the bare repository (HEAD -> main) if there is none. */
  static async init(binding: GitBinding): Promise<void> {
    try {
      await binding.fs.promises.stat(`${binding.gitdir}/HEAD`);
    } catch {
      await git.init({ fs: binding.fs, gitdir: binding.gitdir, bare: true, defaultBranch: 'main' });
    }
  }

  detach(): void {
    this.#detach?.();
  }

  /** The last failure of an observed write (it is retried by catchUp). */
  get lastError(): unknown {
    return this.#lastError;
  }

  commitOf(eventId: string): string | undefined {
    return this.#map.byEvent.get(eventId);
  }
  eventOf(oid: string): string | undefined {
    return this.#map.byCommit.get(oid);
  }
  get size(): number {
    return this.#map.byEvent.size;
  }
  nameFor(ev: LedgerEvent): string {
    return this.#names.add(ev);
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch((e) => {
      this.#lastError = e;
    });
    return run;
  }

  /** Waits for pending observed writes. */
  async settled(): Promise<void> {
    await this.#chain;
  }

  /** Writes commits for every ledger event the journal lacks (that it can sign or that a pull brought). */
  async catchUp(): Promise<string[]> {
    return this.#enqueue(async () => {
      const all = new Map(this.ledger.events().map((e) => [e.id, e]));
      const lacking = topoOrder(all).filter((id) => !this.#map.byEvent.has(id));
      if (lacking.length) await this.#write(lacking.map((id) => all.get(id)!));
      else await this.updateRefs();
      this.#lastError = undefined;
      return [...this.missing];
    });
  }

  /** Registers commits verified by a pull, so that their events are recorded, not signed again. */
  expect(arrivals: Array<{ eventId: string; oid: string }>): void {
    for (const a of arrivals) this.#arrived.set(a.eventId, { oid: a.oid });
  }

  /** Builds the commit of one event from its signature (for checks); does not write it. */
  async rebuild(ev: LedgerEvent, signature: Uint8Array, parentOid: (id: string) => string | undefined) {
    const parentOids = ev.event.parents.map((p) => parentOid(p) ?? '');
    return rebuildEventCommit({ ev, parentOids, authorName: this.#names.add(ev) }, signature);
  }

  async #write(events: LedgerEvent[]): Promise<void> {
    const entries: Array<[string, string]> = [];
    for (const ev of events) {
      const name = this.#names.add(ev);
      if (this.#map.byEvent.has(ev.id)) continue;
      const arrived = this.#arrived.get(ev.id);
      if (arrived) {
        this.#arrived.delete(ev.id);
        this.#map.byEvent.set(ev.id, arrived.oid); // recorded for parents below; persisted with the batch
        entries.push([ev.id, arrived.oid]);
        this.missing.delete(ev.id);
        continue;
      }
      const parentOids: string[] = [];
      for (const p of ev.event.parents) {
        const oid = this.#map.byEvent.get(p);
        if (oid) parentOids.push(oid);
      }
      if (parentOids.length !== ev.event.parents.length || this.#signer?.publicKey !== ev.event.author) {
        this.missing.add(ev.id);
        continue;
      }
      const c = await signEventCommit({ ev, parentOids, authorName: name }, this.#signer);
      await this.#writeObjects(c);
      this.#map.byEvent.set(ev.id, c.commit.oid);
      entries.push([ev.id, c.commit.oid]);
      this.missing.delete(ev.id);
    }
    await this.#map.add(entries);
    await this.updateRefs();
  }

  async #writeObjects(c: EventCommit): Promise<void> {
    const { fs, gitdir } = this.binding;
    for (const o of [c.blob, c.tree, c.commit]) {
      const oid = await git.writeObject({ fs, gitdir, type: o.type, object: o.content, format: 'content' });
      if (oid !== o.oid) throw new Error(`isomorphic-git stored ${o.type} ${o.oid} as ${oid}`);
    }
  }

  /**
   * Points main and the concurrent refs at the ledger's heads (see the file comment). `base` is the commit
   * main must descend from (what the remote holds), default the current main.
   */
  async updateRefs(base?: string): Promise<{ main?: string; concurrent: string[] }> {
    const { fs, gitdir } = this.binding;
    const heads = this.ledger.heads().filter((h) => this.#map.byEvent.has(h));
    base ??= await this.resolve(MAIN);
    const baseEvent = base ? this.#map.byCommit.get(base) : undefined;
    let main: string | undefined;
    let side: string[] = [];
    if (heads.length === 1) {
      main = heads[0];
    } else if (heads.length > 1) {
      const candidates = baseEvent ? heads.filter((h) => this.isAncestor(baseEvent, h)) : heads;
      const pick = (candidates.length ? candidates : heads).map((id) => this.ledger.get(id)!);
      pick.sort((a, b) => (a.event.time < b.event.time ? 1 : a.event.time > b.event.time ? -1 : a.id < b.id ? 1 : -1));
      main = pick[0].id;
      side = heads.filter((h) => h !== main && !this.isAncestor(h, main!));
    }
    if (main) {
      const oid = this.#map.byEvent.get(main)!;
      if (oid !== (await this.resolve(MAIN))) await git.writeRef({ fs, gitdir, ref: MAIN, value: oid, force: true });
    }
    const existing = await git.listRefs({ fs, gitdir, filepath: 'refs/heads/concurrent' }).catch(() => [] as string[]);
    for (const name of existing) if (!side.includes(name)) await git.deleteRef({ fs, gitdir, ref: CONCURRENT + name });
    for (const id of side) {
      const oid = this.#map.byEvent.get(id)!;
      if ((await this.resolve(CONCURRENT + id)) !== oid) await git.writeRef({ fs, gitdir, ref: CONCURRENT + id, value: oid, force: true });
    }
    return { main: main && this.#map.byEvent.get(main), concurrent: side };
  }

  /** True when event `a` is `b` or one of its ancestors (in the ledger). */
  isAncestor(a: string, b: string): boolean {
    if (a === b) return true;
    const seen = new Set<string>();
    const stack = [b];
    while (stack.length) {
      const id = stack.pop()!;
      const ev = this.ledger.get(id);
      if (!ev) continue;
      for (const p of ev.event.parents) {
        if (p === a) return true;
        if (!seen.has(p)) (seen.add(p), stack.push(p));
      }
    }
    return false;
  }

  async resolve(ref: string): Promise<string | undefined> {
    try {
      return await git.resolveRef({ fs: this.binding.fs, gitdir: this.binding.gitdir, ref });
    } catch {
      return undefined;
    }
  }

  /** True when the object is stored loose (objects written by this journal are). */
  async hasLocalObject(oid: string, _packs?: Set<string>): Promise<boolean> {
    try {
      await this.binding.fs.promises.stat(`${this.binding.gitdir}/objects/${oid.slice(0, 2)}/${oid.slice(2)}`);
      return true;
    } catch {
      return false;
    }
  }

  /** Every event id the journal maps (for the cross-check). */
  mapped(): Map<string, string> {
    return this.#map.byEvent;
  }

  eventIds(): EventId[] {
    return [...this.#map.byEvent.keys()] as EventId[];
  }
}
