/**
 * Events from elsewhere (ledger.ts): entries received (a peer, an import) and a peer's Automerge changes, each
 * event checked, with the journal signatures arriving beside them, before anything is stored.
 */
import * as A from '@automerge/automerge/slim';
import type { EventId, LedgerEvent } from './event.ts';
import { ErrorCode } from './errors.ts';
import { decideAcceptance, extendAcceptance, type Rejection, type Roster } from './roster.ts';
import { checkEntries, type Problem } from './verify.ts';
import { decodeChanges } from './sync/changes.ts';
import { SyncCode } from './sync/codes.ts';
import { checkJournalSignatures, eventOfSigKey, isSigKey, sigKey } from './journal/signatures.ts';
import type { ApplyOptions, ChangesResult, ReceiveResult } from './ledger.ts';
import { notify, type LedgerCore } from './ledger-core.ts';
import { indexEvent, parseLoose } from './ledger-index.ts';
import { newJournal } from './ledger-journal.ts';

/** Which fresh events count (decide). */
interface Decision {
  accepted: Set<EventId>;
  rejected: Rejection[];
  order: EventId[];
  roster: Roster;
  commit: () => void;
}

export async function receiveEntries(
  core: LedgerCore,
  input: Array<[string, string]>,
  allOrNothing: boolean
): Promise<ReceiveResult> {
  // No need to wait for appends being written: the document store runs one mutation at a time.
  const sigIn = new Map<string, string>();
  const entries = input.filter(([k, v]) => !(isSigKey(k) && sigIn.set(eventOfSigKey(k), v)));
  const fresh = entries.filter(([id]) => !core.events.has(id as EventId));
  // Journal signatures (<id>.git) must verify over their event's commit; an event with a bad one is refused.
  // Both checks run at once (see checkArrivingSigs); what either refuses is refused.
  const parsed = new Map<string, { json: string; value: unknown }>();
  const loose = parseLoose(fresh, parsed);
  const [{ events, problems }, sigs] = await Promise.all([
    checkEntries(fresh, core.ledger.id, { parsed }),
    checkArrivingSigs(core, loose, sigIn, new Map(fresh))
  ]);
  for (const [id, p] of sigs.bad) {
    if (!events.has(id as EventId)) continue; // refused already, with its own reason
    problems.push(p);
    events.delete(id as EventId);
  }
  const all = new Map(events);
  for (const [id, ev] of events) {
    for (const p of ev.event.parents) {
      if (!all.has(p as EventId) && !core.events.has(p as EventId)) {
        problems.push({
          code: ErrorCode.MISSING_PARENT,
          message: `names parent ${p}, which this ledger does not hold`,
          eventId: id
        });
        all.delete(id);
      }
    }
  }
  const acc = decide(core, all);
  for (const r of acc.rejected)
    if (events.has(r.id)) problems.push({ code: r.code, message: r.message, eventId: r.id });
  if (allOrNothing && problems.length) return { accepted: [], problems };
  const accepted = acc.order.filter((id) => events.has(id) && !core.events.has(id));
  const jsonOf = new Map(fresh);
  const acceptedSet = new Set<string>(accepted);
  const sigEntries = [...sigs.good]
    .filter(([id]) => core.events.has(id as EventId) || acceptedSet.has(id))
    .map(([id, v]): [string, string] => [sigKey(id), v]);
  await core.store.commit([...accepted.map((id): [string, string] => [id, jsonOf.get(id)!]), ...sigEntries]);
  for (const [k, v] of sigEntries) core.sigs.set(eventOfSigKey(k), v);
  for (const id of accepted) indexEvent(core, all.get(id)!);
  core.roster = acc.roster;
  acc.commit();
  await notify(
    core,
    accepted.map((id) => all.get(id)!),
    'receive'
  );
  return { accepted, problems };
}

