/**
 * Checks commits that arrive from a remote before anything is accepted. Everything here is attacker-controlled.
 * A commit is accepted only when
 *  - its tree holds exactly event.json, a signed envelope that passes every per-event check (canonical bytes,
 *    schema, id, signature, this ledger) and whose parents are held or arriving;
 *  - the event's author may write it (the roster of its causal past, as Ledger.receive decides);
 *  - its gpgsig is an sshsig (namespace git, sha512) by the event's author that verifies over the commit;
 *  - rebuilding the commit from the event and that signature gives exactly its id: a commit that differs in
 *    any byte from what its event determines (message, author, time, parents, extra headers) is refused.
 *
 * With `verify: false` (a clone into a new, empty ledger: adapters/git/fetch.ts) the event checks, the
 * acceptance and the signature verification are left to Ledger.receive, which does them once before it
 * stores anything; what is checked here is the rest (shape, ids, parents, signer = author, commit rebuilt).
 */
import { ErrorCode } from '../errors.ts';
import { eventId, type EventId, type LedgerEvent } from '../event.ts';
import { checkEntries } from '../verify.ts';
import { decideAcceptance, topoOrder } from '../roster.ts';
import { rebuildEventCommit } from './commit.ts';
import { utf8 } from '../bytes.ts';
import type { ParsedCommit } from './objects.ts';
import { parseArmoredSshsig, verifySshsig } from './sshsig.ts';

export interface IncomingCommit {
  oid: string;
  commit: ParsedCommit;
  /** The content of its event.json. */
  json: string;
  objects: string[];
}

export interface IncomingContext {
  ledger: { id: string; events(): LedgerEvent[]; get(id: string): LedgerEvent | undefined };
  commitOf(eventId: string): string | undefined;
  /** The author name for the event (AuthorNames over the ledger and what arrives, parents first). */
  nameFor(ev: LedgerEvent): string;
}

export interface IncomingResult {
  refused?: { oid: string; reason: string; code: string };
  /** Accepted commits, parents first. */
  accepted: Array<{ oid: string; eventId: EventId; json: string; signature: Uint8Array }>;
  eventOf: Map<string, string>;
  /** Every object id of the accepted commits (commit, tree, blob). */
  objects: string[];
  /** True when event a is b or an ancestor of b, over the ledger and what arrived. */
  isAncestor(a: string, b: string): boolean;
}

