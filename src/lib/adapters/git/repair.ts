/**
 * Repairing a journal.
 *
 * 1. Events stored without their journal commit signature (`<id>.git`: ledgers from before signatures
 *    travelled with events). Only an event's author can sign its commit, so this device signs the commits of
 *    the events it authored (parents first: a commit names its parents' commits, so an event whose parent
 *    lacks a signature waits for it) and hands the signatures to Ledger.receive, which checks each over its
 *    commit and stores it; sync and push carry them to the other devices. Events by other authors are listed
 *    by author: they can only be repaired on a device holding that author's key.
 * 2. A journal whose files are damaged or hold commits the document does not determine: the journal is a
 *    function of the document, so it is written again from it (the damaged directory is kept aside, renamed).
 */
import { ErrorCode } from '../../core/errors.ts';
import type { LedgerEvent } from '../../core/event.ts';
import type { Signer } from '../../core/keys.ts';
import type { Ledger } from '../../core/ledger.ts';
import type { Problem } from '../../core/verify.ts';
import { signEventCommit } from '../../core/journal/commit.ts';
import { encodeSig, sigKey } from '../../core/journal/signatures.ts';

export interface UnsignedByAuthor {
  author: string;
  /** The member name the roster gives that key (empty when unknown). */
  name: string;
  events: string[];
}

export interface SignMissingResult {
  /** Events whose commits this device signed now (stored in the ledger). */
  signed: string[];
  /** Events without a signature authored by others, by author. */
  others: UnsignedByAuthor[];
  /** Events by this device that still cannot be signed: a parent (by someone else) lacks its signature. */
  waiting: string[];
  /** Problems Ledger.receive reported for the new signatures (none expected). */
  problems: Problem[];
}

/** The ledger's events that have no journal signature, oldest first (parents before children). */
export function unsignedEvents(ledger: Ledger): LedgerEvent[] {
  return ledger.events().filter((e) => ledger.journalSignature(e.id) === undefined);
}

/** Groups unsigned events by author, with the roster's name for each key. */
export function byAuthor(ledger: Ledger, events: LedgerEvent[]): UnsignedByAuthor[] {
  const out = new Map<string, UnsignedByAuthor>();
  for (const e of events) {
    const a = e.event.author;
    let g = out.get(a);
    if (!g) out.set(a, (g = { author: a, name: ledger.member(a)?.name ?? '', events: [] }));
    g.events.push(e.id);
  }
  return [...out.values()];
}

/** Signs the journal commits of the unsigned events `signer` authored (see the file comment). */
export async function signMissing(ledger: Ledger, signer: Signer | undefined): Promise<SignMissingResult> {
  const unsigned = unsignedEvents(ledger);
  const mine = signer ? unsigned.filter((e) => e.event.author === signer.publicKey) : [];
  const others = byAuthor(
    ledger,
    unsigned.filter((e) => !signer || e.event.author !== signer.publicKey)
  );
  const fresh = new Map<string, string>(); // event -> commit signed now
  const entries: Array<[string, string]> = [];
  const waiting: string[] = [];
  const signed: string[] = [];
  for (const ev of mine) {
    const parentOids = ev.event.parents.map((p) => ledger.commitOf(p) ?? fresh.get(p));
    if (parentOids.some((p) => p === undefined)) {
      waiting.push(ev.id);
      continue;
    }
    const c = await signEventCommit(
      { ev, parentOids: parentOids as string[], authorName: ledger.journalAuthorName(ev.id) ?? '' },
      signer!
    );
    fresh.set(ev.id, c.commit.oid);
    entries.push([sigKey(ev.id), encodeSig(c.signature)]);
    signed.push(ev.id);
  }
  let problems: Problem[] = [];
  if (entries.length) ({ problems } = await ledger.receive(entries));
  const refused = new Set(problems.map((p) => p.eventId));
  return { signed: signed.filter((id) => !refused.has(id)), others, waiting, problems };
}

/** Journal problems (from crossCheck) that mean its files must be written again from the document. */
export const REWRITE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.JOURNAL_CORRUPT,
  ErrorCode.JOURNAL_MISMATCH,
  ErrorCode.JOURNAL_EXTRA
]);
