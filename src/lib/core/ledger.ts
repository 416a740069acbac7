/**
 * The ledger: open or create it over a StorageAdapter, append signed events, query them, verify everything.
 * Platform-free: the browser, the worker, the CLI and the tests all use this class.
 */
import * as A from '@automerge/automerge/slim';
import type { StorageAdapter } from './storage.ts';
import { DocStore, type LedgerDoc, type StorageProblem } from './docstore.ts';
import { EVENT_SPEC, formatTime, isEventId, signEvent, type EventId, type LedgerEvent } from './event.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import type { Signer } from './keys.ts';
import { validateEvent } from './validate.ts';
import { bidiProblems } from './bidi.ts';
import { applyToRoster, decideAcceptance, extendAcceptance, extendIndex, isGenesis, rosterOf, topoOrder, type PastIndex, type Rejection, type Roster, type RosterEntry } from './roster.ts';
import { checkEntries, verifyEntries, type Problem, type VerifyReport } from './verify.ts';
import { hashesIn, matches, traceFile, type EventFilter } from './query.ts';
import { initHash } from './hash.ts';
import { fromBase64url, toHex } from './bytes.ts';
import type { EventType, UnsignedEvent } from './types.ts';
import { decodeChanges } from './sync/changes.ts';
import { SyncCode } from './sync/codes.ts';
import type { EventCommit } from './journal/commit.ts';
import { checkJournalSignatures, eventOfSigKey, isSigKey, JournalCommits, sigKey, verifyJournalSignatures } from './journal/signatures.ts';
import { loadRemovalNotice, stillRemoved, type Removal } from './team/removal.ts';
import { storedSignedHead, type Covered, type SignedHead } from './proofs/signed-head.ts';

export const MAX_PARENTS = 64;
/** The most appends written as one group (one Automerge change, one stored chunk). */
export const MAX_GROUP = 1024;

/** A member id derived from a device key: its first 8 bytes in hex. */
export const defaultMemberId = (key: string): string => toHex(fromBase64url(key)).slice(0, 16);

export interface LedgerOptions {
  storage: StorageAdapter;
  /** The device key that signs appends; a ledger opened without one is read-only. */
  signer?: Signer;
  now?: () => Date;
  /** Open even when stored chunks are corrupt (for verify and recovery); appends are then refused. */
  allowProblems?: boolean;
  compactAfter?: number;
  /** Fold many incremental chunks into one snapshot while opening (default true; false for verify: a check never writes). */
  compactOnLoad?: boolean;
  /** Called after each stored batch of accepted events (see Ledger.observe). */
  onAccepted?: AcceptedObserver;
}

/**
 * Told about every event the ledger accepts, once it is stored: appended here (one call per group commit) or
 * received. The Git journal keeps in step through this. An observer's failure never undoes a stored event:
 * it is the observer's to record and repair (the journal catches up on its next write).
 */
export type AcceptedObserver = (events: LedgerEvent[], origin: 'append' | 'receive') => Promise<void> | void;

export interface CreateOptions extends LedgerOptions {
  signer: Signer;
  memberName: string;
  ledgerName: string;
  memberId?: string;
}

export interface VerifyOptions {
  /** Leave the journal signatures out (the benchmark's split of where the time goes). */
  journal?: boolean;
  /** Check every event and journal signature one by one, signed tree heads or not (`verify --full`). */
  full?: boolean;
}

/** Options of Ledger.applyVerifiedChanges. */
export interface ApplyOptions {
  /**
   * The sending peer's signed tree heads (proofs/signed-head.ts PeerHeads): the events its pending head covers,
   * recomputed from the envelopes held or arriving, skip their own signature check; every other check runs.
   */
  heads?: { cover(envelope: (id: string) => string | undefined): Promise<Covered> };
}

export interface ReceiveResult {
  accepted: EventId[];
  problems: Problem[];
}

/** Which fresh events count (Ledger.#decide). */
interface Decision {
  accepted: Set<EventId>;
  rejected: Rejection[];
  order: EventId[];
  roster: Roster;
  commit: () => void;
}

/** What became of a peer's Automerge changes (Ledger.applyVerifiedChanges). */
export interface ChangesResult extends ReceiveResult {
  /** Hashes of the changes applied to the document. */
  applied: string[];
  /** Changes refused whole, with why (problems holds the per-event reasons). */
  rejected: Array<{ hash: string; code: string; message: string }>;
  /** Events whose signature the sender's checked signed tree head covered (ApplyOptions.heads). */
  covered?: number;
}

/** Entries parsed as events, unchecked (for building their journal commits while they are checked). */
function parseLoose(entries: Iterable<[string, string]>): Map<EventId, LedgerEvent> {
  const out = new Map<EventId, LedgerEvent>();
  for (const [id, json] of entries) {
    if (!isEventId(id)) continue;
    try {
      const env = JSON.parse(json);
      if (env && typeof env === 'object' && env.event && typeof env.event === 'object' && Array.isArray(env.event.parents)) {
        out.set(id as EventId, { id: id as EventId, event: env.event, sig: env.sig });
      }
    } catch {
      /* refused by checkEntries */
    }
  }
  return out;
}

