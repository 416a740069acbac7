/**
 * The ledger's state (ledger.ts), shared by its parts: appends (ledger-append.ts), receipt (ledger-receive.ts),
 * the in-memory index (ledger-index.ts) and the journal (ledger-journal.ts). Ledger owns it.
 */
import type { DocStore, StorageProblem } from './docstore.ts';
import type { EventId, LedgerEvent } from './event.ts';
import type { Signer } from './keys.ts';
import type { PastIndex, Roster } from './roster.ts';
import type { JournalCommits } from './journal/signatures.ts';
import type { Removal } from './team/removal.ts';
import type { AcceptedObserver, Ledger } from './ledger.ts';

export interface LedgerCore {
  readonly ledger: Ledger;
  readonly store: DocStore;
  readonly signer?: Signer;
  readonly now: () => Date;
  events: Map<EventId, LedgerEvent>;
  sorted: LedgerEvent[] | null;
  referenced: Set<string>;
  heads: Set<EventId>;
  /** File hashes and event ids named in bodies → events naming them; built on first use, then kept up to date. */
  byHash: Map<string, Set<EventId>> | null;
  roster: Roster;
  /** The pasts behind the acceptance decisions of the held events (built on first receive), so a receive decides only new events. */
  pasts: PastIndex | null;
  genesis: LedgerEvent;
  readonly storageProblems: StorageProblem[];
  tail: Promise<unknown>;
  readonly observers: Set<AcceptedObserver>;
  /** Journal commit signatures (`<id>.git` entries, ledger-schema/README.md "Journal commits") by event id. */
  sigs: Map<string, string>;
  /** Events and signatures being received (checked before they are stored). */
  pendingEvents?: Map<EventId, LedgerEvent>;
  pendingSigs?: Map<string, string>;
  /** Envelope JSON of the events being received (only those in pendingEvents, which passed the canonical check). */
  pendingJson?: Map<string, string>;
  journal: JournalCommits;
  /** The removal of this device that a peer showed it (team/removal.ts): appends are refused while it holds. */
  removal?: Removal;
  /** Appends issued but not yet prepared: the group being written waits for them (up to MAX_GROUP). */
  inFlight: number;
  waiters: Array<() => void>;
  /** Set when a group failed to be written, until memory is rebuilt from storage; appends meanwhile fail. */
  failure: unknown;
  queue: Array<{
    ev: LedgerEvent;
    json: string;
    gitSig?: string;
    resolve: (e: LedgerEvent) => void;
    reject: (e: unknown) => void;
  }>;
  flushing: Promise<void> | null;
}

export async function notify(core: LedgerCore, events: LedgerEvent[], origin: 'append' | 'receive'): Promise<void> {
  if (events.length === 0) return;
  for (const fn of [...core.observers]) {
    try {
      await fn(events, origin);
    } catch {
      /* the event is stored; the observer records and repairs its own failure */
    }
  }
}
