/**
 * Sealed remotes (core/journal/sealed.ts): the journal a Git host holds as ciphertext. The local journal stays
 * the readable one (DIR/journal.git, its commit ids unchanged); the sealed commits are a function of it and of
 * the team keys, built when pushing (never stored locally: they are cheap to make again) and opened when pulling
 * or cloning, where every sealed commit is turned back into the event's readable commit and then checked exactly
 * as a readable pull checks it (fetch.ts).
 *
 * What a pull of a sealed remote checks on top: each sealed commit is rebuilt from what it opens to (the archive
 * key of its epoch, the event, the journal signature, the sealed commits of its parents) and must equal the
 * received one byte for byte, its epoch must be the one the event's history gives, and the pack may hold nothing
 * else. A device that holds no key for an epoch the remote holds is refused with SEALED_KEY_MISSING.
 */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { eventId, type EventId, type LedgerEvent } from '../../core/event.ts';
import { fromBase64url, fromUtf8 } from '../../core/bytes.ts';
import type { Ledger } from '../../core/ledger.ts';
import { topoOrder } from '../../core/roster.ts';
import { rebuildEventCommit } from '../../core/journal/commit.ts';
import { parseCommit, parseTree, type ParsedCommit } from '../../core/journal/objects.ts';
import { JournalCommits } from '../../core/journal/signatures.ts';
import {
  looksSealed,
  openBlob,
  parseSealedMessage,
  sealEvent,
  sealedBlobObject,
  sealedCommitOf,
  sealedSigned,
  sealedUnsigned,
  SealedEpochs,
  SEALED_FILE,
  type ArchiveKey,
  type SealedCommit
} from '../../core/journal/sealed.ts';
import { initSha1 } from '../../core/journal/objects.ts';
import { parseArmoredSshsig, verifySshsig } from '../../core/journal/sshsig.ts';
import type { GitJournal } from './journal.ts';
import type { ParsedPack, ParsedPackEntry } from './pack.ts';

/**
 * The sealed commits of a ledger's events, built parents first and kept for the journal's lifetime. Their ids
 * are also kept in `journal.git/sealed-commits` (a cache: the events' sealed commit ids under one set of keys), so
 * a later push seals only what is new; the commits a push sends are built again and must match it.
 */
export class SealedState {
  readonly keys: readonly ArchiveKey[];
  readonly epochs: SealedEpochs;
  /** The sealed commits built here, by event. */
  readonly byEvent = new Map<string, SealedCommit>();
  /** The sealed commit id of every event sealed here or found in the cache. */
  readonly oids = new Map<string, string>();
  readonly byOid = new Map<string, string>();
  /** Cache entries not yet confirmed (read from the file, not built here). */
  #cached = new Map<string, string>();
  /**
   * Sealed commit ids a remote holds for events this device holds but cannot seal (their epoch's key is not here:
   * a member who joined after a rotation). Taken as the remote has them, so that new events can name them.
   */
  #learned = new Map<string, string>();

  learn(id: string, oid: string): void {
    this.#learned.set(id, oid);
    this.byOid.set(oid, id);
    this.unsealable.clear(); // looked at again by the next update: this one, and what it blocked, may now be sealed
  }

  /** The sealed commit id of an event: sealed here, cached, or taken from a remote (learn). */
  oidOf(id: string): string | undefined {
    return this.oids.get(id) ?? this.#learned.get(id);
  }
  #changed = false;
  /** Every object id of the sealed commits (commit, tree, blob). */
  readonly objects = new Set<string>();
  /** Events this device cannot seal, with the reason (a missing key, a missing journal signature, a parent). */
  readonly unsealable = new Map<string, string>();

  constructor(keys: readonly ArchiveKey[]) {
    this.keys = keys;
    this.epochs = new SealedEpochs(keys);
  }

  add(id: string, c: SealedCommit): void {
    this.byEvent.set(id, c);
    this.#setOid(id, c.commit.oid);
    for (const o of [c.commit, c.tree, c.blob]) this.objects.add(o.oid);
  }