export class Ledger {
  #store: DocStore;
  #signer?: Signer;
  #now: () => Date;
  #events = new Map<EventId, LedgerEvent>();
  #sorted: LedgerEvent[] | null = null;
  #referenced = new Set<string>();
  #heads = new Set<EventId>();
  /** File hashes and event ids named in bodies → events naming them; built on first use, then kept up to date. */
  #byHash: Map<string, Set<EventId>> | null = null;
  #roster: Roster = new Map();
  /** The pasts behind the acceptance decisions of the held events (built on first receive), so a receive decides only new events. */
  #pasts: PastIndex | null = null;
  #genesis!: LedgerEvent;
  #storageProblems: StorageProblem[];
  #tail: Promise<unknown> = Promise.resolve();
  #observers = new Set<AcceptedObserver>();
  /** Journal commit signatures (`<id>.git` entries, ledger-schema/README.md "Journal commits") by event id. */
  #sigs = new Map<string, string>();
  /** Events and signatures being received (checked before they are stored). */
  #pendingEvents?: Map<EventId, LedgerEvent>;
  #pendingSigs?: Map<string, string>;
  /** Envelope JSON of the events being received (only those in #pendingEvents, which passed the canonical check). */
  #pendingJson?: Map<string, string>;
  #journal = this.#newJournal();
  /** The removal of this device that a peer showed it (team/removal.ts): appends are refused while it holds. */
  #removal?: Removal;

  #newJournal(): JournalCommits {
    return new JournalCommits({
      event: (id) => this.#events.get(id as EventId) ?? this.#pendingEvents?.get(id as EventId),
      signature: (id) => this.#sigs.get(id) ?? this.#pendingSigs?.get(id),
      // Held envelopes were checked canonical when appended or received; arriving ones by checkEntries.
      envelope: (id) => {
        if (this.#events.has(id as EventId)) return this.#store.get(id);
        return this.#pendingEvents?.has(id as EventId) ? this.#pendingJson?.get(id) : undefined;
      }
    });
  }

  private constructor(store: DocStore, opts: LedgerOptions, storageProblems: StorageProblem[]) {
    this.#store = store;
    if (opts.onAccepted) this.#observers.add(opts.onAccepted);
    this.#signer = opts.signer;
    this.#now = opts.now ?? (() => new Date());
    this.#storageProblems = storageProblems;
  }

  static async exists(storage: StorageAdapter): Promise<boolean> {
    return !(await DocStore.isEmpty(storage));
  }

  /** Creates a new ledger whose genesis event makes the signer its owner. */
  static async create(opts: CreateOptions): Promise<Ledger> {
    await initHash();
    await JournalCommits.ready();
    if (await Ledger.exists(opts.storage)) {
      throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'a ledger already exists in this storage');
    }
    const { store } = await DocStore.load(opts.storage, opts);
    const ledger = new Ledger(store, opts, []);
    const now = ledger.#now();
    const genesis: UnsignedEvent = {
      spec: EVENT_SPEC,
      type: 'member',
      author: opts.signer.publicKey,
      time: formatTime(now),
      parents: [],
      body: {
        action: 'create',
        ledgerName: opts.ledgerName,
        member: { id: opts.memberId ?? defaultMemberId(opts.signer.publicKey), name: opts.memberName, key: opts.signer.publicKey, role: 'owner' }
      }
    } as UnsignedEvent;
    ledger.#assertSchema(genesis);
    const { id, bytes, envelope } = await signEvent(genesis, opts.signer);
    const gitSig = (await ledger.#journal.sign({ id, event: genesis, sig: envelope.sig }, opts.signer))!;
    await store.commit([[id, new TextDecoder().decode(bytes)], [sigKey(id), gitSig]], id);
    ledger.#sigs.set(id, gitSig);
    ledger.#index({ id, event: genesis, sig: envelope.sig });
    ledger.#genesis = ledger.#events.get(id)!;
    ledger.#roster = decideAcceptance(ledger.#events, id).roster;
    return ledger;
  }

