/**
 * The Git journal of one ledger: every accepted event is also a signed commit (core/journal/commit.ts) in a bare
 * repository, rebuilt from the event and its stored signature (`<id>.git`), so every device writes the same
 * commits. Objects are written loose (SHA-1 from the core) and packed every PACK_EVERY objects (pack.ts).
 *
 * Refs: `refs/heads/main` only points at an event commit and only moves forward (two devices push without force;
 * no merge commits). With concurrent heads, main stays on the one descending from what the remote had and the
 * others get `refs/heads/concurrent/<event id>` until the next append names them all.
 *
 * GitJournal.attach() observes the ledger and writes commits as events are stored, after catching up; unsigned
 * events are reported in `missing` (JOURNAL_SIGNATURE_MISSING). An append waits for its commit, except with
 * `background` (the worker), where `settled()` waits. Layout: refs.ts; objects: objects.ts / store-read.ts.
 */
import type { Ledger } from '../../core/ledger.ts';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import type { EventId, LedgerEvent } from '../../core/event.ts';
import type { Signer } from '../../core/keys.ts';
import { topoOrder } from '../../core/roster.ts';
import { rebuildEventCommit } from '../../core/journal/commit.ts';
import type { GitObject } from '../../core/journal/objects.ts';
import type { GitBinding } from './binding.ts';
import { EventMap, hintsDir } from './event-map.ts';
import { ObjectWriter } from './objects.ts';
import { commitHints, JournalCommits } from '../../core/journal/signatures.ts';
import { deleteRef, initRepo, listRefs, mkdirs, readRef, writeRef } from './refs.ts';

export interface AttachOptions {
  /** Appends do not wait for their commits; writes are batched (see the file comment). */
  background?: boolean;
  /** Create a missing journal in place rather than beside it and renamed into place (see #createAside). */
  inPlace?: boolean;
}

/** What the journal shows about itself (Settings in the web app, `journal status` in the CLI). */
export interface JournalStatus {
  /** Commits the journal holds (one per event). */
  commits: number;
  /** Events of the ledger. */
  events: number;
  /** Commit of refs/heads/main. */
  head?: string;
  /** Other heads (concurrent appends not yet joined). */
  concurrent: number;
  /** Events with no journal commit (no journal signature). */
  missing: number;
  /** Events still being written (background mode). */
  pending: number;
  lastPush?: RemoteRecord;
  lastPull?: RemoteRecord;
  /** Every remote pushed to or pulled from, and whether it holds the sealed journal or a readable one. */
  remotes?: Array<{ url: string; sealed: boolean; at: string }>;
  lastError?: string;
}

export interface RemoteRecord {
  /** The remote, with any credentials in it left out. */
  url: string;
  at: string;
  main?: string;
  /** Events received (pull) or commits the remote holds after a push. */
  count: number;
  /** The remote holds the sealed journal (adapters/git/sealed.ts), not a readable one. */
  sealed?: boolean;
}

const REMOTES_FILE = 'journal-remotes.json';
/** Events written per batch when catching up (one pack each). */
const CATCH_UP_BATCH = 2000;

export const MAIN = 'refs/heads/main';
export const CONCURRENT = 'refs/heads/concurrent/';

