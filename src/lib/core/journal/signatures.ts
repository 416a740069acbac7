/**
 * Journal commit signatures travel with their events: the author signs the event's Git commit when appending,
 * and the raw 64-byte Ed25519 signature is stored in the event's record of the document under `<event id>.git`
 * (base64url, no padding), in the same change as the event (ledger-schema/README.md, "Journal
 * commits"). Any device rebuilds the identical signed commit from the event plus those 64 bytes, so the Git
 * journal is a pure function of the document.
 *
 * A commit names its parents' commit ids, which depend on the parents' signatures: JournalCommits computes
 * commit ids parents first from the events and the stored signatures, and caches them (events and signatures
 * never change once stored).
 *
 * Commit-id hints: computing every commit id of a 10,000-event ledger takes about half a second, once per
 * process. A journal remembers the ids it wrote (adapters/git/event-map.ts) and registers them here as hints
 * at attach; oid() then answers from a hint when the event's stored signature is the one the hint was made
 * with. A hint is never trusted for signing: sign() rebuilds each parent whose id came from a hint and checks
 * it; verify (verifyJournalSignatures, and the journal cross-check) builds everything without hints.
 */
import { fromBase64url, toBase64url } from '../bytes.ts';
import { ErrorCode } from '../errors.ts';
import type { ParsedEnvelopes, Problem } from '../verify.ts';
import type { Covered } from '../proofs/signed-head.ts';
import { isEventId, type EventId, type LedgerEvent } from '../event.ts';
import { verifySignature, type Signer } from '../keys.ts';
import { buildEventCommit, eventTree, unsignedCommit, type EventCommit } from './commit.ts';
import { AuthorNames } from './names.ts';
import { initSha1 } from './objects.ts';
import { signSshsig, sshsigSignedData } from './sshsig.ts';

export const SIG_SUFFIX = '.git';
const SIG_KEY_RE = /^[0-9a-f]{64}\.git$/;
const SIG_VALUE_RE = /^[A-Za-z0-9_-]{86}$/;

/** The root-map key of an event's journal signature. */
export const sigKey = (id: string): string => id + SIG_SUFFIX;
export const isSigKey = (key: unknown): key is string =>
  typeof key === 'string' && key.length === 68 && SIG_KEY_RE.test(key);
/** The event id a signature key belongs to. */
export const eventOfSigKey = (key: string): EventId => key.slice(0, 64) as EventId;
/** True for the keys the document may hold: event ids and `<event id>.git`. */
export const isDocKey = (key: string): boolean => isEventId(key) || isSigKey(key);

export function encodeSig(sig: Uint8Array): string {
  if (sig.length !== 64) throw new TypeError('an Ed25519 signature has 64 bytes');
  return toBase64url(sig);
}

/** 86 base64url characters whose last one leaves its 4 unused bits zero: exactly the values decodeSig accepts. */
const SIG_FORM_RE = /^[A-Za-z0-9_-]{85}[AQgw]$/;
/** True when decodeSig(value) gives 64 bytes, without decoding them. */
export const isSigForm = (value: unknown): boolean => typeof value === 'string' && SIG_FORM_RE.test(value);

/** The 64 bytes of a stored signature value, or undefined when it is not exactly that (86 base64url chars). */
export function decodeSig(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !SIG_VALUE_RE.test(value)) return undefined;
  try {
    // 86 characters are 64 bytes and 4 bits, which fromBase64url requires zero: one value per signature.
    const b = fromBase64url(value);
    return b.length === 64 ? b : undefined;
  } catch {
    return undefined;
  }
}

export interface CommitSource {
  event(id: string): LedgerEvent | undefined;
  /** The stored signature value (base64url) of an event's commit, if any. */
  signature(id: string): string | undefined;
  /**
   * The event's envelope as stored: its canonical JSON (the commit's blob), when at hand. Only a source whose
   * envelopes were checked canonical may give it; otherwise the envelope is serialized again.
   */
  envelope?(id: string): string | undefined;
}