  /** Opens the ledger in storage. Throws NOT_INITIALIZED when there is none, STORAGE_CORRUPT on bad chunks. */
  static async open(opts: LedgerOptions): Promise<Ledger> {
    await initHash();
    await JournalCommits.ready();
    if (!(await Ledger.exists(opts.storage))) {
      throw new LedgerError(ErrorCode.NOT_INITIALIZED, 'no ledger here: create one first (provenance-ledger init)');
    }
    const { store, problems } = await DocStore.load(opts.storage, opts);
    if (problems.length > 0 && !opts.allowProblems) {
      throw new LedgerError(
        ErrorCode.STORAGE_CORRUPT,
        `the stored ledger is damaged: ${problems.map((p) => `${p.location}: ${p.message}`).join('; ')}`,
        { detail: problems }
      );
    }
    const ledger = new Ledger(store, opts, problems);
    // Local chunks passed their hash check; events were verified when appended or received.
    // The full cryptographic check is verify().
    const all = Ledger.#readEntries(store);
    const genesis = [...all.values()].find((e) => e.event && isGenesis(e));
    if (!genesis) {
      const where = problems.length ? `: ${problems.map((p) => `${p.location}: ${p.message}`).join('; ')}` : '';
      throw new LedgerError(problems.length ? ErrorCode.STORAGE_CORRUPT : ErrorCode.GENESIS, `the ledger has no genesis event${where}`, {
        detail: problems
      });
    }
    // Every stored event was accepted when it was appended or received (receive stores only what counts), so
    // opening trusts them; verify() re-checks everything. events() is a topological order.
    ledger.#genesis = genesis;
    store.bindLedger(genesis.id);
    for (const ev of all.values()) ledger.#index(ev);
    ledger.#sigs = Ledger.#readSigs(store);
    ledger.#roster = rosterOf(ledger.events().filter((e) => e.event.type === 'member'));
    // A removal notice this device was shown and kept: it records nothing more (ledger-schema/README.md section 19).
    if (opts.signer) ledger.#removal = await loadRemovalNotice(opts.storage, ledger, opts.signer.publicKey);
    return ledger;
  }

  /**
   * From now on appends are refused (AUTHOR_REMOVED): a peer showed this device the signed removal of its key
   * (checked by team/removal.ts checkRemovalNotice, and kept there). Lifted only when the ledger shows the key
   * added again after the removal.
   */
  refuseAppends(removal: Removal): void {
    this.#removal = removal;
  }

  /** The kept removal of this device that still holds, if any. */
  get removedBy(): Removal | undefined {
    const r = this.#removal;
    return r && this.#signer && stillRemoved(this, this.#signer.publicKey, r) ? r : undefined;
  }

  get id(): EventId {
    return this.#genesis.id;
  }