export async function applyChanges(
  core: LedgerCore,
  changes: Uint8Array[],
  opts: ApplyOptions
): Promise<ChangesResult> {
  // No need to wait for appends being written: the document store runs one mutation at a time.
  const doc = core.store.doc;
  const store = core.store;
  const rejected: ChangesResult['rejected'] = [];
  const problems: Problem[] = [];
  let candidates = decodeChanges(changes, core.ledger.id).filter((c) => {
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
  // same time as the events (see checkArrivingSigs).
  const sigIn = new Map<string, string>();
  for (const c of candidates)
    for (const [k, v] of c.entries) if (isSigKey(k) && !store.has(k)) sigIn.set(eventOfSigKey(k), v);
  // The sender's events its own checked signed tree head covers need no signature check of their own.
  const covered = opts.heads ? await opts.heads.cover((id) => store.get(id) ?? fresh.get(id)) : undefined;
  // Parsed once: the journal builds commits from these while checkEntries checks them (without parsing again).
  const parsed = new Map<string, { json: string; value: unknown }>();
  const loose = parseLoose(fresh, parsed);
  const [checked, sigCheck] = await Promise.all([
    checkEntries(fresh, core.ledger.id, { covered, parsed }),
    checkArrivingSigs(core, loose, sigIn, fresh)
  ]);
  const bad = new Map<string, Problem[]>();
  for (const p of checked.problems) if (p.eventId) bad.set(p.eventId, [...(bad.get(p.eventId) ?? []), p]);
  for (const c of candidates) {
    for (const [id, json] of c.entries) {
      const held = store.get(id);
      if (held !== undefined && held !== json) {
        bad.set(id, [
          { code: ErrorCode.ID_MISMATCH, message: 'different bytes for an event this ledger holds', eventId: id }
        ]);
      }
    }
  }
  for (const id of sigIn.keys()) {
    if (sigCheck.good.has(id)) continue;
    const p = sigCheck.bad.get(id) ?? {
      code: ErrorCode.JOURNAL_SIGNATURE_INVALID,
      message: 'a journal signature that cannot be checked: a parent has no journal commit',
      eventId: id
    };
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
        if (ev && !core.events.has(id as EventId)) all.set(id as EventId, ev);
      }
    }
    const missing = new Map<string, Problem>();
    for (const [id, ev] of all) {
      for (const p of ev.event.parents) {
        if (!all.has(p as EventId) && !core.events.has(p as EventId))
          missing.set(id, {
            code: ErrorCode.MISSING_PARENT,
            message: `names parent ${p}, which this ledger does not hold`,
            eventId: id
          });
      }
    }
    for (const id of missing.keys()) all.delete(id as EventId);
    acc = decide(core, all);
    const why = new Map<string, Problem[]>(bad);
    for (const [id, p] of missing) why.set(id, [p]);
    for (const r of acc.rejected)
      if (!core.events.has(r.id)) why.set(r.id, [{ code: r.code, message: r.message, eventId: r.id }]);
    const kept = new Set(candidates.map((c) => c.hash));
    const next = candidates.filter((c) => {
      const badEntry = c.entries.find(
        ([id]) => why.has(id) || (!acc.accepted.has(evKey(id) as EventId) && !store.has(evKey(id)))
      );
      if (badEntry) {
        rejected.push({
          hash: c.hash,
          code: SyncCode.CHANGE_INVALID,
          message: `holds event ${badEntry[0]}, which does not count`
        });
        problems.push(...(why.get(badEntry[0]) ?? []));
        return false;
      }
      const dep = c.deps.find((d) => !kept.has(d) && !A.hasHeads(doc, [d]));
      if (dep) {
        rejected.push({
          hash: c.hash,
          code: SyncCode.CHANGE_DEPENDS_ON_REJECTED,
          message: `builds on change ${dep}, which was refused or is missing`
        });
        return false;
      }
      return true;
    });
    if (next.length === candidates.length) break;
    candidates = next;
  }
  const incoming = new Set(candidates.flatMap((c) => c.entries.map(([id]) => id)));
  const accepted = acc.order.filter((id) => !core.events.has(id) && incoming.has(id));
  await core.store.applyChanges(
    candidates.map((c) => c.bytes),
    candidates.flatMap((c) => c.entries)
  );
  for (const c of candidates) {
    for (const [k] of c.entries) {
      const v = isSigKey(k) ? core.store.get(k) : undefined;
      if (v !== undefined) core.sigs.set(eventOfSigKey(k), v);
    }
  }
  for (const id of accepted) indexEvent(core, all.get(id)!);
  core.roster = acc.roster;
  acc.commit();
  await notify(
    core,
    accepted.map((id) => all.get(id)!),
    'receive'
  );
  return { accepted, problems, applied: candidates.map((c) => c.hash), rejected, covered: checked.covered?.size ?? 0 };
}

/**
 * Decides which of `fresh` (events not held, each passed its own checks) count, as decideAcceptance over the
 * held and fresh events together would. Held events keep their decisions, so once the pasts of the held events
 * are known only the fresh ones are decided (a fresh member event takes the whole pass again).
 * `commit` records the pasts of the accepted events: call it once they are stored and indexed.
 */
export function decide(core: LedgerCore, fresh: Map<EventId, LedgerEvent>): Decision {
  const held = (id: EventId) => core.events.get(id);
  const index = core.pasts;
  const inc = index && extendAcceptance(index, held, fresh);
  if (index && inc) {
    return {
      ...inc,
      roster: core.roster,
      commit: () => {
        if (core.pasts === index) for (const [id, p] of inc.past) index.past.set(id, p);
      }
    };
  }
  const all = new Map(core.events);
  for (const [id, ev] of fresh) all.set(id, ev);
  const acc = decideAcceptance(all, core.ledger.id);
  const rejected = acc.rejected.filter((r) => !core.events.has(r.id));
  const order = acc.order.filter((id) => !core.events.has(id));
  return { accepted: acc.accepted, rejected, order, roster: acc.roster, commit: () => void (core.pasts = acc.index) };
}

/**
 * Checks journal signatures of events arriving with a receive: each verifies over its event's commit, or
 * the event is refused. Returns the signatures to store (also of held events that lacked one).
 * `events` may be parsed but not yet checked (the callers check them at the same time, so that building
 * commits overlaps the event signatures' verification): a signature found good over an event that fails
 * its own checks is never stored, as that event is refused.
 */
export async function checkArrivingSigs(
  core: LedgerCore,
  events: Map<EventId, LedgerEvent>,
  sigIn: Map<string, string>,
  json: Map<string, string>
): Promise<{ good: Map<string, string>; bad: Map<string, Problem> }> {
  const good = new Map<string, string>();
  const bad = new Map<string, Problem>();
  const todo = [...sigIn.keys()].filter((id) => !core.sigs.has(id));
  if (todo.length === 0) return { good, bad };
  core.pendingEvents = events;
  core.pendingSigs = sigIn;
  core.pendingJson = json;
  try {
    const results = await checkJournalSignatures(core.journal, todo);
    for (const [id, r] of results) {
      if (r === 'ok') good.set(id, sigIn.get(id)!);
      else if (r !== 'unbuildable') bad.set(id, r);
    }
  } finally {
    core.pendingEvents = undefined;
    core.pendingSigs = undefined;
    core.pendingJson = undefined;
  }
  if (bad.size) core.journal = newJournal(core); // commit ids cached from a bad signature go
  return { good, bad };
}
