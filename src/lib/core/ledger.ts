/**
 * The ledger: open or create it over a StorageAdapter, append signed events, query them, verify everything.
 * Platform-free: the browser, the worker, the CLI and the tests all use this class.
 *
 * The parts: appends and group commit (ledger-append.ts), receipt of entries and of a peer's changes
 * (ledger-receive.ts), the in-memory index (ledger-index.ts), the journal (ledger-journal.ts), over the state
 * they share (ledger-core.ts). Create, open, verify and compact are here.
 */
import * as A from '@automerge/automerge/slim';
import type { StorageAdapter } from './storage.ts';
import { DocStore, type LedgerDoc, type StorageProblem } from './docstore.ts';
import { EVENT_SPEC, formatTime, signEvent, type EventId, type LedgerEvent } from './event.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import type { Signer } from './keys.ts';
import { decideAcceptance, isGenesis, rosterOf, topoOrder, type RosterEntry } from './roster.ts';
import { verifyEntries, type ParsedEnvelopes, type Problem, type VerifyReport } from './verify.ts';
import { matches, traceFile, type EventFilter } from './query.ts';
import { initHash } from './hash.ts';
import { fromBase64url, toHex } from './bytes.ts';
import type { EventType, UnsignedEvent } from './types.ts';
import type { EventCommit } from './journal/commit.ts';
import { eventOfSigKey, isSigKey, JournalCommits, sigKey, verifyJournalSignatures } from './journal/signatures.ts';
import { loadRemovalNotice, stillRemoved, type Removal } from './team/removal.ts';
import { storedSignedHead, type Covered, type SignedHead } from './proofs/signed-head.ts';
import {
  readVerifiedRecord,
  recordSubject,
  writeVerifiedRecord,
  type RecordSubject,
  type VerifiedRecord
} from './verified-record.ts';
import type { LedgerCore } from './ledger-core.ts';
import { assertSchema, enqueue, prepare, wake } from './ledger-append.ts';
import { applyChanges, receiveEntries } from './ledger-receive.ts';
import { hashIndex, indexEvent, readStored } from './ledger-index.ts';
import { newJournal } from './ledger-journal.ts';
import { timeOf, typeOf } from './stored-event.ts';

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
  /**
   * This device's verified record (verified-record.ts), under the key from verifiedRecordKey: the default mode
   * reads it, and writes it after a sound verify that used a checkpoint (unless `write` is false: the caller
   * then writes `report.recordable` itself, once its own checks also passed). Never used by `full`.
   */
  record?: { key: CryptoKey; write?: boolean };
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

/** What became of a peer's Automerge changes (Ledger.applyVerifiedChanges). */
export interface ChangesResult extends ReceiveResult {
  /** Hashes of the changes applied to the document. */
  applied: string[];
  /** Changes refused whole, with why (problems holds the per-event reasons). */
  rejected: Array<{ hash: string; code: string; message: string }>;
  /** Events whose signature the sender's checked signed tree head covered (ApplyOptions.heads). */
  covered?: number;
}

export class Ledger {
  /** The state the ledger's parts share (ledger-core.ts). */
  #c: LedgerCore;

