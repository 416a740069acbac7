/** The ledger's Git journal (ledger.ts): journal commits built from the events, and their stored signatures. */
import type { EventId } from './event.ts';
import { JournalCommits } from './journal/signatures.ts';
import type { LedgerCore } from './ledger-core.ts';

export function newJournal(core: LedgerCore): JournalCommits {
  return new JournalCommits({
    event: (id) => core.events.get(id as EventId) ?? core.pendingEvents?.get(id as EventId),
    signature: (id) => core.sigs.get(id) ?? core.pendingSigs?.get(id),
    // Held envelopes were checked canonical when appended or received; arriving ones by checkEntries.
    envelope: (id) => {
      if (core.events.has(id as EventId)) return core.store.get(id);
      return core.pendingEvents?.has(id as EventId) ? core.pendingJson?.get(id) : undefined;
    }
  });
}
