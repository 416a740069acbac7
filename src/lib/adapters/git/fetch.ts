/**
 * Pull (and the fetch half of clone) over Git's smart HTTP protocol (isomorphic-git), with a quarantine
 * (quarantine.ts): every new commit is checked before the ledger sees any of it (core/journal/check.ts: the
 * event, its signature, schema, id, ledger, membership, the commit's signature, and the commit id recomputed
 * from the event). Accepted events go to the ledger with their journal signatures (`<id>.git`).
 */
import * as git from 'isomorphic-git';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { checkIncoming, type IncomingCommit } from '../../core/journal/check.ts';
import { parseCommit, parseTree } from '../../core/journal/objects.ts';
import { EVENT_FILE } from '../../core/journal/commit.ts';
import { encodeSig, sigKey } from '../../core/journal/signatures.ts';
import type { GitBinding } from './binding.ts';
import { idxOids, readPack } from './pack.ts';
import { webZlib } from './objects.ts';
import type { GitJournal } from './journal.ts';
import { auth, remoteError, remoteName } from './remote-auth.ts';
import { Q, Q_REFS, dropQuarantine, packFiles, setTracking } from './quarantine.ts';


export interface PullResult {
  /** Events accepted into the ledger. */
  received: number;
  /** The remote's refs (name -> commit) after the pull. */
  remote: Map<string, string>;
}

/**
 * Fetches from `url` and accepts what is new, or refuses it all. `journal` null means clone: the remote's
 * genesis founds the ledger; `found` creates it from the verified genesis entry and returns its journal.
 */
export async function pull(journal: GitJournal, url: string): Promise<PullResult> {
  return fetchAndAccept(journal.binding, url, async () => journal);
}

export async function fetchAndAccept(
  binding: GitBinding,
  url: string,
  open: (genesis?: { id: string; json: string }) => Promise<GitJournal>
): Promise<PullResult> {
  const { fs, gitdir } = binding;
  const packsBefore = await packFiles(binding);
  if ((await git.getConfig({ fs, gitdir, path: `remote.${Q}.fetch` })) === undefined) {
    await git.setConfig({ fs, gitdir, path: `remote.${Q}.fetch`, value: `+refs/heads/*:${Q_REFS}/*` });
  }
  const a = auth(binding, url);
  let fetched: { fetchHead: string | null };
  try {
    fetched = await git.fetch({
      fs, http: binding.http as any, gitdir, url, remote: Q, ref: 'main', remoteRef: 'refs/heads/main', singleBranch: false, tags: false,
      corsProxy: binding.corsProxy, onAuth: a.onAuth, onAuthFailure: a.onAuthFailure, cache: {}
    });
  } catch (e) {
    await dropQuarantine(binding, packsBefore);
    if ((e as any)?.code === 'NotFoundError') {
      throw new LedgerError(ErrorCode.REMOTE_DIVERGED, `${url} has no refs/heads/main: it is not a ledger journal`, { cause: e });
    }
    throw remoteError(e, url, a.failed);
  }
  const name = await remoteName(url);
  try {
    const remote = new Map<string, string>();
    if (fetched.fetchHead !== null) {
      for (const r of await git.listRefs({ fs, gitdir, filepath: Q_REFS })) {
        if (r === 'HEAD') continue;
        if (r !== 'main' && !/^concurrent\/[0-9a-f]{64}$/.test(r)) continue; // other branches are not ours to read
        remote.set(r, await git.resolveRef({ fs, gitdir, ref: `${Q_REFS}/${r}` }));
      }
    }
    const journal = await collectAndCheck(binding, url, name, remote, packsBefore, open);
    // Accepted: the remote's refs become our record of it; local refs follow the ledger's heads.
    await dropQuarantine(binding, new Set([...(await packFiles(binding))]));
    await setTracking(binding, name, remote);
    await journal.updateRefs(remote.get('main'));
    return { received: journal.lastReceived, remote };
  } catch (e) {
    await dropQuarantine(binding, packsBefore);
    throw e;
  }
}


