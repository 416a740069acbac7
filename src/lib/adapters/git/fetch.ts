/**
 * Pull (and the fetch half of clone) over Git's smart HTTP protocol (upload-pack, protocol v0, no side-band),
 * with the journal's own client and pack reader (pack.ts): GET info/refs (smart-http.ts), then POST
 * git-upload-pack with wants and haves; the reply is NAK or ACKs, then the pack.
 *
 * The pack stays in memory (the quarantine) until every new commit in it is accepted; a refusal changes
 * nothing local. Objects are named by the SHA-1 of their content, never by what the remote says.
 *
 * Checks before anything is stored. Pull: core/journal/check.ts checks every new commit, then Ledger.receive
 * checks the events again. Clone (into a new ledger its caller removes on failure): Ledger.receive checks every
 * event, signature and membership; this module checks each commit rebuilt from its event and signature, one
 * genesis root and nothing unchecked in the pack.
 */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { checkIncoming, type IncomingCommit, type IncomingResult } from '../../core/journal/check.ts';
import { parseCommit, parseTree } from '../../core/journal/objects.ts';
import { EVENT_FILE } from '../../core/journal/commit.ts';
import { encodeSig, sigKey } from '../../core/journal/signatures.ts';
import type { GitBinding } from './binding.ts';
import { parsePack, PackError, type ParsedPack } from './pack.ts';
import type { GitJournal } from './journal.ts';
import { remoteName } from './remote-auth.ts';
import { dropOldQuarantine, setTracking, storePack } from './quarantine.ts';
import { listRefs } from './refs.ts';
import { advertisedRefs, exchange, FLUSH, pkt, type ExchangeState } from './smart-http.ts';
import { ObjectReader } from './store-read.ts';
import type { SealedFetch } from './sealed.ts';
import { looksSealed } from '../../core/journal/sealed.ts';

export interface PullResult {
  /** Events accepted into the ledger. */
  received: number;
  /** The remote's refs (name -> commit) after the pull. */
  remote: Map<string, string>;
  /** What the remote holds: a sealed journal (sealed.ts), a readable one, or nothing yet. */
  kind: 'sealed' | 'plain' | 'empty';
  /** The remote's refs as readable commit ids (the same as `remote` for a readable journal). */
  readable: Map<string, string>;
}

/** Fetches from `url` and accepts what is new, or refuses it all. */
export async function pull(journal: GitJournal, url: string, sealed?: SealedFetch): Promise<PullResult> {
  const r = await fetchAndAccept(journal.binding, url, async () => journal, sealed);
  await journal
    .recordRemote('pull', {
      url,
      main: r.remote.get('main'),
      count: r.received,
      ...(r.kind === 'empty' ? {} : { sealed: r.kind === 'sealed' })
    })
    .catch(() => undefined);
  return r;
}

/** Haves for the negotiation: what we last saw of this remote, the ledger's heads, and its latest events. */
async function haves(journal: GitJournal | undefined, name: string): Promise<string[]> {
  if (!journal) return [];
  const out = new Set<string>((await listRefs(journal.binding, `refs/remotes/${name}`)).values());
  const events = journal.ledger.events();
  for (const id of [
    ...journal.ledger.heads(),
    ...events
      .slice(-64)
      .map((e) => e.id)
      .reverse()
  ]) {
    const oid = journal.commitOf(id);
    if (oid) out.add(oid);
  }
  return [...out].filter((o) => journal.eventOf(o) !== undefined).slice(0, 256);
}