export type SigCheck =
  { ok: true; oid: string } | { ok: false; code: 'missing' | 'invalid' | 'unbuildable'; message: string };

/** The first characters of a signature value a hint records (enough to tell a different signature). */
export const HINT_SIG_CHARS = 16;
const hints = new Map<string, { sig: string; oid: string }>();

/** Commit ids remembered by a journal from an earlier process, by event id (see the file comment). */
export const commitHints = {
  add(list: Iterable<{ id: string; sig: string; oid: string }>): void {
    for (const h of list) hints.set(h.id, { sig: h.sig.slice(0, HINT_SIG_CHARS), oid: h.oid });
  },
  get(id: string): { sig: string; oid: string } | undefined {
    return hints.get(id);
  },
  /** Forgets one (found wrong) or all. */
  delete(id?: string): void {
    if (id === undefined) hints.clear();
    else hints.delete(id);
  },
  get size(): number {
    return hints.size;
  }
};

export class JournalCommits {
  #src: CommitSource;
  #oids = new Map<string, string>();
  /** Ids taken from hints (checked before a signature is made over a commit that names them). */
  #hinted = new Set<string>();
  #names = new AuthorNames();
  #useHints: boolean;

  constructor(src: CommitSource, opts: { hints?: boolean } = {}) {
    this.#src = src;
    this.#useHints = opts.hints ?? true;
  }