async function collectAndCheck(
  binding: GitBinding,
  url: string,
  name: string,
  remote: Map<string, string>,
  packsBefore: Set<string>,
  open: (genesis?: { id: string; json: string }) => Promise<GitJournal>
): Promise<GitJournal & { lastReceived: number }> {
  const { fs, gitdir } = binding;
  const cache = {};
  let journal: GitJournal | undefined;
  try {
    journal = await open();
  } catch (e) {
    if (!(e instanceof NeedGenesis)) throw e;
  }
  // The fetched pack, read whole (pack.ts) rather than object by object; anything else through isomorphic-git.
  const fetched = new Map<string, { type: string; content: Uint8Array }>();
  for (const f of await packFiles(binding)) {
    if (packsBefore.has(f) || !f.endsWith('.idx')) continue;
    try {
      const base = `${gitdir}/objects/pack/${f.slice(0, -4)}`;
      const objects = await readPack(new Uint8Array(await fs.promises.readFile(`${base}.pack`)), new Uint8Array(await fs.promises.readFile(`${base}.idx`)), binding.zlib?.inflate ?? webZlib.inflate);
      for (const [oid, o] of objects) fetched.set(oid, o);
    } catch {
      /* read through isomorphic-git below */
    }
  }
  const read = async (oid: string): Promise<{ type: string; object: Uint8Array }> => {
    const f = fetched.get(oid);
    if (f) return { type: f.type, object: f.content };
    return (await git.readObject({ fs, gitdir, oid, format: 'content', cache })) as { type: string; object: Uint8Array };
  };
  const known = (oid: string) => journal?.eventOf(oid) !== undefined;
  // Walk back from the remote's refs to the commits we hold.
  const incoming = new Map<string, IncomingCommit>();
  const stack = [...remote.values()].filter((o) => !known(o));
  const refuse = (oid: string, why: string) =>
    new LedgerError(ErrorCode.COMMIT_REFUSED, `${url}: commit ${oid} is refused: ${why}; nothing was accepted`, { detail: { commit: oid } });
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
    let parsed;
    try {
      parsed = parseCommit(raw.object);
    } catch (e) {
      throw refuse(oid, (e as Error).message);
    }
    let json: string;
    try {
      const tree = await read(parsed.tree);
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
    incoming.set(oid, { oid, commit: parsed, json, objects: [oid, parsed.tree] });
    for (const p of parsed.parents) if (!known(p) && !incoming.has(p)) stack.push(p);
  }

  // Clone: the one root commit must be a genesis event; it founds the ledger.
  if (!journal) {
    const roots = [...incoming.values()].filter((c) => c.commit.parents.length === 0);
    if (roots.length !== 1) throw new LedgerError(ErrorCode.GENESIS, `${url}: the journal has ${roots.length} root commits, a ledger has exactly one (its genesis)`);
    const genesisJson = roots[0].json;
    const { checkEntries } = await import('../../core/verify.ts');
    const id = await genesisIdOf(genesisJson);
    const { events, problems } = await checkEntries([[id, genesisJson]]);
    if (problems.length || events.size !== 1) throw refuse(roots[0].oid, `its genesis event is invalid: ${problems.map((p) => p.message).join('; ')}`);
    journal = await open({ id, json: genesisJson });
  }

  const result = await checkIncoming(journal, [...incoming.values()]);
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
  for (const f of await packFiles(binding)) {
    if (packsBefore.has(f) || !f.endsWith('.idx')) continue;
    const idx = new Uint8Array(await fs.promises.readFile(`${gitdir}/objects/pack/${f}`));
    for (const oid of idxOids(idx)) {
      if (!verified.has(oid) && !journal.eventOf(oid) && !(await journal.hasLocalObject(oid, packsBefore))) {
        throw new LedgerError(ErrorCode.COMMIT_REFUSED, `${url} sent object ${oid}, which no checked commit contains; nothing was accepted`);
      }
    }
  }

  journal.expect(result.accepted.map((c) => ({ eventId: c.eventId, oid: c.oid })));
  // Each event with its journal signature (<id>.git): the ledger checks it again and stores both.
  const { accepted, problems } = await journal.ledger.receive(
    result.accepted.flatMap((c): Array<[string, string]> => [[c.eventId, c.json], [sigKey(c.eventId), encodeSig(c.signature)]])
  );
  await journal.settled();
  await journal.catchUp(); // commits of events the ledger already held (a clone's genesis)
  if (problems.length) {
    const p = problems[0];
    throw new LedgerError(p.code, `${url}: event ${p.eventId} was refused by the ledger: ${p.message}`, { detail: problems });
  }
  return Object.assign(journal, { lastReceived: accepted.length });
}

export class NeedGenesis extends Error {}

async function genesisIdOf(json: string): Promise<string> {
  const { eventId } = await import('../../core/event.ts');
  try {
    return await eventId(JSON.parse(json).event);
  } catch {
    return '0'.repeat(64);
  }
}