export class GitJournal {
  readonly binding: GitBinding;
  readonly ledger: Ledger;
  readonly cache: object = {};
  #map!: EventMap;
  #objects!: ObjectWriter;
  /** Commits that arrived with a pull (their objects are in the fetched pack), by event id. */
  #arrived = new Map<string, { oid: string }>();
  /** Ledger events with no commit (no journal signature in the document). */
  readonly missing = new Set<string>();
  #detach?: () => void;
  #lastError?: unknown;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(binding: GitBinding, ledger: Ledger) {
    this.binding = binding;
    this.ledger = ledger;
  }

  get fs() {
    return this.binding.fs;
  }
  get gitdir() {
    return this.binding.gitdir;
  }

  /**
   * Opens (creating if needed) the journal, writes what it lacks, and keeps it in step with the ledger. The
   * ledger is observed from the start, so nothing appended meanwhile is missed; with `background`, attach
   * returns at once and the catch-up runs behind (settled() waits for it).
   */
  static async attach(binding: GitBinding, ledger: Ledger, opts: AttachOptions | Signer = {}): Promise<GitJournal> {
    const options: AttachOptions = 'publicKey' in opts ? {} : opts;
    if (!options.background && !options.inPlace) await GitJournal.#createAside(binding, ledger);
    const j = new GitJournal(binding, ledger);
    j.#background = options.background === true;
    j.#detach = ledger.observe((events) => j.#observed(events));
    const opening = j.#enqueue(async () => {
      await GitJournal.init(binding);
      j.#objects = await ObjectWriter.open(binding);
      j.#map = await EventMap.load(binding, ledger, j.#objects);
    });
    // Enqueued at once, so that writes of events observed meanwhile come after the catch-up (a commit is
    // never written before its parents).
    const caughtUp = Promise.all([
      opening,
      j.catchUp(),
      j.#enqueue(async () => {
        if (j.#objects.wantsRepack) await j.#repack();
      })
    ]);
    if (j.#background) {
      caughtUp.catch(() => undefined); // kept in lastError; retried by the next catchUp
      return j;
    }
    try {
      await caughtUp;
    } catch (e) {
      j.detach();
      throw damagedJournal(e, binding.gitdir);
    }
    return j;
  }

  /**
   * Crash order of a journal's creation (the first write of a ledger's journal, or after journal.git was
   * removed): the repository is built whole (objects, refs, its commit-id cache) in a folder beside it,
   * `.journal.git.new-<random>/`, and renamed into place only then, its commit-id cache after it. A kill leaves
   * no journal (the next write starts again, removing what the cut-short one left) or a whole one, never a
   * repository without its main branch. Where directories cannot be renamed (IndexedDB), or with `background`,
   * the journal is created in place.
   */
  static async #createAside(binding: GitBinding, ledger: Ledger): Promise<void> {
    const { fs, gitdir } = binding;
    const rename = (fs.promises as { rename?: (a: string, b: string) => Promise<void> }).rename;
    const cut = gitdir.lastIndexOf('/');
    if (
      !rename ||
      cut <= 0 ||
      (await fs.promises.stat(`${gitdir}/HEAD`).then(
        () => true,
        () => false
      ))
    )
      return;
    // A journal.git folder without HEAD (an older writer's creation cut short) is completed in place.
    if (
      await fs.promises.stat(gitdir).then(
        () => true,
        () => false
      )
    )
      return;
    const parent = gitdir.slice(0, cut);
    const name = gitdir.slice(cut + 1);
    for (const f of await fs.promises.readdir(parent).catch(() => [] as string[])) {
      if (f.startsWith(`.${name}.new-`)) await removeTree(fs, `${parent}/${f}`);
    }
    const root = `${parent}/.${name}.new-${Math.random().toString(36).slice(2, 10)}`;
    await mkdirs(fs, root);
    const aside: GitBinding = { ...binding, gitdir: `${root}/${name}` };
    const built = await GitJournal.attach(aside, ledger, { inPlace: true });
    built.detach();
    await rename.call(fs.promises, aside.gitdir, gitdir);
    if (
      !(await fs.promises.stat(hintsDir(binding)).then(
        () => true,
        () => false
      ))
    ) {
      await rename.call(fs.promises, hintsDir(aside), hintsDir(binding)).catch(() => undefined);
    }
    await removeTree(fs, root);
  }

  /** Creates the bare repository (HEAD -> main) if there is none. */
  static async init(binding: GitBinding): Promise<void> {
    await initRepo(binding);
  }

  #background = false;
  /** Events observed and not yet handed to a write (background mode). */
  #pending: LedgerEvent[] = [];
  #draining = false;

  #observed(events: LedgerEvent[]): Promise<void> | void {
    if (!this.#background) return this.#enqueue(() => this.#write(events));
    for (const e of events) this.#pending.push(e);
    if (this.#draining) return;
    this.#draining = true;
    void this.#enqueue(async () => {
      this.#draining = false;
      const batch = this.#pending;
      this.#pending = [];
      await this.#write(batch);
    });
  }

  /** Counts for display (Settings, `journal status`). */
  async status(): Promise<JournalStatus> {
    const main = this.#map ? await this.resolve(MAIN) : undefined;
    const concurrent = this.#map ? (await listRefs(this.binding, 'refs/heads/concurrent')).size : 0;
    const remotes = await this.#remotes();
    const err = this.#lastError;
    return {
      commits: this.#map?.byEvent.size ?? 0,
      events: this.ledger.size,
      head: main,
      concurrent,
      missing: this.missing.size,
      pending: Math.max(0, this.ledger.size - (this.#map?.byEvent.size ?? 0) - this.missing.size),
      lastPush: remotes.push,
      lastPull: remotes.pull,
      remotes: Object.entries(remotes.kinds ?? {}).map(([url, k]) => ({
        url,
        sealed: k.sealed === true,
        at: String(k.at)
      })),
      ...(err ? { lastError: err instanceof Error ? err.message : String(err) } : {})
    };
  }

  async #remotes(): Promise<{
    push?: RemoteRecord;
    pull?: RemoteRecord;
    kinds?: Record<string, { sealed?: boolean; at?: string }>;
  }> {
    try {
      const b = await this.binding.fs.promises.readFile(`${this.binding.gitdir}/${REMOTES_FILE}`);
      const v = JSON.parse(typeof b === 'string' ? b : new TextDecoder().decode(b));
      return typeof v === 'object' && v ? v : {};
    } catch {
      return {};
    }
  }

  /** Remembers the last push or pull (shown by status()); the URL is kept without credentials. */
  async recordRemote(kind: 'push' | 'pull', r: Omit<RemoteRecord, 'at' | 'url'> & { url: string }): Promise<void> {
    const all = await this.#remotes();
    const url = r.url.replace(/\/\/[^@/]*@/, '//');
    const at = new Date().toISOString();
    all[kind] = { ...r, url, at };
    if (r.sealed !== undefined)
      all.kinds = { ...(typeof all.kinds === 'object' && all.kinds ? all.kinds : {}), [url]: { sealed: r.sealed, at } };
    await this.binding.fs.promises.writeFile(
      `${this.binding.gitdir}/${REMOTES_FILE}`,
      new TextEncoder().encode(JSON.stringify(all) + '\n')
    );
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
  /** How many commit ids came from the journal's commit-id file at attach, not computed (event-map.ts). */
  get hintedAtOpen(): number {
    return this.#map?.hinted ?? 0;
  }
  /** The author name of an event's commit: held by the ledger, or arriving with a pull (parents first). */
  nameFor(ev: LedgerEvent): string {
    if (this.ledger.get(ev.id)) return this.ledger.journalAuthorName(ev.id) ?? '';
    this.#incoming.set(ev.id, ev);
    this.#incomingNames ??= new JournalCommits({
      event: (id) => this.ledger.get(id) ?? this.#incoming.get(id),
      signature: () => undefined
    });
    return this.#incomingNames.nameFor(ev.id) ?? '';
  }
  #incoming = new Map<string, LedgerEvent>();
  #incomingNames?: JournalCommits;

  /** Drops the arriving events nameFor kept (a fetch's checks are done: they are stored or refused by then). */
  forgetIncoming(): void {
    this.#incoming.clear();
    this.#incomingNames = undefined;
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

  /** Writes commits for every ledger event the journal lacks (those with a journal signature). */
  async catchUp(): Promise<string[]> {
    return this.#enqueue(async () => {
      const all = new Map(this.ledger.events().map((e) => [e.id, e]));
      const lacking = topoOrder(all).filter((id) => !this.#map.byEvent.has(id));
      // In batches, parents first: each batch is stored (a pack, its commit ids, the refs) before the next, so
      // a catch-up cut short (a page reload, a killed process) keeps what it wrote.
      for (let i = 0; i < lacking.length; i += CATCH_UP_BATCH)
        await this.#write(lacking.slice(i, i + CATCH_UP_BATCH).map((id) => all.get(id)!));
      if (!lacking.length) await this.updateRefs();
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
    return rebuildEventCommit({ ev, parentOids, authorName: this.nameFor(ev) }, signature);
  }

  async #write(events: LedgerEvent[]): Promise<void> {
    const entries: Array<[string, string]> = [];
    const objects: GitObject[] = [];
    const seen = new Set<string>();
    for (const ev of events) {
      if (this.#map.byEvent.has(ev.id) || seen.has(ev.id)) continue;
      seen.add(ev.id);
      let oid = this.ledger.commitOf(ev.id);
      if (!oid) {
        this.missing.add(ev.id);
        continue;
      }
      const arrived = this.#arrived.get(ev.id);
      this.#arrived.delete(ev.id);
      if (arrived?.oid !== oid) {
        const c = await this.ledger.journalCommit(ev.id);
        if (!c) {
          this.missing.add(ev.id);
          continue;
        }
        if (c.commit.oid !== oid) {
          // The id came from a wrong hint (event-map.ts): the built commit is the truth; no hint is trusted now.
          commitHints.delete();
          oid = c.commit.oid;
        }
        // Blob, tree, then commit: an event counts as written once its commit is stored (event-map.ts), so a
        // write cut short (a closed tab, a killed process) must never leave a commit without its tree or blob.
        objects.push(c.blob, c.tree, c.commit);
      }
      entries.push([ev.id, oid]); // recorded in the map once the objects are written
      this.missing.delete(ev.id);
    }
    await this.#objects.writeBatch(objects);
    await this.#objects.flush();
    await this.#map.add(entries);
    await this.updateRefs();
  }

  /**
   * Rewrites the journal's objects as one pack with deltas, rebuilt from the document (every commit the map
   * holds, oldest first); loose objects and other packs go. Done on attach when PACK_EVERY loose objects or
   * PACKS_EVERY small packs have accumulated.
   */
  async pack(): Promise<void> {
    await this.#enqueue(() => this.#repack());
  }

  async #repack(): Promise<void> {
    const objects: GitObject[] = [];
    const all = new Map(this.ledger.events().map((e) => [e.id, e]));
    for (const id of topoOrder(all)) {
      if (!this.#map.byEvent.has(id)) continue;
      const c = await this.ledger.journalCommit(id);
      if (!c || c.commit.oid !== this.#map.byEvent.get(id))
        throw new LedgerError(
          ErrorCode.JOURNAL_MISMATCH,
          `the journal's commit of event ${id} cannot be rebuilt from the document: not repacking`,
          { eventId: id }
        );
      objects.push(c.blob, c.tree, c.commit);
    }
    if (objects.length) await this.#objects.repack(objects);
  }

  /**
   * Points main and the concurrent refs at the ledger's heads (see the file comment). `base` is the commit
   * main must descend from (what the remote holds), default the current main.
   */
  async updateRefs(base?: string): Promise<{ main?: string; concurrent: string[] }> {
    const current = await this.resolve(MAIN);
    const existing = await listRefs(this.binding, 'refs/heads/concurrent');
    if (!(await this.#mayMoveRefs([current, ...existing.values()])))
      return { main: current, concurrent: [...existing.keys()] };
    const heads = this.#heads();
    base ??= current;
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
      if (oid !== current) await writeRef(this.binding, MAIN, oid);
    }
    for (const name of existing.keys()) if (!side.includes(name)) await deleteRef(this.binding, CONCURRENT + name);
    for (const id of side) {
      const oid = this.#map.byEvent.get(id)!;
      if (existing.get(id) !== oid) await writeRef(this.binding, CONCURRENT + id, oid);
    }
    return { main: main && this.#map.byEvent.get(main), concurrent: side };
  }

  /**
   * Whether the refs may move off these commits. A ref on a commit the ledger does not determine is looked at:
   * when it holds a valid event of this ledger that the document lacks, moving the ref would drop that event's
   * commit from the journal's history, and the journal may be the last copy of it (the document lost a chunk):
   * refused with EVENT_NOT_IN_DOCUMENT, `provenance-ledger recover` restores it first. Unless the document in
   * storage holds it now: another process appended it since this ledger was opened; then the refs are left as
   * they are (this ledger's newer commits are pending until the next write, which sees both).
   */
  async #mayMoveRefs(oids: Array<string | undefined>): Promise<boolean> {
    const unknown = oids.filter((o): o is string => !!o && !this.#map.byCommit.has(o));
    if (!unknown.length) return true;
    const { ObjectReader } = await import('./store-read.ts');
    const { lostEvent } = await import('./salvage.ts');
    const store = await ObjectReader.open(this.binding);
    for (const oid of unknown) {
      const lost = await lostEvent(store, oid, this.ledger.id, (id) => !!this.ledger.get(id));
      if (!lost) continue; // not a valid event of this ledger: a damaged journal, written again from the document
      if (await this.ledger.storedNow(lost.eventId)) return false;
      throw new LedgerError(
        ErrorCode.EVENT_NOT_IN_DOCUMENT,
        `event ${lost.eventId} is in the journal (commit ${oid}) but not in the document: run \`provenance-ledger recover\` to restore it; nothing was written`,
        { eventId: lost.eventId }
      );
    }
    return true;
  }

  /**
   * The heads of the journal's history: the ledger's heads when each has its commit; otherwise (events
   * without a journal signature have no commit, nor do their descendants) the commits none of whose children
   * has one.
   */
  #heads(): string[] {
    const heads = this.ledger.heads();
    if (heads.every((h) => this.#map.byEvent.has(h))) return heads;
    const covered = new Set<string>();
    for (const ev of this.ledger.events()) {
      if (!this.#map.byEvent.has(ev.id)) continue;
      for (const p of ev.event.parents) covered.add(p);
    }
    return this.ledger
      .events()
      .filter((e) => this.#map.byEvent.has(e.id) && !covered.has(e.id))
      .map((e) => e.id)
      .sort();
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
        if (!seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return false;
  }

  async resolve(ref: string): Promise<string | undefined> {
    return readRef(this.binding, ref);
  }

  /** True when the object is stored loose or in one of the packs `packs` (file names in objects/pack). */
  async hasLocalObject(oid: string, packs?: Set<string>): Promise<boolean> {
    return this.#objects.has(oid, packs);
  }

  /** Every event id the journal maps (for the cross-check). */
  mapped(): Map<string, string> {
    return this.#map.byEvent;
  }

  eventIds(): EventId[] {
    return [...this.#map.byEvent.keys()] as EventId[];
  }
}

/**
 * A catch-up that failed on the journal's own files (a folder or file of journal.git gone or unreadable) is a
 * damaged journal: said so with JOURNAL_CORRUPT and how to repair it, never as a crash. Other failures (a full
 * disk, no permission) are passed on as they are.
 */
function damagedJournal(e: unknown, gitdir: string): unknown {
  if (e instanceof LedgerError) return e;
  const errno = (e as { code?: unknown })?.code;
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno) && !['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno))
    return e;
  return new LedgerError(
    ErrorCode.JOURNAL_CORRUPT,
    `the Git journal (${gitdir}) is damaged and cannot be written (${(e as Error)?.message ?? String(e)}): nothing was recorded or sent; \`provenance-ledger journal repair\` writes it again from the ledger (keeping the damaged one aside), \`provenance-ledger verify\` lists what is wrong`,
    { cause: e }
  );
}

/** Removes a folder and everything in it (a cut-short creation's leftovers), on the binding's file system. */
async function removeTree(fs: GitBinding['fs'], dir: string): Promise<void> {
  for (const f of await fs.promises.readdir(dir).catch(() => [] as string[])) {
    const p = `${dir}/${f}`;
    const st = await fs.promises.lstat(p).catch(() => undefined);
    if (st?.isDirectory()) await removeTree(fs, p);
    else await fs.promises.unlink(p).catch(() => undefined);
  }
  await fs.promises.rmdir(dir).catch(() => undefined);
}