/** One upload-pack exchange: the pack holding `wants` and what they need beyond `haves`. */
async function uploadPack(
  binding: GitBinding,
  url: string,
  wants: string[],
  have: string[],
  caps: Set<string>,
  state: ExchangeState
): Promise<Uint8Array> {
  const asked = ['ofs-delta', 'no-progress'].filter((c) => caps.has(c));
  const lines = [
    pkt(`want ${wants[0]} ${[...asked, 'agent=provenance-ledger'].join(' ')}\n`),
    ...wants.slice(1).map((w) => pkt(`want ${w}\n`)),
    FLUSH,
    ...have.map((h) => pkt(`have ${h}\n`)),
    pkt('done\n')
  ];
  const body = new Uint8Array(lines.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of lines) {
    body.set(l, at);
    at += l.length;
  }
  const res = await exchange(
    binding,
    url,
    {
      method: 'POST',
      path: '/git-upload-pack',
      headers: {
        'content-type': 'application/x-git-upload-pack-request',
        accept: 'application/x-git-upload-pack-result'
      },
      body
    },
    state
  );
  const dec = new TextDecoder();
  let i = 0;
  while (i + 4 <= res.length) {
    if (res[i] === 0x50 && res[i + 1] === 0x41 && res[i + 2] === 0x43 && res[i + 3] === 0x4b) return res.subarray(i);
    const n = parseInt(dec.decode(res.subarray(i, i + 4)), 16);
    if (!/^[0-9a-f]{4}$/.test(dec.decode(res.subarray(i, i + 4))) || (n > 0 && n < 4) || i + n > res.length) {
      throw new LedgerError(
        ErrorCode.COMMIT_REFUSED,
        `${url} sent a damaged answer: neither an acknowledgement nor a pack at byte ${i} (the pack's signature is damaged, or it is not Git); nothing was accepted`
      );
    }
    if (n === 0) {
      i += 4;
      continue;
    }
    const line = dec.decode(res.subarray(i + 4, i + n)).trim();
    i += n;
    if (line.startsWith('ERR '))
      throw new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `${url} refused the fetch: ${line.slice(4)}`);
  }
  throw new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `${url} answered the fetch without a pack`);
}

/**
 * Fetches from `url` and accepts what is new, or refuses it all. `open()` gives the journal to fetch into; for a
 * clone it throws NeedGenesis until it is called with the remote's verified genesis entry, which founds the
 * ledger (see clone.ts). `batch`: events per Ledger.receive of a clone (CLONE_BATCH).
 */
export async function fetchAndAccept(
  binding: GitBinding,
  url: string,
  open: (genesis?: { id: string; json: string }) => Promise<GitJournal>,
  sealed?: SealedFetch,
  opts: { batch?: number } = {}
): Promise<PullResult> {
  const state: ExchangeState = {};
  const { refs, caps } = await advertisedRefs(binding, url, 'git-upload-pack', state);
  let remote = new Map<string, string>();
  for (const [ref, oid] of refs) {
    const m = /^refs\/heads\/(main|concurrent\/[0-9a-f]{64})$/.exec(ref);
    if (m) remote.set(m[1], oid); // other branches are not ours to read
  }
  if (refs.size > 0 && !remote.has('main')) {
    throw new LedgerError(ErrorCode.REMOTE_DIVERGED, `${url} has no refs/heads/main: it is not a ledger journal`);
  }
  let journal: GitJournal | undefined;
  try {
    journal = await open();
  } catch (e) {
    if (!(e instanceof NeedGenesis)) throw e;
  }
  const name = await remoteName(url);
  const known = (oid: string) => journal?.eventOf(oid) !== undefined || sealed?.eventOf(oid) !== undefined;
  const wants = [...new Set(remote.values())].filter((o) => !known(o));
  let packBytes: Uint8Array | undefined;
  let parsed: ParsedPack | undefined;
  if (wants.length) {
    const offered = [...(sealed?.haves() ?? []), ...(await haves(journal, name))].slice(0, 256);
    packBytes = await uploadPack(binding, url, wants, offered, caps, state);
    try {
      parsed = await parsePack(packBytes, { zlib: binding.zlib });
    } catch (e) {
      const where =
        e instanceof PackError && e.offset !== undefined ? ` (the object at byte ${e.offset} of the pack)` : '';
      throw new LedgerError(
        ErrorCode.COMMIT_REFUSED,
        `${url} sent a damaged pack${where}: ${(e as Error).message}; nothing was accepted`,
        { cause: e }
      );
    }
  }
  if (remote.size === 0) {
    if (journal) await journal.updateRefs();
    return { received: 0, remote, kind: 'empty', readable: remote };
  }
  // A sealed journal (sealed.ts) is opened into the readable commits it stands for, which are checked below as any.
  const main = remote.get('main')!;
  const mainObject = parsed?.objects.get(main);
  const isSealed =
    sealed?.eventOf(main) !== undefined ||
    (!journal?.eventOf(main) && mainObject?.type === 'commit' && sealedShape(mainObject.content));
  const actual = remote;
  if (isSealed) {
    if (!sealed) {
      throw new LedgerError(
        ErrorCode.SEALED_KEY_MISSING,
        `${url} holds a sealed journal: it is read and written with the team keys (push without --plain; pull and clone with the keys); nothing was accepted`
      );
    }
    ({ remote, parsed } = await sealed.translate(url, remote, parsed, journal));
  }
  const cloning = !journal;
  const checked = await collectAndCheck(binding, url, name, remote, parsed, journal, open);
  journal = checked.journal;
  journal.forgetIncoming();
  const result = { accepted: checked.accepted };
  // What was checked no longer needs its objects' contents in memory: the pack is stored from its bytes.
  if (parsed && !isSealed) for (const e of parsed.entries) e.content = EMPTY;
  journal.expect(result.accepted.map((c) => ({ eventId: c.eventId, oid: c.oid })));
  // Each event with its journal signature (<id>.git): the ledger checks them (see the file comment) and stores both.
  // A clone receives in batches, parents first: one Automerge change and one stored chunk per batch keeps memory
  // bounded. A refusal in any batch fails the clone, whose caller removes the new ledger (clone.ts), so it is still
  // all or nothing. A pull receives everything at once: its ledger existed before, and a refusal stores nothing.
  const step = cloning ? Math.max(1, opts.batch ?? CLONE_BATCH) : Math.max(1, result.accepted.length);
  const accepted: string[] = [];
  let problems: import('../../core/verify.ts').Problem[] = [];
  for (let i = 0; i < result.accepted.length && !problems.length; i += step) {
    const r = await journal.ledger.receive(
      result.accepted.slice(i, i + step).flatMap((c): Array<[string, string]> => [
        [c.eventId, c.json],
        [sigKey(c.eventId), encodeSig(c.signature)]
      ]),
      { allOrNothing: true }
    );
    for (const id of r.accepted) accepted.push(id);
    problems = r.problems;
  }
  // Only now, after the ledger's checks, does the pack leave memory: it holds the accepted events' commits (which
  // the journal, told to expect them, did not write again).
  // A sealed pack is not kept: the readable commits it stood for (rebuilt and checked) are stored as a pack instead.
  const keep = accepted.length > 0 && problems.length === 0;
  if (parsed && packBytes && keep && !isSealed) await storePack(binding, packBytes, parsed);
  if (parsed && keep && isSealed) await storeObjects(binding, parsed.entries);
  await journal.settled();
  await journal.catchUp(); // commits of events the ledger already held (a clone's genesis)
  if (problems.length) {
    const p = problems[0];
    const commit = result.accepted.find((c) => c.eventId === p.eventId)?.oid;
    throw new LedgerError(
      ErrorCode.COMMIT_REFUSED,
      `${url}: commit ${commit ?? '?'} is refused: its event ${p.eventId ?? ''} is not accepted: [${p.code}] ${p.message}; nothing was accepted`,
      { detail: { commit, problems } }
    );
  }
  // Accepted: the remote's refs become our record of it; local refs follow the ledger's heads.
  await setTracking(binding, name, remote);
  await dropOldQuarantine(binding);
  await journal.updateRefs(remote.get('main'));
  return { received: accepted.length, remote: actual, kind: isSealed ? 'sealed' : 'plain', readable: remote };
}

