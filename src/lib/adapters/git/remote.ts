/**
 * Pull, push and clone over Git's smart HTTP protocol (isomorphic-git), with a quarantine: fetched objects
 * land in a pack and the remote's refs under refs/remotes/quarantine/*; every new commit is checked before the
 * ledger sees any of it (core/journal/check.ts: the event, its signature, schema, id, ledger, membership, the
 * commit's signature, and the commit id recomputed from the event). On any failure the quarantine refs and the
 * fetched pack are removed, so nothing local changes.
 */
import * as git from 'isomorphic-git';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import { sha256Hex } from '../../core/hash.ts';
import { utf8 } from '../../core/bytes.ts';
import { checkIncoming, type IncomingCommit } from '../../core/journal/check.ts';
import { parseCommit, parseTree } from '../../core/journal/objects.ts';
import { EVENT_FILE } from '../../core/journal/commit.ts';
import type { GitBinding } from './binding.ts';
import { idxOids } from './pack.ts';
import { encodeSig, sigKey } from '../../core/journal/signatures.ts';
import { CONCURRENT, MAIN, type GitJournal } from './journal.ts';

const Q = 'quarantine';
const Q_REFS = `refs/remotes/${Q}`;

/** The local name under refs/remotes/ for a URL (credentials in it are left out). */
export async function remoteName(url: string): Promise<string> {
  const clean = url.replace(/\/\/[^@/]*@/, '//');
  return `r-${(await sha256Hex(utf8(clean))).slice(0, 12)}`;
}

function auth(binding: GitBinding, url: string) {
  let tries = 0;
  return {
    onAuth: async () => {
      const c = await binding.credentials?.(url);
      return c ?? { cancel: true };
    },
    onAuthFailure: () => {
      tries++;
      return { cancel: true };
    },
    get failed() {
      return tries > 0;
    }
  };
}

/** Maps transport failures to stable codes with a message naming the remote. */
function remoteError(e: any, url: string, authFailed: boolean): LedgerError {
  if (e instanceof LedgerError) return e;
  const code = e?.code ?? e?.name;
  const status = e?.data?.statusCode;
  if (authFailed || status === 401 || status === 403 || code === 'UserCanceledError') {
    return new LedgerError(ErrorCode.REMOTE_AUTH, `${url} refused the credentials (set PROVENANCE_LEDGER_GIT_USERNAME and _PASSWORD, or _TOKEN)`, { cause: e });
  }
  if (code === 'HttpError' || code === 'SmartHttpError') {
    return new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `${url} did not answer as a Git smart-HTTP remote: ${e.message}`, { cause: e });
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(code) || /fetch failed|ECONN|ENOTFOUND/.test(String(e?.message))) {
    return new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `cannot reach ${url}: ${e.message}`, { cause: e });
  }
  return new LedgerError(ErrorCode.REMOTE_UNREACHABLE, `the exchange with ${url} failed: ${e?.message ?? e}`, { cause: e });
}

async function packFiles(binding: GitBinding): Promise<Set<string>> {
  try {
    return new Set(await binding.fs.promises.readdir(`${binding.gitdir}/objects/pack`));
  } catch {
    return new Set();
  }
}

async function dropQuarantine(binding: GitBinding, packsBefore: Set<string>): Promise<void> {
  const { fs, gitdir } = binding;
  for (const ref of await git.listRefs({ fs, gitdir, filepath: Q_REFS }).catch(() => [] as string[])) {
    await git.deleteRef({ fs, gitdir, ref: `${Q_REFS}/${ref}` }).catch(() => undefined);
  }
  for (const f of await packFiles(binding)) {
    if (!packsBefore.has(f)) await fs.promises.unlink(`${gitdir}/objects/pack/${f}`).catch(() => undefined);
  }
  await fs.promises.unlink(`${gitdir}/FETCH_HEAD`).catch(() => undefined);
}

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