  private constructor(store: DocStore, opts: LedgerOptions, storageProblems: StorageProblem[]) {
    const c: LedgerCore = {
      ledger: this,
      store,
      signer: opts.signer,
      now: opts.now ?? (() => new Date()),
      events: new Map(),
      sorted: null,
      referenced: new Set(),
      heads: new Set(),
      byHash: null,
      roster: new Map(),
      pasts: null,
      genesis: undefined!,
      storageProblems,
      tail: Promise.resolve(),
      observers: new Set(),
      sigs: new Map(),
      journal: undefined!,
      inFlight: 0,
      waiters: [],
      failure: undefined,
      queue: [],
      flushing: null
    };
    c.journal = newJournal(c);
    if (opts.onAccepted) c.observers.add(opts.onAccepted);
    this.#c = c;
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
    const now = ledger.#c.now();
    const genesis: UnsignedEvent = {
      spec: EVENT_SPEC,
      type: 'member',
      author: opts.signer.publicKey,
      time: formatTime(now),
      parents: [],
      body: {
        action: 'create',
        ledgerName: opts.ledgerName,
        member: {
          id: opts.memberId ?? defaultMemberId(opts.signer.publicKey),
          name: opts.memberName,
          key: opts.signer.publicKey,
          role: 'owner'
        }
      }
    } as UnsignedEvent;
    assertSchema(genesis);
    const { id, bytes, envelope } = await signEvent(genesis, opts.signer);
    const gitSig = (await ledger.#c.journal.sign({ id, event: genesis, sig: envelope.sig }, opts.signer))!;
    await store.commit(
      [
        [id, new TextDecoder().decode(bytes)],
        [sigKey(id), gitSig]
      ],
      id
    );
    ledger.#c.sigs.set(id, gitSig);
    indexEvent(ledger.#c, { id, event: genesis, sig: envelope.sig });
    ledger.#c.genesis = ledger.#c.events.get(id)!;
    ledger.#c.roster = decideAcceptance(ledger.#c.events, id).roster;
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
    const { events: all, sigs } = readStored(store);
    // Member events (the genesis, the roster) are read whole now; one that is not JSON is left out, as verify()
    // reports it.
    let genesis: LedgerEvent | undefined;
    const members: LedgerEvent[] = [];
    for (const [id, ev] of all) {
      if (typeOf(ev) !== 'member') continue;
      try {
        if (ev.event && !genesis && isGenesis(ev)) genesis = ev;
        members.push(ev);
      } catch {
        all.delete(id);
      }
    }
    if (!genesis) {
      const where = problems.length ? `: ${problems.map((p) => `${p.location}: ${p.message}`).join('; ')}` : '';
      throw new LedgerError(
        problems.length ? ErrorCode.STORAGE_CORRUPT : ErrorCode.GENESIS,
        `the ledger has no genesis event${where}`,
        {
          detail: problems
        }
      );
    }
    // Every stored event was accepted when it was appended or received (receive stores only what counts), so
    // opening trusts them; verify() re-checks everything. events() is a topological order.
    ledger.#c.genesis = genesis;
    store.bindLedger(genesis.id);
    for (const ev of all.values()) indexEvent(ledger.#c, ev);
    ledger.#c.sigs = sigs;
    ledger.#c.roster = rosterOf(Ledger.#membersInOrder(ledger, members));
    // A removal notice this device was shown and kept: it records nothing more (ledger-schema/README.md section 19).
    if (opts.signer) ledger.#c.removal = await loadRemovalNotice(opts.storage, ledger, opts.signer.publicKey);
    return ledger;
  }

  /**
   * The member events in the order of events(), without ordering every event: when no two events share a time,
   * that order is (time, id), so sorting the member events alone gives it.
   */
  static #membersInOrder(ledger: Ledger, members: LedgerEvent[]): LedgerEvent[] {
    const times = new Set<string>();
    for (const ev of ledger.#c.events.values()) times.add(timeOf(ev));
    if (times.size < ledger.#c.events.size) return ledger.events().filter((e) => typeOf(e) === 'member');
    return members.sort((a, b) =>
      a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    );
  }

  /**
   * From now on appends are refused (AUTHOR_REMOVED): a peer showed this device the signed removal of its key
   * (checked by team/removal.ts checkRemovalNotice, and kept there). Lifted only when the ledger shows the key
   * added again after the removal.
   */
  refuseAppends(removal: Removal): void {
    this.#c.removal = removal;
  }

  /** The kept removal of this device that still holds, if any. */
  get removedBy(): Removal | undefined {
    const r = this.#c.removal;
    return r && this.#c.signer && stillRemoved(this, this.#c.signer.publicKey, r) ? r : undefined;
  }

  get id(): EventId {
    return this.#c.genesis.id;
  }

  get name(): string {
    return (this.#c.genesis.event.body as { ledgerName: string }).ledgerName;
  }

  get signer(): Signer | undefined {
    return this.#c.signer;
  }

  get size(): number {
    return this.#c.events.size;
  }

  /** Storage problems found at open (only with allowProblems). */
  get storageProblems(): StorageProblem[] {
    return this.#c.storageProblems;
  }

  /** The Automerge document (for sync). Its layout is DocStore's: read entries with envelopeJson(). */
  get doc(): A.Doc<LedgerDoc> {
    return this.#c.store.doc;
  }

  /** An event's signed envelope exactly as stored (its canonical JSON). */
  envelopeJson(id: string): string | undefined {
    return this.#c.events.has(id as EventId) ? this.#c.store.get(id) : undefined;
  }

  /**
   * Every event that counts, oldest first: parents first, then (time, id). Sorting by (time, id) alone is that
   * order unless two events share a time (a child recorded with its parent's time by an older writer whose clock
   * was behind): only then is the topological order computed.
   */
  events(): LedgerEvent[] {
    if (!this.#c.sorted) {
      const all = [...this.#c.events.values()];
      const time = all.map(timeOf);
      const order = all.map((_, i) => i);
      order.sort((i, j) =>
        time[i] < time[j] ? -1 : time[i] > time[j] ? 1 : all[i].id < all[j].id ? -1 : all[i].id > all[j].id ? 1 : 0
      );
      const sorted = order.map((i) => all[i]);
      const tie = order.some((i, k) => k > 0 && time[i] === time[order[k - 1]]);
      this.#c.sorted = tie ? topoOrder(this.#c.events).map((id) => this.#c.events.get(id)!) : sorted;
    }
    return this.#c.sorted;
  }

  /** Adds an observer of accepted events; returns the function that removes it. */
  observe(fn: AcceptedObserver): () => void {
    this.#c.observers.add(fn);
    return () => this.#c.observers.delete(fn);
  }

  get(id: string): LedgerEvent | undefined {
    return this.#c.events.get(id as EventId);
  }

  /** Ids of events no other event names as a parent, sorted. */
  heads(): EventId[] {
    return [...this.#c.heads].sort();
  }

  roster(): RosterEntry[] {
    return [...this.#c.roster.values()];
  }

  member(key: string): RosterEntry | undefined {
    return this.#c.roster.get(key);
  }

  query(filter: EventFilter = {}): LedgerEvent[] {
    return this.events().filter((e) => matches(e, filter));
  }

  /** The chain of custody of a file, by its SHA-256. */
  trace(sha256: string): LedgerEvent[] {
    return traceFile(sha256.toLowerCase(), hashIndex(this.#c), (id) => this.#c.events.get(id));
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
    this.#c.inFlight++;
    const prepared = this.#c.tail.then(() => prepare(this.#c, type, body));
    this.#c.tail = prepared.catch(() => undefined);
    return prepared.then(
      ({ ev, json, gitSig }) => {
        this.#c.inFlight--;
        const stored = enqueue(this.#c, ev, json, gitSig);
        wake(this.#c);
        return stored;
      },
      (e) => {
        this.#c.inFlight--;
        wake(this.#c);
        throw e;
      }
    );
  }

  /** The Git commit id of an event's journal commit; undefined when it (or its past) has no signature. */
  commitOf(id: string): string | undefined {
    return this.#c.events.has(id as EventId) ? this.#c.journal.oid(id) : undefined;
  }

  /** The journal commit of an event (blob, tree and signed commit objects), rebuilt from the document. */
  async journalCommit(id: string): Promise<EventCommit | undefined> {
    await JournalCommits.ready();
    return this.#c.events.has(id as EventId) ? this.#c.journal.commit(id) : undefined;
  }

  /** The stored journal signature value (base64url of 64 bytes) of an event. */
  journalSignature(id: string): string | undefined {
    return this.#c.sigs.get(id);
  }

  /** The author name the journal commit of an event carries. */
  journalAuthorName(id: string): string | undefined {
    return this.#c.journal.nameFor(id);
  }

  /** Waits until every append issued so far is stored (or has failed). */
  async flushed(): Promise<void> {
    await this.#c.tail;
    while (this.#c.flushing) await this.#c.flushing;
  }

  /**
   * Accepts events from elsewhere (a peer, an import): each is verified (bytes, schema, id, signature, ledger,
   * parents present, author in the roster of its past) before any is stored. Invalid ones are reported and
   * left out; the valid ones are persisted together. With `allOrNothing` (a pull, an import: they promise
   * "nothing was accepted" when anything is refused), one problem means nothing is stored.
   */
  async receive(entries: Array<[string, string]>, opts: { allOrNothing?: boolean } = {}): Promise<ReceiveResult> {
    const run = this.#c.tail.then(() => receiveEntries(this.#c, entries, opts.allOrNothing === true));
    this.#c.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies a peer's Automerge changes only when everything in them counts. Each change must put events and
   * nothing else (sync/changes.ts); every event is checked as receive() checks it; a change holding anything
   * invalid is refused whole, with every change that builds on it. The accepted changes are applied as they
   * are, so both devices end with the same Automerge history.
   */
  async applyVerifiedChanges(changes: Uint8Array[], opts: ApplyOptions = {}): Promise<ChangesResult> {
    const run = this.#c.tail.then(() => applyChanges(this.#c, changes, opts));
    this.#c.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Verifies everything from storage again: chunk hashes, then every event (canonical bytes, schema, id,
   * signature, ledger, parents, roster). Reports each problem with its code, event id and location.
   * By default an event covered by a signed tree head of its author's log is not signature-checked again (see
   * verifyStorage); `full` checks every signature.
   */
  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    await this.flushed();
    return Ledger.verifyStorage(this.#c.store.storage, this.id, opts);
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
  static async verifyStorage(
    storage: StorageAdapter,
    ledgerId?: string,
    opts: VerifyOptions = {}
  ): Promise<VerifyReport> {
    await initHash();
    await JournalCommits.ready();
    const { store, problems: storageProblems } = await DocStore.load(storage, { compactOnLoad: false });
    const entries: Array<[string, string]> = [];
    const problems: Problem[] = storageProblems.map((p) => ({
      code: p.code,
      message: p.message,
      location: p.location
    }));
    const sigs = new Map<string, string>();
    const scan = store.scan();
    for (const m of scan.malformed)
      problems.push({ code: ErrorCode.MALFORMED, message: m.message, location: m.location });
    for (const [key, v] of scan.entries) {
      if (isSigKey(key)) {
        if (!sigs.has(eventOfSigKey(key))) sigs.set(eventOfSigKey(key), v);
      } else entries.push([key, v]);
    }
    // The signed tree head that covers events (default mode): the newest checkpoint of the device log that the
    // stored envelopes (the first copy of each id, as readers take) give again.
    let head: SignedHead | undefined;
    // With this device's record of a sound verify over the same checkpoint, root and leaf ids, the envelopes
    // under the head are pinned: their form, schema and id are not checked again.
    let subject: RecordSubject | undefined;
    let record: VerifiedRecord | undefined;
    let pinned: Map<string, string> | undefined;
    if (!opts.full && ledgerId) {
      const first = new Map<string, string>();
      for (const [k, v] of entries) if (!first.has(k)) first.set(k, v);
      head = await storedSignedHead(storage, ledgerId, first);
      if (opts.record && head.size > 0 && head.root && head.ids && head.note !== undefined) {
        subject = await recordSubject(ledgerId, { ...head, root: head.root, ids: head.ids, note: head.note });
        record = await readVerifiedRecord(storage, opts.record.key, subject);
        if (record) pinned = new Map(head.ids.map((id) => [id, first.get(id)!]));
      }
    }
    const covered = head?.covered;
    // The events and every event's journal commit signature (<id>.git, ledger-schema/README.md "Journal
    // commits") are checked at the same time: the journal's commit building runs while event signatures are
    // verified on the thread pool. Journal problems of events that are invalid themselves are left out.
    // `journal: false` leaves the journal signatures out (the benchmark's split of where the time goes).
    // The journal's check takes the envelopes verifyEntries parsed (`parsed`), instead of parsing them again.
    const parsed: ParsedEnvelopes = new Map();
    const [report, journalAll] = await Promise.all([
      verifyEntries(entries, ledgerId, { covered, pinned, keep: parsed }),
      opts.journal === false ? [] : verifyJournalSignatures(entries, sigs, new Set(), { covered, parsed })
    ]);
    const bad = new Set(report.problems.map((p) => p.eventId ?? ''));
    const journal = journalAll.filter((p) => !bad.has(p.eventId ?? ''));
    const all = [...problems, ...report.problems, ...journal];
    const signatures = {
      mode: opts.full ? ('full' as const) : ('signed-heads' as const),
      covered: report.covered.size,
      ...(head?.size ? { headSize: head.size } : {})
    };
    const ok = all.length === 0;
    if (ok && subject && !record && opts.record && opts.record.write !== false)
      await writeVerifiedRecord(storage, opts.record.key, subject);
    return {
      ok,
      checked: report.checked,
      valid: report.valid,
      ledgerId: report.ledgerId,
      problems: all,
      signatures,
      ...(record ? { record: { pinned: report.pinned, headSize: record.size, checked: record.checked } } : {}),
      ...(ok && subject && !record ? { recordable: subject } : {})
    };
  }

  /** True when the document in storage, read again now, holds the event (another process appended it since). */
  async storedNow(id: string): Promise<boolean> {
    const { store } = await DocStore.load(this.#c.store.storage, { compactOnLoad: false });
    return store.has(id);
  }

  async compact(): Promise<void> {
    await this.flushed();
    await this.#c.store.compact();
  }
}