  #hint(id: string): string | undefined {
    if (!this.#useHints || hints.size === 0) return undefined;
    const h = hints.get(id);
    const value = h && this.#src.signature(id);
    if (!h || value === undefined || value.slice(0, HINT_SIG_CHARS) !== h.sig || !this.#src.event(id)) return undefined;
    this.#oids.set(id, h.oid);
    this.#hinted.add(id);
    return h.oid;
  }

  /** Must be awaited once before the synchronous methods. */
  static ready(): Promise<unknown> {
    return initSha1();
  }

  /** The author name the commit of `id` carries (parents are named first). */
  nameFor(id: string): string | undefined {
    this.#order(id, false);
    return this.#names.get(id);
  }

  /**
   * The commit id of an event, or undefined when the event, its signature, or a signature in its past is
   * missing or malformed. Computes (and caches) every ancestor's commit id first.
   */
  oid(id: string): string | undefined {
    const known = this.#oids.get(id) ?? this.#hint(id);
    if (known) return known;
    this.#order(id, false); // author names first (a parent's may not be known when its id came from a hint)
    for (const x of this.#order(id, true)) {
      const ev = this.#src.event(x)!;
      const sig = decodeSig(this.#src.signature(x));
      const parentOids = ev.event.parents.map((p) => this.#oids.get(p));
      if (!sig || parentOids.some((p) => p === undefined)) continue;
      let c;
      try {
        c = buildEventCommit(
          { ev, parentOids: parentOids as string[], authorName: this.#names.get(x)! },
          sig,
          this.#tree(ev)
        );
      } catch {
        continue; // a damaged event (say an author that is not base64url) has no commit; verify reports it
      }
      this.#oids.set(x, c.commit.oid);
    }
    return this.#oids.get(id);
  }

  /**
   * The commit id of an event, checked when it came from a hint: its commit is rebuilt from the event, its
   * signature and its parents' ids and must hash to the hint. A wrong hint is dropped (with every other hint:
   * the file they came from is not to be trusted) and the id computed.
   */
  #checkedOid(id: string): string | undefined {
    const oid = this.oid(id);
    if (!oid || !this.#hinted.has(id)) return oid;
    const ev = this.#src.event(id)!;
    const sig = decodeSig(this.#src.signature(id));
    const parentOids = ev.event.parents.map((p) => this.oid(p));
    this.#order(id, false);
    const rebuilt =
      sig && !parentOids.includes(undefined)
        ? buildEventCommit(
            { ev, parentOids: parentOids as string[], authorName: this.#names.get(id)! },
            sig,
            this.#tree(ev)
          ).commit.oid
        : undefined;
    this.#hinted.delete(id);
    if (rebuilt === oid) return oid;
    commitHints.delete();
    for (const h of this.#hinted) this.#oids.delete(h);
    this.#hinted.clear();
    this.#oids.delete(id);
    return this.oid(id);
  }

  /** The full commit (blob, tree, commit objects) of an event, for writing the journal. */
  commit(id: string): EventCommit | undefined {
    const ev = this.#src.event(id);
    const sig = decodeSig(this.#src.signature(id));
    if (!ev || !sig) return undefined;
    const parentOids = ev.event.parents.map((p) => this.oid(p));
    if (parentOids.some((p) => p === undefined)) return undefined;
    this.#order(id, false);
    const c = buildEventCommit(
      { ev, parentOids: parentOids as string[], authorName: this.#names.get(id)! },
      sig,
      this.#tree(ev)
    );
    this.#oids.set(id, c.commit.oid);
    return c;
  }

  /**
   * Signs the commit of a new event (not yet in the source; its parents are). Returns the stored signature
   * value, or undefined when a parent has no commit (no signature in its past), so none can be built.
   */
  async sign(ev: LedgerEvent, signer: Signer, envelope?: Uint8Array): Promise<string | undefined> {
    await initSha1();
    if (signer.publicKey !== ev.event.author) throw new TypeError('only the author of an event signs its commit');
    const parentOids = ev.event.parents.map((p) => this.#checkedOid(p));
    if (parentOids.some((p) => p === undefined)) return undefined;
    for (const p of ev.event.parents) this.#order(p, false); // the author names of the past (hints skip them)
    const name = this.#names.add(ev);
    const input = { ev, parentOids: parentOids as string[], authorName: name };
    const tree = eventTree(ev, envelope);
    const sig = await signSshsig(signer, unsignedCommit(input, tree.tree.oid));
    // Its commit id now, while the tree is at hand: the next append names this event as its parent.
    this.#oids.set(ev.id, buildEventCommit(input, sig, tree).commit.oid);
    return encodeSig(sig);
  }

  /** Checks the stored signature of one event: present, well-formed, and an sshsig by the author over its commit. */
  async check(id: string): Promise<SigCheck> {
    await initSha1();
    const ev = this.#src.event(id);
    if (!ev)
      return {
        ok: false,
        code: 'invalid',
        message: `a journal signature for event ${id}, which the ledger does not hold`
      };
    const value = this.#src.signature(id);
    if (value === undefined)
      return { ok: false, code: 'missing', message: 'the event has no journal commit signature' };
    const sig = decodeSig(value);
    if (!sig) return { ok: false, code: 'invalid', message: 'the journal signature is not 64 bytes in base64url' };
    const parentOids: string[] = [];
    for (const p of ev.event.parents) {
      const o = this.#checkedOid(p);
      if (!o)
        return {
          ok: false,
          code: 'unbuildable',
          message: `its parent ${p} has no journal commit, so its commit cannot be built`
        };
      parentOids.push(o);
    }
    this.#order(id, false);
    let c;
    try {
      c = buildEventCommit({ ev, parentOids, authorName: this.#names.get(id)! }, sig, this.#tree(ev));
    } catch (e) {
      return { ok: false, code: 'invalid', message: `the event's commit cannot be built: ${(e as Error).message}` };
    }
    // The commit id is a function of the event and the signature value, as oid() computes it; cached now so
    // children checked next do not build this commit again (removed below if the signature fails).
    this.#oids.set(id, c.commit.oid);
    if (!(await verifySignature(ev.event.author, await sshsigSignedData(c.unsignedText), sig))) {
      this.#oids.delete(id);
      return {
        ok: false,
        code: 'invalid',
        message: "the journal signature does not verify over the event's commit with the author's key"
      };
    }
    return { ok: true, oid: c.commit.oid };
  }

  #tree(ev: LedgerEvent): ReturnType<typeof eventTree> {
    return eventTree(ev, this.#src.envelope?.(ev.id));
  }

  /** `ids` reordered parents first (among themselves), so that checking them in turn builds each commit once. */
  parentsFirst(ids: string[]): string[] {
    const want = new Set(ids);
    const out: string[] = [];
    const done = new Set<string>();
    for (const root of ids) {
      const stack: Array<[string, boolean]> = [[root, false]];
      while (stack.length) {
        const [x, expanded] = stack.pop()!;
        if (expanded) {
          out.push(x);
          continue;
        }
        if (done.has(x)) continue;
        done.add(x);
        stack.push([x, true]);
        for (const p of this.#src.event(x)?.event.parents ?? [])
          if (want.has(p) && !done.has(p)) stack.push([p, false]);
      }
    }
    return out;
  }

  /**
   * The events `id` needs, parents first, ending with `id`. With `skipCached`, those whose commit id is known
   * (cached or hinted) are left out and nothing else happens; without, those already named are left out and
   * the author names are fed in that order. Throws nothing: unknown events are left out.
   */
  #order(id: string, skipCached: boolean): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    const stack: Array<[string, boolean]> = [[id, false]];
    while (stack.length) {
      const [x, expanded] = stack.pop()!;
      if (expanded) {
        out.push(x);
        continue;
      }
      if (
        seen.has(x) ||
        (skipCached && (this.#oids.has(x) || this.#hint(x) !== undefined)) ||
        (!skipCached && this.#names.has(x))
      )
        continue;
      seen.add(x);
      const ev = this.#src.event(x);
      if (!ev) continue;
      stack.push([x, true]);
      for (const p of ev.event.parents) if (!seen.has(p)) stack.push([p, false]);
    }
    if (!skipCached) for (const x of out) this.#names.add(this.#src.event(x)!);
    return out;
  }
}

/** Checks in flight at once: commits are built on this thread while earlier signatures verify in the pool. */
const CHECK_WINDOW = 256;

/**
 * Checks the journal signatures of `ids` (ErrorCode problems for the missing and the invalid; "unbuildable"
 * when a parent has no commit, whose own problem is reported on it).
 */
export async function checkJournalSignatures(
  journal: JournalCommits,
  ids: string[]
): Promise<Map<string, 'ok' | 'unbuildable' | Problem>> {
  const results = new Map<string, SigCheck>();
  ids = journal.parentsFirst(ids);
  // A sliding window, not batches: the next commit is built while the oldest signatures still verify.
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let failed: { error: unknown } | undefined;
  const done: Array<Promise<void>> = [];
  for (const id of ids) {
    if (failed) break;
    inFlight++;
    done.push(
      journal
        .check(id)
        .then(
          (r) => void results.set(id, r),
          (error: unknown) => void (failed ??= { error })
        )
        .finally(() => {
          inFlight--;
          wake?.();
        })
    );
    while (inFlight >= CHECK_WINDOW) await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
  await Promise.all(done);
  if (failed) throw failed.error;
  const out = new Map<string, 'ok' | 'unbuildable' | Problem>();
  for (const id of ids) {
    const r = results.get(id)!;
    if (r.ok) out.set(id, 'ok');
    else if (r.code === 'unbuildable') out.set(id, 'unbuildable');
    else {
      const code = r.code === 'missing' ? ErrorCode.JOURNAL_SIGNATURE_MISSING : ErrorCode.JOURNAL_SIGNATURE_INVALID;
      out.set(id, {
        code,
        message: r.message,
        eventId: id,
        location: `event ${id}${r.code === 'missing' ? '' : SIG_SUFFIX}`
      });
    }
  }
  return out;
}

/**
 * Verify's journal check over stored entries: every event that is otherwise valid (not in `badIds`) has a
 * signature that verifies over its commit; every signature belongs to an event.
 *
 * `covered` (verify's default mode): the events a checked signed tree head of their author covers. Their journal
 * signatures were checked where their commits were built (signed by the author at append, verified at receive or
 * pull) and are not covered by the head: here they must be present and well-formed (64 bytes), and their Ed25519
 * check is left to `verify --full`. Their commits are built only as far as a later event's check needs them.
 */
export async function verifyJournalSignatures(
  entries: Array<[string, string]>,
  sigs: Map<string, string>,
  badIds: Set<string>,
  /** `parsed`: envelopes already parsed from these entries' JSON (verifyEntries), taken when the text is the same. */
  opts: { covered?: Covered; parsed?: ParsedEnvelopes } = {}
): Promise<Problem[]> {
  // Events are parsed when first needed: a covered one only if a later event's commit names its commit.
  const stored = new Map<string, string>();
  const parsed = new Map<string, LedgerEvent | null>();
  const formOnly = new Set<string>();
  for (const [id, json] of entries) {
    if (!isEventId(id) || badIds.has(id) || stored.has(id)) continue;
    stored.set(id, json);
    // Covered: these bytes are the head's leaf, and the head's signer is their author (the covering module
    // matched the canonical envelope's author; verifyEntries checks it again on the parsed event).
    if (opts.covered?.get(id)?.json === json) formOnly.add(id);
  }
  const eventOf = (id: string): LedgerEvent | undefined => {
    let ev = parsed.get(id);
    if (ev === undefined) {
      const json = stored.get(id);
      ev = null;
      if (json !== undefined) {
        try {
          const known = opts.parsed?.get(id);
          const env = known !== undefined && known.json === json ? known.envelope : JSON.parse(json);
          // Only an event with parents can have a commit built; anything else is reported by verifyEntries.
          if (env && typeof env.event === 'object' && env.event !== null && Array.isArray(env.event.parents))
            ev = { id: id as EventId, event: env.event, sig: env.sig };
        } catch {
          /* reported by verifyEntries */
        }
      }
      parsed.set(id, ev);
    }
    return ev ?? undefined;
  };
  for (const id of stored.keys()) if (!formOnly.has(id) && !eventOf(id)) stored.delete(id);
  const events = { has: (id: string) => stored.has(id), keys: () => stored.keys(), get: eventOf };
  // Blobs from the stored envelopes as they are: an envelope that is not canonical fails verifyEntries, and
  // its commit (built from other bytes than the author's) fails here too, which the caller leaves out.
  const journal = new JournalCommits(
    { event: eventOf, signature: (id) => sigs.get(id), envelope: (id) => stored.get(id) },
    { hints: false }
  );
  const problems: Problem[] = [];
  const results = await checkJournalSignatures(
    journal,
    [...events.keys()].filter((id) => !formOnly.has(id))
  );
  for (const id of formOnly) {
    const value = sigs.get(id);
    if (value === undefined)
      results.set(id, {
        code: ErrorCode.JOURNAL_SIGNATURE_MISSING,
        message: 'the event has no journal commit signature',
        eventId: id,
        location: `event ${id}`
      });
    else if (!isSigForm(value))
      results.set(id, {
        code: ErrorCode.JOURNAL_SIGNATURE_INVALID,
        message: 'the journal signature is not 64 bytes in base64url',
        eventId: id,
        location: `event ${id}${SIG_SUFFIX}`
      });
  }
  // A changed signature changes its commit id, so its descendants' commits no longer verify either: report
  // only the first (a descendant of a reported event is left out).
  const failed = (id: string) => {
    const r = results.get(id);
    return r !== undefined && r !== 'ok';
  };
  for (const [id, r] of results) {
    if (typeof r !== 'object') continue;
    if (r.code === ErrorCode.JOURNAL_SIGNATURE_INVALID && events.get(id)!.event.parents.some(failed)) continue;
    problems.push(r);
  }
  for (const id of sigs.keys()) {
    if (!events.has(id) && !badIds.has(id)) {
      problems.push({
        code: ErrorCode.JOURNAL_SIGNATURE_INVALID,
        message: `a journal signature for event ${id}, which the ledger does not hold`,
        eventId: id,
        location: `event ${id}${SIG_SUFFIX}`
      });
    }
  }
  return problems;
}