async function setTracking(binding: GitBinding, name: string, refs: Map<string, string>): Promise<void> {
  const { fs, gitdir } = binding;
  const prefix = `refs/remotes/${name}`;
  for (const r of await git.listRefs({ fs, gitdir, filepath: prefix }).catch(() => [] as string[])) {
    if (!refs.has(r)) await git.deleteRef({ fs, gitdir, ref: `${prefix}/${r}` });
  }
  for (const [r, oid] of refs) await git.writeRef({ fs, gitdir, ref: `${prefix}/${r}`, value: oid, force: true });
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
      raw = (await git.readObject({ fs, gitdir, oid, format: 'content', cache })) as any;
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
      const tree = (await git.readObject({ fs, gitdir, oid: parsed.tree, format: 'content', cache })) as any;
      if (tree.type !== 'tree') throw new TypeError('its tree is not a tree');
      const entries = parseTree(tree.object);
      if (entries.length !== 1 || entries[0].name !== EVENT_FILE || entries[0].mode !== '100644') {
        throw new TypeError(`its tree must hold exactly ${EVENT_FILE}`);
      }
      const blob = (await git.readObject({ fs, gitdir, oid: entries[0].oid, format: 'content', cache })) as any;
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

export interface PushResult {
  main?: string;
  concurrent: string[];
  /** Events pulled first. */
  received: number;
  pushed: boolean;
}

/** Pulls, then pushes main (fast-forward only) and the concurrent refs; retries when the remote moved. */
export async function push(journal: GitJournal, url: string, attempts = 3): Promise<PushResult> {
  const { fs, gitdir, http } = journal.binding;
  const name = await remoteName(url);
  let received = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await journal.catchUp();
    const pulled = await pull(journal, url);
    received += pulled.received;
    const refs = await journal.updateRefs(pulled.remote.get('main'));
    const wanted = new Map<string, string>();
    if (refs.main) wanted.set('main', refs.main);
    for (const id of refs.concurrent) wanted.set(`concurrent/${id}`, journal.commitOf(id)!);
    const a = auth(journal.binding, url);
    let moved = false;
    try {
      for (const [r, oid] of [...wanted].sort(([x], [y]) => (x === 'main' ? -1 : y === 'main' ? 1 : 0))) {
        if (pulled.remote.get(r) === oid) continue;
        const res = await git.push({ fs, http: http as any, gitdir, url, ref: r === 'main' ? MAIN : `refs/heads/${r}`, remoteRef: `refs/heads/${r}`, onAuth: a.onAuth, onAuthFailure: a.onAuthFailure, corsProxy: journal.binding.corsProxy });
        if (!res.ok || res.refs[`refs/heads/${r}`]?.ok === false) {
          moved = true;
          break;
        }
      }
      if (!moved) {
        for (const r of pulled.remote.keys()) {
          if (wanted.has(r) || !r.startsWith('concurrent/')) continue;
          // isomorphic-git expands `ref` even to delete: name one that exists locally
          await git.push({ fs, http: http as any, gitdir, url, ref: MAIN, remoteRef: `refs/heads/${r}`, delete: true, onAuth: a.onAuth, onAuthFailure: a.onAuthFailure, corsProxy: journal.binding.corsProxy });
        }
      }
    } catch (e: any) {
      if (e?.code === 'PushRejectedError' || /fast-forward|rejected|fetch first/i.test(String(e?.message))) moved = true;
      else throw remoteError(e, url, a.failed);
    }
    if (!moved) {
      await setTracking(journal.binding, name, wanted);
      return { main: refs.main, concurrent: refs.concurrent, received, pushed: true };
    }
  }
  throw new LedgerError(ErrorCode.REMOTE_REJECTED, `${url} kept moving while we pushed (${attempts} attempts): pull and push again`);
}

/**
 * Rebuilds a ledger from a remote alone: its root commit must be a valid genesis, which founds the ledger in
 * `storage` (empty); every other commit is checked as a pull checks it. The caller removes what it created
 * when this throws.
 */
export async function clone(
  binding: GitBinding,
  url: string,
  storage: import('../../core/storage.ts').StorageAdapter,
  signer?: import('../../core/keys.ts').Signer
): Promise<GitJournal> {
  const { GitJournal } = await import('./journal.ts');
  const { Ledger } = await import('../../core/ledger.ts');
  const { DocStore } = await import('../../core/docstore.ts');
  if (await Ledger.exists(storage)) throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'a ledger already exists here: clone into an empty directory');
  await GitJournal.init(binding);
  let journal: GitJournal | undefined;
  const { remote } = await fetchAndAccept(binding, url, async (genesis) => {
    if (journal) return journal;
    if (!genesis) throw new NeedGenesis();
    const { store } = await DocStore.load(storage);
    await store.commit([[genesis.id, genesis.json]]);
    const ledger = await Ledger.open({ storage, signer });
    journal = await GitJournal.attach(binding, ledger, signer);
    return journal;
  });
  if (!journal) throw new LedgerError(ErrorCode.REMOTE_DIVERGED, `${url} is empty: there is no ledger to clone`);
  void remote;
  return journal;
}