  get name(): string {
    return (this.#genesis.event.body as { ledgerName: string }).ledgerName;
  }

  get signer(): Signer | undefined {
    return this.#signer;
  }

  get size(): number {
    return this.#events.size;
  }

  /** Storage problems found at open (only with allowProblems). */
  get storageProblems(): StorageProblem[] {
    return this.#storageProblems;
  }

  /** The Automerge document (for sync). Its layout is DocStore's: read entries with envelopeJson(). */
  get doc(): A.Doc<LedgerDoc> {
    return this.#store.doc;
  }

  /** An event's signed envelope exactly as stored (its canonical JSON). */
  envelopeJson(id: string): string | undefined {
    return this.#events.has(id as EventId) ? this.#store.get(id) : undefined;
  }

  /**
   * Every event that counts, oldest first: parents first, then (time, id). Sorting by (time, id) alone is that
   * order unless two events share a time (a child recorded with its parent's time by an older writer whose clock
   * was behind): only then is the topological order computed.
   */
  events(): LedgerEvent[] {
    if (!this.#sorted) {
      const sorted = [...this.#events.values()].sort((a, b) =>
        a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
      );
      const tie = sorted.some((e, i) => i > 0 && e.event.time === sorted[i - 1].event.time);
      this.#sorted = tie ? topoOrder(this.#events).map((id) => this.#events.get(id)!) : sorted;
    }
    return this.#sorted;
  }

  /** Adds an observer of accepted events; returns the function that removes it. */
  observe(fn: AcceptedObserver): () => void {
    this.#observers.add(fn);
    return () => this.#observers.delete(fn);
  }

  async #notify(events: LedgerEvent[], origin: 'append' | 'receive'): Promise<void> {
    if (events.length === 0) return;
    for (const fn of [...this.#observers]) {
      try {
        await fn(events, origin);
      } catch {
        /* the event is stored; the observer records and repairs its own failure */
      }
    }
  }

  get(id: string): LedgerEvent | undefined {
    return this.#events.get(id as EventId);
  }

  /** Ids of events no other event names as a parent, sorted. */
  heads(): EventId[] {
    return [...this.#heads].sort();
  }

  roster(): RosterEntry[] {
    return [...this.#roster.values()];
  }

  member(key: string): RosterEntry | undefined {
    return this.#roster.get(key);
  }

  query(filter: EventFilter = {}): LedgerEvent[] {
    return this.events().filter((e) => matches(e, filter));
  }

  /** The chain of custody of a file, by its SHA-256. */
  trace(sha256: string): LedgerEvent[] {
    return traceFile(sha256.toLowerCase(), this.#hashIndex(), (id) => this.#events.get(id));
  }

  /**
   * Validates, signs and persists one event. The ledger is unchanged when anything fails (invalid body, no
   * permission, storage error).
   *
   * Appends are prepared one at a time (each names the heads left by the one before, including appends still
   * being written) and written in groups: appends issued while a write is in flight are committed together as
   * one Automerge change and one storage chunk (group commit). Each promise resolves once its event is stored.
   * If a write fails, every append in it and after it is rejected and memory is rebuilt from storage.
   */
  append(type: EventType, body: unknown): Promise<LedgerEvent> {
    this.#inFlight++;
    const prepared = this.#tail.then(() => this.#prepare(type, body));
    this.#tail = prepared.catch(() => undefined);
    return prepared.then(
      ({ ev, json, gitSig }) => {
        this.#inFlight--;
        const stored = this.#enqueue(ev, json, gitSig);
        this.#wake();
        return stored;
      },
      (e) => {
        this.#inFlight--;
        this.#wake();
        throw e;
      }
    );
  }

  /** Appends issued but not yet prepared: the group being written waits for them (up to MAX_GROUP). */
  #inFlight = 0;
  #waiters: Array<() => void> = [];
  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  /** Set when a group failed to be written, until memory is rebuilt from storage; appends meanwhile fail. */
  #failure: unknown = undefined;

  async #prepare(type: EventType, body: unknown): Promise<{ ev: LedgerEvent; json: string; gitSig?: string }> {
    const signer = this.#signer;
    if (!signer) throw new LedgerError(ErrorCode.KEY_MISMATCH, 'this ledger was opened without a device key: it is read-only');
    if (this.#storageProblems.length) throw new LedgerError(ErrorCode.STORAGE_CORRUPT, 'the stored ledger is damaged: appends are refused');
    if (this.#failure !== undefined) throw this.#failure;
    const removed = this.removedBy;
    if (removed) {
      throw new LedgerError(
        ErrorCode.REMOVED_AUTHOR,
        `this device was removed from the team by ${removed.byName || removed.by.slice(0, 12)} (member event ${removed.eventId}, ${removed.at}): it records nothing more in this ledger`,
        { eventId: removed.eventId, detail: { by: removed.by, at: removed.at } }
      );
    }
    const heads = this.heads();
    // An event's time is after its parents' (ledger-schema/README.md section 10), even with a clock behind: then
    // it is the newest parent's time plus one millisecond, so (time, id) order stays topological.
    let time = formatTime(this.#now());
    let newest = '';
    for (const h of heads) {
      const t = this.#events.get(h)!.event.time;
      if (t > newest) newest = t;
    }
    if (newest && time <= newest) time = formatTime(new Date(Date.parse(newest) + 1));
    const event = {
      spec: EVENT_SPEC,
      type,
      ledger: this.id,
      author: signer.publicKey,
      time,
      parents: heads.length > MAX_PARENTS ? heads.slice(heads.length - MAX_PARENTS) : heads,
      body
    } as UnsignedEvent;
    this.#assertSchema(event);
    const { id, envelope, bytes } = await signEvent(event, signer);
    const ev: LedgerEvent = { id, event, sig: envelope.sig };
    const roster = type === 'member' ? new Map(this.#roster) : this.#roster;
    const why = applyToRoster(roster, ev);
    if (why) throw new LedgerError(why.code, why.message);
    // The event's journal commit, signed now: only the author can (stored beside the event, same change).
    const gitSig = await this.#journal.sign(ev, signer, bytes);
    this.#roster = roster;
    this.#index(ev);
    if (this.#pasts) {
      if (type === 'member') this.#pasts = null;
      else extendIndex(this.#pasts, (p) => this.#events.get(p), ev);
    }
    if (gitSig) this.#sigs.set(id, gitSig);
    return { ev, json: new TextDecoder().decode(bytes), gitSig };
  }

  #queue: Array<{ ev: LedgerEvent; json: string; gitSig?: string; resolve: (e: LedgerEvent) => void; reject: (e: unknown) => void }> = [];
  #flushing: Promise<void> | null = null;

  #enqueue(ev: LedgerEvent, json: string, gitSig?: string): Promise<LedgerEvent> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ev, json, gitSig, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    // Group commit: appends already issued join this group (a lone append is written at once).
    await Promise.resolve();
    while (this.#inFlight > 0 && this.#queue.length < MAX_GROUP) await new Promise<void>((r) => this.#waiters.push(r));
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#store.commit(batch.flatMap((b): Array<[string, string]> => (b.gitSig ? [[b.ev.id, b.json], [sigKey(b.ev.id), b.gitSig]] : [[b.ev.id, b.json]])));
      } catch (e) {
        const later = this.#queue;
        this.#queue = [];
        // Nothing of this group or after it is stored: rebuild memory from storage, then report.
        this.#failure = e;
        const rebuilt = this.#tail.then(() => this.#rebuild());
        this.#tail = rebuilt.catch(() => undefined);
        await rebuilt.catch(() => undefined);
        for (const b of [...batch, ...later]) b.reject(e);
        continue;
      }
      await this.#notify(batch.map((b) => b.ev), 'append');
      for (const b of batch) b.resolve(b.ev);
    }
    this.#flushing = null;
  }

  /** Re-reads the index from the document store (after a failed write). */
  #rebuild(): void {
    this.#failure = undefined;
    this.#events.clear();
    this.#referenced.clear();
    this.#heads.clear();
    this.#byHash = null;
    this.#sorted = null;
    const all = Ledger.#readEntries(this.#store);
    this.#sigs = Ledger.#readSigs(this.#store);
    this.#journal = this.#newJournal();
    const acc = decideAcceptance(all, this.#genesis.id);
    for (const id of acc.order) this.#index(all.get(id)!);
    this.#roster = acc.roster;
    this.#pasts = null;
  }

  /**
   * Decides which of `fresh` (events not held, each passed its own checks) count, as decideAcceptance over the
   * held and fresh events together would. Held events keep their decisions, so once the pasts of the held events
   * are known only the fresh ones are decided (a fresh member event takes the whole pass again).
   * `commit` records the pasts of the accepted events: call it once they are stored and indexed.
   */
  #decide(fresh: Map<EventId, LedgerEvent>): Decision {
    const held = (id: EventId) => this.#events.get(id);
    const index = this.#pasts;
    const inc = index && extendAcceptance(index, held, fresh);
    if (index && inc) {
      return { ...inc, roster: this.#roster, commit: () => { if (this.#pasts === index) for (const [id, p] of inc.past) index.past.set(id, p); } };
    }
    const all = new Map(this.#events);
    for (const [id, ev] of fresh) all.set(id, ev);
    const acc = decideAcceptance(all, this.id);
    const rejected = acc.rejected.filter((r) => !this.#events.has(r.id));
    const order = acc.order.filter((id) => !this.#events.has(id));
    return { accepted: acc.accepted, rejected, order, roster: acc.roster, commit: () => void (this.#pasts = acc.index) };
  }

  static #readEntries(store: DocStore): Map<EventId, LedgerEvent> {
    const all = new Map<EventId, LedgerEvent>();
    for (const [id, json] of store.entries()) {
      if (!isEventId(id)) continue; // `<id>.git` entries are journal signatures (#readSigs)
      try {
        const env = JSON.parse(json);
        all.set(id as EventId, { id: id as EventId, event: env.event, sig: env.sig });
      } catch {
        /* reported by verify() */
      }
    }
    return all;
  }

  static #readSigs(store: DocStore): Map<string, string> {
    const sigs = new Map<string, string>();
    for (const [key, v] of store.entries()) if (isSigKey(key)) sigs.set(eventOfSigKey(key), v);
    return sigs;
  }

  /** The Git commit id of an event's journal commit; undefined when it (or its past) has no signature. */
  commitOf(id: string): string | undefined {
    return this.#events.has(id as EventId) ? this.#journal.oid(id) : undefined;
  }

  /** The journal commit of an event (blob, tree and signed commit objects), rebuilt from the document. */
  async journalCommit(id: string): Promise<EventCommit | undefined> {
    await JournalCommits.ready();
    return this.#events.has(id as EventId) ? this.#journal.commit(id) : undefined;
  }

  /** The stored journal signature value (base64url of 64 bytes) of an event. */
  journalSignature(id: string): string | undefined {
    return this.#sigs.get(id);
  }

  /** The author name the journal commit of an event carries. */
  journalAuthorName(id: string): string | undefined {
    return this.#journal.nameFor(id);
  }

  /**
   * Checks journal signatures of events arriving with a receive: each verifies over its event's commit, or
   * the event is refused. Returns the signatures to store (also of held events that lacked one).
   * `events` may be parsed but not yet checked (the callers check them at the same time, so that building
   * commits overlaps the event signatures' verification): a signature found good over an event that fails
   * its own checks is never stored, as that event is refused.
   */
  async #checkArrivingSigs(events: Map<EventId, LedgerEvent>, sigIn: Map<string, string>, json: Map<string, string>): Promise<{ good: Map<string, string>; bad: Map<string, Problem> }> {
    const good = new Map<string, string>();
    const bad = new Map<string, Problem>();
    const todo = [...sigIn.keys()].filter((id) => !this.#sigs.has(id));
    if (todo.length === 0) return { good, bad };
    this.#pendingEvents = events;
    this.#pendingSigs = sigIn;
    this.#pendingJson = json;
    try {
      const results = await checkJournalSignatures(this.#journal, todo);
      for (const [id, r] of results) {
        if (r === 'ok') good.set(id, sigIn.get(id)!);
        else if (r !== 'unbuildable') bad.set(id, r);
      }
    } finally {
      this.#pendingEvents = undefined;
      this.#pendingSigs = undefined;
      this.#pendingJson = undefined;
    }
    if (bad.size) this.#journal = this.#newJournal(); // commit ids cached from a bad signature go
    return { good, bad };
  }

  /** Waits until every append issued so far is stored (or has failed). */
  async flushed(): Promise<void> {
    await this.#tail;
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Accepts events from elsewhere (a peer, an import): each is verified (bytes, schema, id, signature, ledger,
   * parents present, author in the roster of its past) before any is stored. Invalid ones are reported and
   * left out; the valid ones are persisted together. With `allOrNothing` (a pull, an import: they promise
   * "nothing was accepted" when anything is refused), one problem means nothing is stored.
   */
  async receive(entries: Array<[string, string]>, opts: { allOrNothing?: boolean } = {}): Promise<ReceiveResult> {
    const run = this.#tail.then(() => this.#receive(entries, opts.allOrNothing === true));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #receive(input: Array<[string, string]>, allOrNothing: boolean): Promise<ReceiveResult> {
    // No need to wait for appends being written: the document store runs one mutation at a time.
    const sigIn = new Map<string, string>();
    const entries = input.filter(([k, v]) => !(isSigKey(k) && sigIn.set(eventOfSigKey(k), v)));
    const fresh = entries.filter(([id]) => !this.#events.has(id as EventId));
    // Journal signatures (<id>.git) must verify over their event's commit; an event with a bad one is refused.
    // Both checks run at once (see #checkArrivingSigs); what either refuses is refused.
    const [{ events, problems }, sigs] = await Promise.all([checkEntries(fresh, this.id), this.#checkArrivingSigs(parseLoose(fresh), sigIn, new Map(fresh))]);
    for (const [id, p] of sigs.bad) {
      if (!events.has(id as EventId)) continue; // refused already, with its own reason
      problems.push(p);
      events.delete(id as EventId);
    }
    const all = new Map(events);
    for (const [id, ev] of events) {
      for (const p of ev.event.parents) {
        if (!all.has(p as EventId) && !this.#events.has(p as EventId)) {
          problems.push({ code: ErrorCode.MISSING_PARENT, message: `names parent ${p}, which this ledger does not hold`, eventId: id });
          all.delete(id);
        }
      }
    }
    const acc = this.#decide(all);
    for (const r of acc.rejected) if (events.has(r.id)) problems.push({ code: r.code, message: r.message, eventId: r.id });
    if (allOrNothing && problems.length) return { accepted: [], problems };
    const accepted = acc.order.filter((id) => events.has(id) && !this.#events.has(id));
    const jsonOf = new Map(fresh);
    const acceptedSet = new Set<string>(accepted);
    const sigEntries = [...sigs.good].filter(([id]) => this.#events.has(id as EventId) || acceptedSet.has(id)).map(([id, v]): [string, string] => [sigKey(id), v]);
    await this.#store.commit([...accepted.map((id): [string, string] => [id, jsonOf.get(id)!]), ...sigEntries]);
    for (const [k, v] of sigEntries) this.#sigs.set(eventOfSigKey(k), v);
    for (const id of accepted) this.#index(all.get(id)!);
    this.#roster = acc.roster;
    acc.commit();
    await this.#notify(accepted.map((id) => all.get(id)!), 'receive');
    return { accepted, problems };
  }

  /**
   * Applies a peer's Automerge changes only when everything in them counts. Each change must put events and
   * nothing else (sync/changes.ts); every event is checked as receive() checks it; a change holding anything
   * invalid is refused whole, with every change that builds on it. The accepted changes are applied as they
   * are, so both devices end with the same Automerge history.
   */
  async applyVerifiedChanges(changes: Uint8Array[], opts: ApplyOptions = {}): Promise<ChangesResult> {
    const run = this.#tail.then(() => this.#applyVerifiedChanges(changes, opts));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #applyVerifiedChanges(changes: Uint8Array[], opts: ApplyOptions): Promise<ChangesResult> {
    // No need to wait for appends being written: the document store runs one mutation at a time.
    const doc = this.#store.doc;
    const store = this.#store;
    const rejected: ChangesResult['rejected'] = [];
    const problems: Problem[] = [];
    let candidates = decodeChanges(changes, this.id).filter((c) => {
      if (c.problem) rejected.push({ hash: c.hash, ...c.problem });
      // (A change already held is harmless: Automerge applies a change once; its events are skipped below.)
      return !c.problem;
    });
    // An id already held must come with the very same bytes (ids are content hashes; anything else is forged).
    const fresh = new Map<string, string>();
    for (const c of candidates) {
      for (const [id, json] of c.entries) {
        if (!store.has(id) && !isSigKey(id)) fresh.set(id, json);
      }
    }
    // Journal signatures (<id>.git): each must verify over the commit built from its event. Checked at the
    // same time as the events (see #checkArrivingSigs).
    const sigIn = new Map<string, string>();
    for (const c of candidates) for (const [k, v] of c.entries) if (isSigKey(k) && !store.has(k)) sigIn.set(eventOfSigKey(k), v);
    // The sender's events its own checked signed tree head covers need no signature check of their own.
    const covered = opts.heads ? await opts.heads.cover((id) => store.get(id) ?? fresh.get(id)) : undefined;
    const [checked, sigCheck] = await Promise.all([checkEntries(fresh, this.id, { covered }), this.#checkArrivingSigs(parseLoose(fresh), sigIn, fresh)]);
    const bad = new Map<string, Problem[]>();
    for (const p of checked.problems) if (p.eventId) bad.set(p.eventId, [...(bad.get(p.eventId) ?? []), p]);
    for (const c of candidates) {
      for (const [id, json] of c.entries) {
        const held = store.get(id);
        if (held !== undefined && held !== json) {
          bad.set(id, [{ code: ErrorCode.ID_MISMATCH, message: 'different bytes for an event this ledger holds', eventId: id }]);
        }
      }
    }
    for (const id of sigIn.keys()) {
      if (sigCheck.good.has(id)) continue;
      const p = sigCheck.bad.get(id) ?? { code: ErrorCode.JOURNAL_SIGNATURE_INVALID, message: 'a journal signature that cannot be checked: a parent has no journal commit', eventId: id };
      bad.set(sigKey(id), [p]);
    }
    const evKey = (k: string): string => (isSigKey(k) ? eventOfSigKey(k) : k);
    let acc: Decision;
    let all: Map<EventId, LedgerEvent>;
    // Refuse bad changes and their descendants until what is left is consistent.
    for (;;) {
      // The candidates' events not held yet (held ones keep their decisions).
      all = new Map();
      for (const c of candidates) {
        for (const [id] of c.entries) {
          const ev = checked.events.get(id as EventId);
          if (ev && !this.#events.has(id as EventId)) all.set(id as EventId, ev);
        }
      }
      const missing = new Map<string, Problem>();
      for (const [id, ev] of all) {
        for (const p of ev.event.parents) {
          if (!all.has(p as EventId) && !this.#events.has(p as EventId)) missing.set(id, { code: ErrorCode.MISSING_PARENT, message: `names parent ${p}, which this ledger does not hold`, eventId: id });
        }
      }
      for (const id of missing.keys()) all.delete(id as EventId);
      acc = this.#decide(all);
      const why = new Map<string, Problem[]>(bad);
      for (const [id, p] of missing) why.set(id, [p]);
      for (const r of acc.rejected) if (!this.#events.has(r.id)) why.set(r.id, [{ code: r.code, message: r.message, eventId: r.id }]);
      const kept = new Set(candidates.map((c) => c.hash));
      const next = candidates.filter((c) => {
        const badEntry = c.entries.find(([id]) => why.has(id) || (!acc.accepted.has(evKey(id) as EventId) && !store.has(evKey(id))));
        if (badEntry) {
          rejected.push({ hash: c.hash, code: SyncCode.CHANGE_INVALID, message: `holds event ${badEntry[0]}, which does not count` });
          problems.push(...(why.get(badEntry[0]) ?? []));
          return false;
        }
        const dep = c.deps.find((d) => !kept.has(d) && !A.hasHeads(doc, [d]));
        if (dep) {
          rejected.push({ hash: c.hash, code: SyncCode.CHANGE_DEPENDS_ON_REJECTED, message: `builds on change ${dep}, which was refused or is missing` });
          return false;
        }
        return true;
      });
      if (next.length === candidates.length) break;
      candidates = next;
    }
    const incoming = new Set(candidates.flatMap((c) => c.entries.map(([id]) => id)));
    const accepted = acc.order.filter((id) => !this.#events.has(id) && incoming.has(id));
    await this.#store.applyChanges(
      candidates.map((c) => c.bytes),
      candidates.flatMap((c) => c.entries)
    );
    for (const c of candidates) {
      for (const [k] of c.entries) {
        const v = isSigKey(k) ? this.#store.get(k) : undefined;
        if (v !== undefined) this.#sigs.set(eventOfSigKey(k), v);
      }
    }
    for (const id of accepted) this.#index(all.get(id)!);
    this.#roster = acc.roster;
    acc.commit();
    await this.#notify(accepted.map((id) => all.get(id)!), 'receive');
    return { accepted, problems, applied: candidates.map((c) => c.hash), rejected, covered: checked.covered?.size ?? 0 };
  }

  /**
   * Verifies everything from storage again: chunk hashes, then every event (canonical bytes, schema, id,
   * signature, ledger, parents, roster). Reports each problem with its code, event id and location.
   * By default an event covered by a signed tree head of its author's log is not signature-checked again (see
   * verifyStorage); `full` checks every signature.
   */
  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    await this.flushed();
    return Ledger.verifyStorage(this.#store.storage, this.id, opts);
  }

  /**
   * Verifies a stored ledger without opening it for use, so that even a ledger too damaged to open is
   * reported on: chunk hashes, then every event. `ledgerId`, when known, pins which genesis counts.
   *
   * Two modes (ledger-schema/README.md section 11, "What each mode proves"). By default, when the device log
   * stored beside the document has a checkpoint whose root the stored envelopes give again and whose signature
   * verifies (proofs/signed-head.ts), the events of that checkpoint's signer up to its size need no Ed25519 check
   * of their own (their journal signatures are checked for presence and form); every other event, and every other
   * check, runs as in `full`, which checks every event and journal signature one by one.
   */
  static async verifyStorage(storage: StorageAdapter, ledgerId?: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
    await initHash();
    await JournalCommits.ready();
    const { store, problems: storageProblems } = await DocStore.load(storage, { compactOnLoad: false });
    const entries: Array<[string, string]> = [];
    const problems: Problem[] = storageProblems.map((p) => ({ code: p.code, message: p.message, location: p.location }));
    const sigs = new Map<string, string>();
    const scan = store.scan();
    for (const m of scan.malformed) problems.push({ code: ErrorCode.MALFORMED, message: m.message, location: m.location });
    for (const [key, v] of scan.entries) {
      if (isSigKey(key)) {
        if (!sigs.has(eventOfSigKey(key))) sigs.set(eventOfSigKey(key), v);
      } else entries.push([key, v]);
    }
    // The signed tree head that covers events (default mode): the newest checkpoint of the device log that the
    // stored envelopes (the first copy of each id, as readers take) give again.
    let head: SignedHead | undefined;
    if (!opts.full && ledgerId) {
      const first = new Map<string, string>();
      for (const [k, v] of entries) if (!first.has(k)) first.set(k, v);
      head = await storedSignedHead(storage, ledgerId, first);
    }
    const covered = head?.covered;
    // The events and every event's journal commit signature (<id>.git, ledger-schema/README.md "Journal
    // commits") are checked at the same time: the journal's commit building runs while event signatures are
    // verified on the thread pool. Journal problems of events that are invalid themselves are left out.
    // `journal: false` leaves the journal signatures out (the benchmark's split of where the time goes).
    const [report, journalAll] = await Promise.all([
      verifyEntries(entries, ledgerId, { covered }),
      opts.journal === false ? [] : verifyJournalSignatures(entries, sigs, new Set(), { covered })
    ]);
    const bad = new Set(report.problems.map((p) => p.eventId ?? ''));
    const journal = journalAll.filter((p) => !bad.has(p.eventId ?? ''));
    const all = [...problems, ...report.problems, ...journal];
    const signatures = {
      mode: opts.full ? ('full' as const) : ('signed-heads' as const),
      covered: report.covered.size,
      ...(head?.size ? { headSize: head.size } : {})
    };
    return { ok: all.length === 0, checked: report.checked, valid: report.valid, ledgerId: report.ledgerId, problems: all, signatures };
  }

  /** True when the document in storage, read again now, holds the event (another process appended it since). */
  async storedNow(id: string): Promise<boolean> {
    const { store } = await DocStore.load(this.#store.storage, { compactOnLoad: false });
    return store.has(id);
  }

  async compact(): Promise<void> {
    await this.flushed();
    await this.#store.compact();
  }

  #assertSchema(event: UnsignedEvent): void {
    // Writers only: bidirectional controls in labels are refused here, not by the schema (src/lib/core/bidi.ts).
    const problems = [...validateEvent(event), ...bidiProblems(event.body)];
    if (problems.length > 0) {
      throw new LedgerError(
        ErrorCode.SCHEMA,
        `invalid ${event.type} event: ${problems.map((p) => p.message).join('; ')}`,
        { detail: problems }
      );
    }
  }

  #index(ev: LedgerEvent): void {
    this.#events.set(ev.id, ev);
    this.#sorted = null;
    for (const p of ev.event.parents) {
      this.#referenced.add(p);
      this.#heads.delete(p as EventId);
    }
    if (!this.#referenced.has(ev.id)) this.#heads.add(ev.id);
    if (this.#byHash) this.#indexHashes(this.#byHash, ev);
  }

  #indexHashes(index: Map<string, Set<EventId>>, ev: LedgerEvent): void {
    for (const h of hashesIn(ev.event.body)) {
      let s = index.get(h);
      if (!s) index.set(h, (s = new Set()));
      s.add(ev.id);
    }
  }

  #hashIndex(): Map<string, Set<EventId>> {
    if (!this.#byHash) {
      const index = new Map<string, Set<EventId>>();
      for (const ev of this.#events.values()) this.#indexHashes(index, ev);
      this.#byHash = index;
    }
    return this.#byHash;
  }
}