export async function checkIncoming(
  ctx: IncomingContext,
  commits: IncomingCommit[],
  opts: { verify?: boolean } = {}
): Promise<IncomingResult> {
  const verify = opts.verify ?? true;
  const eventOf = new Map<string, string>();
  const byEvent = new Map<string, IncomingCommit>();
  const entries: Array<[string, string]> = [];
  const events = new Map<EventId, LedgerEvent>();
  const fail = (oid: string, reason: string, code: string = ErrorCode.COMMIT_REFUSED): IncomingResult => ({
    refused: { oid, reason, code },
    accepted: [],
    eventOf,
    objects: [],
    isAncestor: () => false
  });
  for (const c of commits) {
    let id: EventId;
    try {
      id = await eventId(JSON.parse(c.json).event);
    } catch {
      return fail(c.oid, 'its event.json is not a signed event envelope', ErrorCode.MALFORMED);
    }
    if (byEvent.has(id)) return fail(c.oid, `a second commit for event ${id}`, ErrorCode.DUPLICATE);
    byEvent.set(id, c);
    eventOf.set(c.oid, id);
    entries.push([id, c.json]);
  }
  const fresh = entries.filter(([id]) => !ctx.ledger.get(id));
  const checked = verify ? await checkEntries(fresh, ctx.ledger.id) : { problems: [], events: shapes(fresh) };
  if (checked.problems.length) {
    const p = checked.problems[0];
    return fail(
      byEvent.get(p.eventId ?? '')?.oid ?? '?',
      `its event ${p.eventId ?? ''} is invalid: [${p.code}] ${p.message}`,
      p.code
    );
  }
  for (const [id] of entries) {
    const held = ctx.ledger.get(id);
    const ev = held ?? checked.events.get(id as EventId);
    if (!ev) return fail(byEvent.get(id)!.oid, 'its event.json is not a signed event envelope', ErrorCode.MALFORMED);
    events.set(id as EventId, ev);
  }
  const all = new Map<EventId, LedgerEvent>(ctx.ledger.events().map((e) => [e.id, e]));
  for (const [id, ev] of events) all.set(id, ev);
  for (const [id, ev] of events) {
    for (const p of ev.event.parents) {
      if (!all.has(p as EventId))
        return fail(
          byEvent.get(id)!.oid,
          `its event names parent ${p}, which neither we nor the remote hold`,
          ErrorCode.MISSING_PARENT
        );
    }
  }
  if (verify) {
    const acc = decideAcceptance(all, ctx.ledger.id as EventId);
    for (const r of acc.rejected) {
      const c = byEvent.get(r.id);
      if (c) return fail(c.oid, `its event ${r.id} is not accepted: [${r.code}] ${r.message}`, r.code);
    }
  }

  const order = topoOrder(events);
  const commitOf = (id: string) => ctx.commitOf(id) ?? byEvent.get(id)?.oid;
  const accepted: IncomingResult['accepted'] = [];
  const objects: string[] = [];
  const toVerify: Array<{ oid: string; armored: string; unsigned: Uint8Array; author: string }> = [];
  for (const id of order) {
    const c = byEvent.get(id)!;
    const ev = events.get(id)!;
    let name: string;
    try {
      name = ctx.nameFor(ev);
    } catch (e) {
      return fail(c.oid, `its event is malformed: ${(e as Error).message}`, ErrorCode.MALFORMED);
    }
    if (!c.commit.gpgsig) return fail(c.oid, 'it is not signed');
    let sig;
    try {
      sig = parseArmoredSshsig(c.commit.gpgsig);
    } catch (e) {
      return fail(c.oid, `its signature is malformed: ${(e as Error).message}`, ErrorCode.SIGNATURE);
    }
    if (sig.publicKey !== ev.event.author)
      return fail(
        c.oid,
        `it is signed by ${sig.publicKey.slice(0, 12)}…, not by its event's author`,
        ErrorCode.SIGNATURE
      );
    const parentOids = ev.event.parents.map((p) => commitOf(p) ?? '');
    let rebuilt;
    try {
      // The bytes as received for a new event (the event checks require them canonical); a held event's are ours.
      rebuilt = await rebuildEventCommit(
        { ev, parentOids, authorName: name },
        sig.signature,
        ctx.ledger.get(id) ? undefined : utf8(c.json)
      );
    } catch (e) {
      return fail(c.oid, `its event cannot be made into a commit: ${(e as Error).message}`, ErrorCode.MALFORMED);
    }
    if (rebuilt.commit.oid !== c.oid) {
      return fail(
        c.oid,
        `it differs from the commit its event ${id} determines (${rebuilt.commit.oid}): tampered`,
        ErrorCode.JOURNAL_MISMATCH
      );
    }
    toVerify.push({ oid: c.oid, armored: c.commit.gpgsig, unsigned: rebuilt.unsigned, author: ev.event.author });
    accepted.push({ oid: c.oid, eventId: id, json: c.json, signature: sig.signature });
    objects.push(rebuilt.commit.oid, rebuilt.tree.oid, rebuilt.blob.oid);
  }
  // The signatures, in parallel batches (WebCrypto); the first failure in parents-first order is reported.
  for (let i = 0; verify && i < toVerify.length; i += 256) {
    const batch = toVerify.slice(i, i + 256);
    const ok = await Promise.all(batch.map((v) => verifySshsig(v.armored, v.unsigned, v.author)));
    const bad = ok.indexOf(false);
    if (bad >= 0)
      return fail(batch[bad].oid, `its signature does not verify against the author's key`, ErrorCode.SIGNATURE);
  }
  const isAncestor = (a: string, b: string): boolean => {
    if (a === b) return true;
    const seen = new Set<string>();
    const stack = [b];
    while (stack.length) {
      const ev = all.get(stack.pop()! as EventId);
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
  };
  return { accepted, eventOf, objects, isAncestor };
}

/** Events parsed for their shape only (verify: false): an envelope with an event whose parents are ids. */
function shapes(entries: Array<[string, string]>): Map<EventId, LedgerEvent> {
  const out = new Map<EventId, LedgerEvent>();
  for (const [id, json] of entries) {
    try {
      const env = JSON.parse(json);
      const e = env?.event;
      if (
        typeof e !== 'object' ||
        e === null ||
        !Array.isArray(e.parents) ||
        !e.parents.every((p: unknown) => typeof p === 'string') ||
        typeof e.author !== 'string' ||
        typeof e.time !== 'string' ||
        typeof e.type !== 'string'
      )
        continue;
      out.set(id as EventId, { id: id as EventId, event: e, sig: env.sig });
    } catch {
      /* left out: reported as malformed */
    }
  }
  return out;
}