/** Objects as one pack with its index (the pack first: readers go by the index). */
async function storeObjects(binding: GitBinding, objects: ParsedPack['entries']): Promise<void> {
  const { buildPack } = await import('./pack.ts');
  const { webZlib } = await import('./objects.ts');
  const { mkdirs } = await import('./refs.ts');
  const { pack, idx, sha } = await buildPack(
    objects as Array<import('../../core/journal/objects.ts').GitObject>,
    binding.zlib?.deflate ?? webZlib.deflate
  );
  await mkdirs(binding.fs, `${binding.gitdir}/objects/pack`);
  await binding.fs.promises.writeFile(`${binding.gitdir}/objects/pack/pack-${sha}.pack`, pack);
  await binding.fs.promises.writeFile(`${binding.gitdir}/objects/pack/pack-${sha}.idx`, idx);
}

function sealedShape(content: Uint8Array): boolean {
  try {
    return looksSealed(parseCommit(content));
  } catch {
    return false;
  }
}

async function collectAndCheck(
  binding: GitBinding,
  url: string,
  name: string,
  remote: Map<string, string>,
  parsed: ParsedPack | undefined,
  opened: GitJournal | undefined,
  open: (genesis?: { id: string; json: string }) => Promise<GitJournal>
): Promise<{ journal: GitJournal; accepted: IncomingResult['accepted'] }> {
  let journal = opened;
  let local: ObjectReader | undefined;
  const read = async (oid: string): Promise<{ type: string; object: Uint8Array }> => {
    const f = parsed?.objects.get(oid);
    if (f) return { type: f.type, object: f.content };
    local ??= await ObjectReader.open(binding);
    const o = await local.read(oid);
    if (!o) throw new Error('the remote did not send it and it is not held here');
    return { type: o.type, object: o.content };
  };
  const known = (oid: string) => journal?.eventOf(oid) !== undefined;
  const refuse = (oid: string, why: string) =>
    new LedgerError(ErrorCode.COMMIT_REFUSED, `${url}: commit ${oid} is refused: ${why}; nothing was accepted`, {
      detail: { commit: oid }
    });
  // Walk back from the remote's refs to the commits we hold.
  const incoming = new Map<string, IncomingCommit>();
  const stack = [...remote.values()].filter((o) => !known(o));
  while (stack.length) {
    const oid = stack.pop()!;
    if (incoming.has(oid) || known(oid)) continue;
    let raw: { type: string; object: Uint8Array };
    try {
      raw = await read(oid);
    } catch (e) {
      throw refuse(oid, `it cannot be read (${(e as Error).message})`);
    }
    if (raw.type !== 'commit') throw refuse(oid, `it is a ${raw.type}, not a commit`);
    let commit;
    try {
      commit = parseCommit(raw.object);
    } catch (e) {
      throw refuse(oid, (e as Error).message);
    }
    let json: string;
    try {
      const tree = await read(commit.tree);
      if (tree.type !== 'tree') throw new TypeError('its tree is not a tree');
      const entries = parseTree(tree.object);
      if (entries.length !== 1 || entries[0].name !== EVENT_FILE || entries[0].mode !== '100644') {
        throw new TypeError(`its tree must hold exactly ${EVENT_FILE}`);
      }
      const blob = await read(entries[0].oid);
      if (blob.type !== 'blob') throw new TypeError(`${EVENT_FILE} is not a blob`);
      json = new TextDecoder('utf-8', { fatal: true }).decode(blob.object);
    } catch (e) {
      throw refuse(oid, (e as Error).message);
    }
    incoming.set(oid, { oid, commit, json, objects: [oid, commit.tree] });
    for (const p of commit.parents) if (!known(p) && !incoming.has(p)) stack.push(p);
  }

  // Clone: the one root commit must be a genesis event; it founds the ledger.
  const cloning = !journal;
  if (!journal) {
    const roots = [...incoming.values()].filter((c) => c.commit.parents.length === 0);
    if (roots.length !== 1)
      throw new LedgerError(
        ErrorCode.GENESIS,
        `${url}: the journal has ${roots.length} root commits, a ledger has exactly one (its genesis)`
      );
    const genesisJson = roots[0].json;
    const { checkEntries } = await import('../../core/verify.ts');
    const id = await genesisIdOf(genesisJson);
    const { events, problems } = await checkEntries([[id, genesisJson]]);
    if (problems.length || events.size !== 1)
      throw refuse(roots[0].oid, `its genesis event is invalid: ${problems.map((p) => p.message).join('; ')}`);
    journal = await open({ id, json: genesisJson });
  }

  const result = await checkIncoming(journal, [...incoming.values()], { verify: !cloning });
  if (result.refused) throw refuse(result.refused.oid, result.refused.reason);

  // What we pushed or saw before must still be there.
  const tracked = await journal.resolve(`refs/remotes/${name}/main`);
  if (tracked) {
    const trackedEvent = journal.eventOf(tracked) ?? result.eventOf.get(tracked);
    const tips = [...remote.values()].map((o) => journal!.eventOf(o) ?? result.eventOf.get(o));
    const reach = (tip: string | undefined) => !!tip && !!trackedEvent && result.isAncestor(trackedEvent, tip);
    if (!tips.some(reach)) {
      throw new LedgerError(
        ErrorCode.REMOTE_DIVERGED,
        `${url} no longer holds commit ${tracked}, which we pushed or pulled before: its history was rewritten or reset; nothing was accepted`,
        { detail: { commit: tracked } }
      );
    }
  }

  // Nothing in the fetched pack may be left unchecked.
  const verified = new Set<string>(result.objects);
  for (const oid of parsed?.objects.keys() ?? []) {
    if (!verified.has(oid) && !journal.eventOf(oid) && !(await journal.hasLocalObject(oid))) {
      throw new LedgerError(
        ErrorCode.COMMIT_REFUSED,
        `${url} sent object ${oid}, which no checked commit contains; nothing was accepted`
      );
    }
  }
  return { journal, accepted: result.accepted };
}

const EMPTY = new Uint8Array(0);

export class NeedGenesis extends Error {}

/** Events per Ledger.receive when cloning (see fetchAndAccept). */
export const CLONE_BATCH = 4096;

async function genesisIdOf(json: string): Promise<string> {
  const { eventId } = await import('../../core/event.ts');
  try {
    return await eventId(JSON.parse(json).event);
  } catch {
    return '0'.repeat(64);
  }
}