  #setOid(id: string, oid: string): void {
    if (this.oids.get(id) !== oid) this.#changed = true;
    this.oids.set(id, oid);
    this.byOid.set(oid, id);
  }

  /** The keys as the cache file names them: each epoch, its archive key and its covers. */
  static keySet(keys: readonly ArchiveKey[]): string {
    return JSON.stringify(
      [...keys].sort((x, y) => x.epoch - y.epoch).map((k) => [k.epoch, k.signer.publicKey, [...k.covers].sort()])
    );
  }

  /** Takes the cache file's ids (only when it was written under the same keys). */
  useCache(text: string): void {
    const lines = text.split('\n');
    if (lines[0] !== `${CACHE_HEADER} ${SealedState.keySet(this.keys)}`) return;
    for (const l of lines.slice(1)) {
      const m = /^([0-9a-f]{64}) ([0-9a-f]{40})$/.exec(l);
      if (m) this.#cached.set(m[1], m[2]);
    }
  }

  cacheText(): string | undefined {
    if (!this.#changed) return undefined;
    this.#changed = false;
    return (
      [`${CACHE_HEADER} ${SealedState.keySet(this.keys)}`, ...[...this.oids].map(([id, oid]) => `${id} ${oid}`)].join(
        '\n'
      ) + '\n'
    );
  }

  /** The objects of an event's sealed commit (built now when only its id was cached; it must be that id). */
  async commit(ledger: Ledger, id: string): Promise<SealedCommit> {
    const built = this.byEvent.get(id);
    if (built) return built;
    const ev = ledger.get(id);
    const sig = ledger.journalSignature(id);
    const k = this.epochs.keyFor(id);
    if (!ev || !sig || 'error' in k)
      throw new LedgerError(
        ErrorCode.SEALED_KEY_MISSING,
        `cannot seal the journal: ${this.unsealable.get(id) ?? ('error' in k ? k.error : `event ${id} is not sealed`)}`
      );
    const parents = ev.event.parents.map((q) => this.oids.get(q) ?? '');
    const c = await sealEvent(k.key, ev, fromBase64url(sig), parents, ledgerEnvelope(ledger, ev));
    if (c.commit.oid !== this.oids.get(id)) {
      throw new LedgerError(
        ErrorCode.JOURNAL_MISMATCH,
        `the sealed commit of event ${id} is ${c.commit.oid}, not ${this.oids.get(id)} as journal.git/${SEALED_CACHE} says: remove that file and push again`
      );
    }
    this.add(id, c);
    return c;
  }

  /** Seals every ledger event not sealed yet (the blobs in parallel batches, then the commits parents first). */
  async update(ledger: Ledger): Promise<void> {
    const all = new Map(ledger.events().map((e) => [e.id, e]));
    let order = topoOrder(all).filter((id) => !this.oids.has(id) && !this.unsealable.has(id));
    // Events whose id the cache holds (and whose parents are sealed): taken as they are, without sealing.
    const rest: EventId[] = [];
    for (const id of order) {
      const ev = all.get(id)!;
      this.epochs.add(ev);
      const cached = this.#cached.get(id);
      if (cached && ev.event.parents.every((p) => this.oids.has(p))) this.#setOid(id, cached);
      else rest.push(id);
    }
    this.#cached.clear();
    order = rest;
    const BATCH = 512;
    // Batches of blobs are sealed (in parallel) while the previous batch's commits are signed (in order).
    const plan = (i: number) => {
      const batch = order.slice(i, i + BATCH).map((id) => all.get(id)!);
      const plans = batch.map((ev) => {
        this.epochs.add(ev);
        const blocked = ev.event.parents.find((p) => this.unsealable.has(p));
        if (blocked) return { ev, error: this.unsealable.get(blocked)! };
        const sig = ledger.journalSignature(ev.id);
        if (!sig) return { ev, error: `event ${ev.id} has no journal signature (journal repair)` };
        const k = this.epochs.keyFor(ev.id);
        if ('error' in k) return { ev, error: k.error, learned: this.#learned.get(ev.id) };
        return { ev, key: k.key, sig: fromBase64url(sig) };
      });
      const blobs = Promise.all(
        plans.map((p) => (p.key ? sealedBlobObject(p.key, p.ev, p.sig!, ledgerEnvelope(ledger, p.ev)) : undefined))
      );
      blobs.catch(() => undefined); // awaited below; a batch left behind by a failure must not be an unhandled rejection
      return { plans, blobs };
    };
    let next = order.length ? plan(0) : undefined;
    for (let i = 0; i < order.length; i += BATCH) {
      const { plans, blobs: pending } = next!;
      const blobs = await pending;
      next = i + BATCH < order.length ? plan(i + BATCH) : undefined;
      for (let j = 0; j < plans.length; j++) {
        const p = plans[j];
        const blocked = p.ev.event.parents.find((q) => this.unsealable.has(q));
        if (!p.key && 'learned' in p && p.learned && !blocked) {
          this.#setOid(p.ev.id, p.learned);
          continue;
        }
        if (!p.key || blocked) {
          this.unsealable.set(p.ev.id, p.error ?? this.unsealable.get(blocked!)!);
          continue;
        }
        const parents = p.ev.event.parents.map((q) => this.oids.get(q) ?? '');
        this.add(p.ev.id, await sealedCommitOf(p.key, p.ev, blobs[j]!, parents));
      }
    }
  }
}

/** The envelope bytes as the ledger stores them (what the readable blob holds too). */
const ledgerEnvelope = (ledger: Ledger, ev: LedgerEvent): Uint8Array | undefined => {
  const json = ledger.envelopeJson(ev.id);
  return json === undefined ? undefined : new TextEncoder().encode(json);
};

const states = new WeakMap<GitJournal, SealedState>();
const SEALED_CACHE = 'sealed-commits';
const CACHE_HEADER = 'provenance-ledger sealed-commits v1';

/** The journal's sealed state under these keys, brought up to date with its ledger (and its cache file). */
export async function sealedState(journal: GitJournal, keys: readonly ArchiveKey[]): Promise<SealedState> {
  let s = states.get(journal);
  const file = `${journal.binding.gitdir}/${SEALED_CACHE}`;
  const fs = journal.binding.fs.promises;
  if (!s || SealedState.keySet(s.keys) !== SealedState.keySet(keys)) {
    states.set(journal, (s = new SealedState(keys)));
    const text = await fs.readFile(file).then(
      (b: string | Uint8Array) => (typeof b === 'string' ? b : new TextDecoder().decode(b)),
      () => ''
    );
    s.useCache(text);
  }
  await s.update(journal.ledger);
  const out = s.cacheText();
  // A cache: written whole; one cut short loses only the lines it lacks (they are sealed again).
  if (out) await fs.writeFile(file, new TextEncoder().encode(out)).catch(() => undefined);
  return s;
}

/** What fetch.ts asks of a sealed remote. */
export interface SealedFetch {
  /** The event of a sealed commit this device holds (its sealed form). */
  eventOf(oid: string): string | undefined;
  /** Sealed commits to offer as haves. */
  haves(): string[];
  /**
   * Opens the sealed commits of a fetched pack: the readable commits they stand for (as a pack of their objects,
   * every one checked) and the remote's refs as readable commit ids. Throws a LedgerError on any refusal.
   */
  translate(
    url: string,
    remote: Map<string, string>,
    parsed: ParsedPack | undefined,
    journal: GitJournal | undefined
  ): Promise<{ remote: Map<string, string>; parsed: ParsedPack }>;
}

/** The sealed side of a fetch for `journal` (undefined for a clone) under `keys`. */
export async function sealedFetch(journal: GitJournal | undefined, keys: readonly ArchiveKey[]): Promise<SealedFetch> {
  const state = journal ? await sealedState(journal, keys) : new SealedState(keys);
  return {
    eventOf: (oid) => state.byOid.get(oid),
    haves: () => {
      if (!journal) return [];
      const ids = [
        ...journal.ledger.heads(),
        ...journal.ledger
          .events()
          .slice(-64)
          .map((e) => e.id)
          .reverse()
      ];
      return ids.map((id) => state.oids.get(id)).filter((o): o is string => !!o);
    },
    translate: (url, remote, parsed, j) => translate(url, remote, parsed, j?.ledger, state)
  };
}

interface Arriving {
  oid: string;
  commit: ParsedCommit;
  id: EventId;
  epoch: number;
  blob: { oid: string; content: Uint8Array };
  tree: string;
  signature: Uint8Array;
  envelope: Uint8Array;
  ev?: LedgerEvent;
}

function parseTreeOrUndefined(content: Uint8Array) {
  try {
    return parseTree(content);
  } catch {
    return undefined;
  }
}

async function translate(
  url: string,
  remote: Map<string, string>,
  parsed: ParsedPack | undefined,
  ledger: Ledger | undefined,
  state: SealedState
): Promise<{ remote: Map<string, string>; parsed: ParsedPack }> {
  await initSha1();
  const refuse = (oid: string, why: string) =>
    new LedgerError(ErrorCode.COMMIT_REFUSED, `${url}: sealed commit ${oid} is refused: ${why}; nothing was accepted`, {
      detail: { commit: oid }
    });
  const byEpoch = new Map(state.keys.map((k) => [k.epoch, k]));
  const held = state.keys.map((k) => k.epoch).join(', ') || 'none';
  const arriving = new Map<string, Arriving>();
  const stack = [...remote.values()].filter((o) => !state.byOid.has(o));
  const walked: Array<Omit<Arriving, 'signature' | 'envelope'> & { key: ArchiveKey }> = [];
  const heldUnopened = new Set<string>();
  const seen = new Set<string>();
  while (stack.length) {
    const oid = stack.pop()!;
    if (seen.has(oid) || state.byOid.has(oid)) continue;
    seen.add(oid);
    const raw = parsed?.objects.get(oid);
    if (!raw) throw refuse(oid, 'the remote did not send it');
    if (raw.type !== 'commit') throw refuse(oid, `it is a ${raw.type}, not a commit`);
    let commit: ParsedCommit;
    try {
      commit = parseCommit(raw.content);
    } catch (e) {
      throw refuse(oid, (e as Error).message);
    }
    const named = looksSealed(commit) ? parseSealedMessage(commit.message) : undefined;
    if (!named) throw refuse(oid, 'it is not a sealed journal commit (a readable commit in a sealed journal)');
    const key = byEpoch.get(named.epoch);
    if (!key && ledger?.get(named.id)) {
      // An event this device holds, of an epoch before it joined: nothing to open; the remote's commit id is taken
      // so that new events can name it, and its tree and blob are accounted for.
      const t = parsed?.objects.get(commit.tree);
      const e = t?.type === 'tree' ? parseTreeOrUndefined(t.content) : undefined;
      if (!e || e.length !== 1 || e[0].name !== SEALED_FILE)
        throw refuse(oid, `its tree must hold exactly ${SEALED_FILE}`);
      state.learn(named.id, oid);
      heldUnopened.add(oid).add(commit.tree).add(e[0].oid);
      for (const p of commit.parents) if (!state.byOid.has(p) && !seen.has(p)) stack.push(p);
      continue;
    }
    if (!key) {
      throw new LedgerError(
        ErrorCode.SEALED_KEY_MISSING,
        `${url} holds events sealed under team key epoch ${named.epoch}, and this device holds no key for that epoch (it holds: ${held}): restore a key backup made after that epoch, or join the team again; nothing was accepted`,
        { detail: { commit: oid, epoch: named.epoch } }
      );
    }
    const tree = parsed?.objects.get(commit.tree);
    if (!tree || tree.type !== 'tree') throw refuse(oid, 'its tree is missing or not a tree');
    let entries;
    try {
      entries = parseTree(tree.content);
    } catch (e) {
      throw refuse(oid, (e as Error).message);
    }
    if (entries.length !== 1 || entries[0].name !== SEALED_FILE || entries[0].mode !== '100644')
      throw refuse(oid, `its tree must hold exactly ${SEALED_FILE}`);
    const blob = parsed?.objects.get(entries[0].oid);
    if (!blob || blob.type !== 'blob') throw refuse(oid, `${SEALED_FILE} is missing or not a blob`);
    walked.push({
      oid,
      commit,
      id: named.id,
      epoch: named.epoch,
      key,
      blob: { oid: blob.oid, content: blob.content },
      tree: tree.oid
    });
    for (const p of commit.parents) if (!state.byOid.has(p) && !seen.has(p)) stack.push(p);
  }

  // The blobs opened and the events read from them, in parallel batches: each must be the event its message names.
  const BATCH = 512;
  for (let i = 0; i < walked.length; i += BATCH) {
    const batch = walked.slice(i, i + BATCH);
    const opened = await Promise.all(batch.map((w) => openBlob(w.key, w.id, w.blob.content)));
    const ids = await Promise.all(
      opened.map(async (o) => {
        try {
          const env = o && JSON.parse(fromUtf8(o.envelope));
          if (typeof env?.event !== 'object' || env.event === null || !Array.isArray(env.event.parents))
            return { env, error: 'not an event envelope' };
          return { env, id: await eventId(env.event) };
        } catch (e) {
          return { error: (e as Error).message };
        }
      })
    );
    batch.forEach((w, j) => {
      const o = opened[j];
      if (!o) throw refuse(w.oid, `it does not open under the archive key of epoch ${w.epoch} for event ${w.id}`);
      const r = ids[j];
      if (r.id !== w.id)
        throw refuse(w.oid, `what it seals is not its event: ${r.error ?? `it holds another event than ${w.id}`}`);
      const { key: _key, ...rest } = w;
      arriving.set(w.oid, { ...rest, ...o, ev: { id: w.id, event: r.env.event, sig: r.env.sig } });
    });
  }
  const byId = new Map<EventId, Arriving>();
  for (const a of arriving.values()) {
    if (byId.has(a.id)) throw refuse(a.oid, `a second commit for event ${a.id}`);
    byId.set(a.id, a);
  }
  const incoming = new Map<EventId, LedgerEvent>([...byId].map(([id, a]) => [id, a.ev!]));
  const names = new JournalCommits(
    { event: (id) => ledger?.get(id) ?? incoming.get(id as EventId), signature: () => undefined },
    { hints: false }
  );
  const sealedOf = (id: string) => state.oidOf(id) ?? byId.get(id as EventId)?.oid;
  const plainOf = new Map<string, string>();
  const objects = new Map<string, ParsedPackEntry>();
  const put = (o: { oid: string; type: 'blob' | 'tree' | 'commit'; content: Uint8Array }) =>
    objects.set(o.oid, { oid: o.oid, type: o.type, content: o.content, offset: 0, crc: 0 });
  const toVerify: Array<{ oid: string; armored: string; unsigned: Uint8Array; key: string }> = [];
  for (const id of topoOrder(incoming)) {
    const a = byId.get(id)!;
    const ev = a.ev!;
    state.epochs.add(ev);
    const k = state.epochs.keyFor(id);
    if ('error' in k) throw refuse(a.oid, k.error);
    if (k.key.epoch !== a.epoch)
      throw refuse(
        a.oid,
        `it is sealed under epoch ${a.epoch}, but its event's history places it in epoch ${k.key.epoch}`
      );
    const parents = ev.event.parents.map((p) => sealedOf(p));
    const missing = ev.event.parents.find((_, i) => !parents[i]);
    if (missing) throw refuse(a.oid, `its event names parent ${missing}, which neither we nor the remote hold sealed`);
    // The commit its event determines, with the signature it carries (checked below): byte for byte the one received.
    const { unsigned } = sealedUnsigned(k.key, ev, a.blob.oid, parents as string[]);
    let sig;
    try {
      sig = parseArmoredSshsig(a.commit.gpgsig ?? '');
    } catch (e) {
      throw refuse(a.oid, `its signature is malformed: ${(e as Error).message}`);
    }
    if (sig.publicKey !== k.key.signer.publicKey)
      throw refuse(a.oid, `it is not signed by the archive key of epoch ${k.key.epoch}`);
    const rebuilt = sealedSigned(k.key, unsigned, sig.signature);
    if (rebuilt.oid !== a.oid)
      throw refuse(a.oid, `it differs from the sealed commit its event ${id} determines (${rebuilt.oid}): tampered`);
    toVerify.push({ oid: a.oid, armored: a.commit.gpgsig!, unsigned, key: k.key.signer.publicKey });
    if (ledger?.get(id)) continue; // held: its readable commit is ours
    let plain;
    try {
      const parentOids = ev.event.parents.map((p) => ledger?.commitOf(p) ?? plainOf.get(p) ?? '');
      plain = await rebuildEventCommit(
        { ev, parentOids, authorName: names.nameFor(id) ?? '' },
        a.signature,
        a.envelope
      );
    } catch (e) {
      throw refuse(a.oid, `its event cannot be made into a commit: ${(e as Error).message}`);
    }
    plainOf.set(id, plain.commit.oid);
    put(plain.blob);
    put(plain.tree);
    put(plain.commit);
  }
  for (let i = 0; i < toVerify.length; i += BATCH) {
    const batch = toVerify.slice(i, i + BATCH);
    const ok = await Promise.all(batch.map((v) => verifySshsig(v.armored, v.unsigned, v.key)));
    const bad = ok.indexOf(false);
    if (bad >= 0) throw refuse(batch[bad].oid, 'its signature does not verify against the archive key');
  }

  // Nothing in the pack but the sealed commits walked here (or ones this device builds itself).
  const checked = new Set<string>();
  for (const a of arriving.values()) {
    checked.add(a.oid);
    checked.add(a.tree);
    checked.add(a.blob.oid);
  }
  for (const oid of parsed?.objects.keys() ?? []) {
    if (!checked.has(oid) && !state.objects.has(oid) && !heldUnopened.has(oid))
      throw new LedgerError(
        ErrorCode.COMMIT_REFUSED,
        `${url} sent object ${oid}, which no checked commit contains; nothing was accepted`
      );
  }

  const readable = new Map<string, string>();
  for (const [ref, oid] of remote) {
    const id = state.byOid.get(oid) ?? arriving.get(oid)?.id;
    const plain = id && (ledger?.commitOf(id) ?? plainOf.get(id));
    if (!plain) throw refuse(oid, 'its event has no readable commit here');
    readable.set(ref, plain);
  }
  return { remote: readable, parsed: { entries: [...objects.values()], objects, sha: '' } };
}

export interface SealedPushResult {
  /** The readable commit of the event main points at, and the concurrent heads (event ids). */
  main?: string;
  concurrent: string[];
  received: number;
  pushed: boolean;
  /** Sealed commits new to the remote. */
  sent: number;
  /** The sealed commit the remote's main now names. */
  sealedMain?: string;
}

/**
 * Pushes the sealed journal: pulls (sealed) first, then main (fast-forward only) and the concurrent refs as sealed
 * commits; never forced; retries when the remote moved. Refuses a remote that holds a readable journal.
 */
export async function pushSealed(
  journal: GitJournal,
  url: string,
  keys: readonly ArchiveKey[],
  attempts = 3
): Promise<SealedPushResult> {
  const { fetchAndAccept } = await import('./fetch.ts');
  const { sendPack } = await import('./send-pack.ts');
  const { setTracking } = await import('./quarantine.ts');
  const { remoteName } = await import('./remote-auth.ts');
  if (keys.length === 0)
    throw new LedgerError(ErrorCode.SEALED_KEY_MISSING, 'this device holds no team key to seal the journal with');
  const name = await remoteName(url);
  let received = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await journal.catchUp();
    const pulled = await fetchAndAccept(journal.binding, url, async () => journal, await sealedFetch(journal, keys));
    if (pulled.kind === 'plain') {
      throw new LedgerError(
        ErrorCode.REMOTE_REJECTED,
        `${url} holds a readable (unsealed) journal: push --plain to keep adding to it, or push to a new remote to seal`
      );
    }
    received += pulled.received;
    const state = await sealedState(journal, keys);
    const refs = await journal.updateRefs(pulled.readable.get('main'));
    const sealedOf = (oid: string | undefined): string => {
      const id = oid && journal.eventOf(oid);
      const c = id ? state.oids.get(id) : undefined;
      if (!c)
        throw new LedgerError(
          ErrorCode.SEALED_KEY_MISSING,
          `cannot seal the journal: ${(id && state.unsealable.get(id)) ?? `commit ${oid} has no event`}`
        );
      return c;
    };
    const wanted = new Map<string, string>();
    const readable = new Map<string, string>();
    if (refs.main) {
      wanted.set('main', sealedOf(refs.main));
      readable.set('main', refs.main);
    }
    for (const id of refs.concurrent) {
      wanted.set(`concurrent/${id}`, sealedOf(journal.commitOf(id)));
      readable.set(`concurrent/${id}`, journal.commitOf(id)!);
    }
    const updates = [...wanted].map(([r, oid]) => ({ ref: `refs/heads/${r}`, oid })) as Array<{
      ref: string;
      oid?: string;
    }>;
    for (const r of pulled.remote.keys())
      if (!wanted.has(r) && r.startsWith('concurrent/')) updates.push({ ref: `refs/heads/${r}` });
    const expected = new Map([...pulled.remote].map(([r, oid]) => [`refs/heads/${r}`, oid]));
    let refused: string[];
    let sent = 0;
    try {
      ({ refused, sent } = await sendPack(journal, url, expected, updates, {
        eventOf: (oid) => state.byOid.get(oid),
        pack: { deltas: false },
        objects: async (id) => {
          const c = await state.commit(journal.ledger, id);
          return [c.commit, c.tree, c.blob];
        }
      }));
    } catch (e) {
      const reset = (e as { cause?: { code?: string } }).cause?.code === 'ECONNRESET';
      if (!reset || attempt === attempts) throw e;
      refused = ['(connection reset)'];
    }
    if (refused.length === 0) {
      await setTracking(journal.binding, name, readable);
      await journal
        .recordRemote('push', { url, main: refs.main, count: journal.size, sealed: true })
        .catch(() => undefined);
      return {
        main: refs.main,
        concurrent: refs.concurrent,
        received,
        pushed: true,
        sent,
        sealedMain: wanted.get('main')
      };
    }
  }
  throw new LedgerError(
    ErrorCode.REMOTE_REJECTED,
    `${url} kept moving while we pushed (${attempts} attempts): pull and push again`
  );
}
