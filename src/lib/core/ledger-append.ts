/**
 * Appends (ledger.ts): each prepared in turn (validated, signed, its journal commit signed, indexed), then
 * written in groups (group commit); a failed write rebuilds memory from storage.
 */
import { formatTime, signEvent, EVENT_SPEC, type LedgerEvent } from './event.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import { validateEvent } from './validate.ts';
import { bidiProblems } from './bidi.ts';
import { applyToRoster, decideAcceptance, extendIndex } from './roster.ts';
import type { EventType, UnsignedEvent } from './types.ts';
import { sigKey } from './journal/signatures.ts';
import { MAX_GROUP, MAX_PARENTS } from './ledger.ts';
import { notify, type LedgerCore } from './ledger-core.ts';
import { indexEvent, readStored } from './ledger-index.ts';
import { newJournal } from './ledger-journal.ts';
import { timeOf } from './stored-event.ts';

export async function prepare(
  core: LedgerCore,
  type: EventType,
  body: unknown
): Promise<{ ev: LedgerEvent; json: string; gitSig?: string }> {
  const signer = core.signer;
  if (!signer)
    throw new LedgerError(ErrorCode.KEY_MISMATCH, 'this ledger was opened without a device key: it is read-only');
  if (core.storageProblems.length)
    throw new LedgerError(ErrorCode.STORAGE_CORRUPT, 'the stored ledger is damaged: appends are refused');
  if (core.failure !== undefined) throw core.failure;
  const removed = core.ledger.removedBy;
  if (removed) {
    throw new LedgerError(
      ErrorCode.REMOVED_AUTHOR,
      `this device was removed from the team by ${removed.byName || removed.by.slice(0, 12)} (member event ${removed.eventId}, ${removed.at}): it records nothing more in this ledger`,
      { eventId: removed.eventId, detail: { by: removed.by, at: removed.at } }
    );
  }
  const heads = core.ledger.heads();
  // An event's time is after its parents' (ledger-schema/README.md section 10), even with a clock behind: then
  // it is the newest parent's time plus one millisecond, so (time, id) order stays topological.
  let time = formatTime(core.now());
  let newest = '';
  for (const h of heads) {
    const t = timeOf(core.events.get(h)!);
    if (t > newest) newest = t;
  }
  if (newest && time <= newest) time = formatTime(new Date(Date.parse(newest) + 1));
  const event = {
    spec: EVENT_SPEC,
    type,
    ledger: core.ledger.id,
    author: signer.publicKey,
    time,
    parents: heads.length > MAX_PARENTS ? heads.slice(heads.length - MAX_PARENTS) : heads,
    body
  } as UnsignedEvent;
  assertSchema(event);
  const { id, envelope, bytes } = await signEvent(event, signer);
  const ev: LedgerEvent = { id, event, sig: envelope.sig };
  const roster = type === 'member' ? new Map(core.roster) : core.roster;
  const why = applyToRoster(roster, ev);
  if (why) throw new LedgerError(why.code, why.message);
  // The event's journal commit, signed now: only the author can (stored beside the event, same change).
  const gitSig = await core.journal.sign(ev, signer, bytes);
  core.roster = roster;
  indexEvent(core, ev);
  if (core.pasts) {
    if (type === 'member') core.pasts = null;
    else extendIndex(core.pasts, (p) => core.events.get(p), ev);
  }
  if (gitSig) core.sigs.set(id, gitSig);
  return { ev, json: new TextDecoder().decode(bytes), gitSig };
}

export function enqueue(core: LedgerCore, ev: LedgerEvent, json: string, gitSig?: string): Promise<LedgerEvent> {
  return new Promise((resolve, reject) => {
    core.queue.push({ ev, json, gitSig, resolve, reject });
    core.flushing ??= flush(core);
  });
}

export async function flush(core: LedgerCore): Promise<void> {
  // Group commit: appends already issued join this group (a lone append is written at once).
  await Promise.resolve();
  while (core.inFlight > 0 && core.queue.length < MAX_GROUP) await new Promise<void>((r) => core.waiters.push(r));
  while (core.queue.length > 0) {
    const batch = core.queue;
    core.queue = [];
    try {
      await core.store.commit(
        batch.flatMap((b): Array<[string, string]> =>
          b.gitSig
            ? [
                [b.ev.id, b.json],
                [sigKey(b.ev.id), b.gitSig]
              ]
            : [[b.ev.id, b.json]]
        )
      );
    } catch (e) {
      const later = core.queue;
      core.queue = [];
      // Nothing of this group or after it is stored: rebuild memory from storage, then report.
      core.failure = e;
      const rebuilt = core.tail.then(() => rebuild(core));
      core.tail = rebuilt.catch(() => undefined);
      await rebuilt.catch(() => undefined);
      for (const b of [...batch, ...later]) b.reject(e);
      continue;
    }
    await notify(
      core,
      batch.map((b) => b.ev),
      'append'
    );
    for (const b of batch) b.resolve(b.ev);
  }
  core.flushing = null;
}

export function wake(core: LedgerCore): void {
  const w = core.waiters;
  core.waiters = [];
  for (const f of w) f();
}

/** Re-reads the index from the document store (after a failed write). */
export function rebuild(core: LedgerCore): void {
  core.failure = undefined;
  core.events.clear();
  core.referenced.clear();
  core.heads.clear();
  core.byHash = null;
  core.sorted = null;
  const { events: all, sigs } = readStored(core.store);
  core.sigs = sigs;
  core.journal = newJournal(core);
  const acc = decideAcceptance(all, core.genesis.id);
  for (const id of acc.order) indexEvent(core, all.get(id)!);
  core.roster = acc.roster;
  core.pasts = null;
}

export function assertSchema(event: UnsignedEvent): void {
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
