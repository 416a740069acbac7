/**
 * Events read back out of the local Git journal: each commit holds its event's signed envelope (event.json) and,
 * in its gpgsig header, the 64-byte signature the document keeps as `<id>.git` (ledger-schema/README.md section
 * 18). So the journal is a surviving copy of every event that has a commit, and a document that lost events (a
 * lost or damaged chunk, `doc/` gone) is rebuilt from it (`provenance-ledger recover`).
 *
 * Nothing here is trusted: the entries read are handed to Ledger.receive, which checks every event as section 11
 * does and every signature over the commit it rebuilds (a commit whose bytes were altered gives entries that fail
 * there, and is reported).
 */
import { eventId } from '../../core/event.ts';
import { EVENT_FILE } from '../../core/journal/commit.ts';
import { parseCommit, parseTree, type ParsedCommit } from '../../core/journal/objects.ts';
import { encodeSig } from '../../core/journal/signatures.ts';
import { parseArmoredSshsig } from '../../core/journal/sshsig.ts';
import { checkEntries } from '../../core/verify.ts';
import type { GitBinding } from './binding.ts';
import { listRefs } from './refs.ts';
import { ObjectReader } from './store-read.ts';

/** One event as a journal commit holds it. */
export interface CommitEvent {
  oid: string;
  commit: ParsedCommit;
  eventId: string;
  /** The envelope's bytes as stored (event.json). */
  json: string;
  /** The `<id>.git` value (base64url of the 64 signature bytes), when the commit carries a readable signature. */
  signature?: string;
}

/** The event a stored commit holds; throws (naming why) when the commit, its tree or its blob cannot be read. */
export async function readCommitEvent(store: ObjectReader, oid: string): Promise<CommitEvent> {
  const read = async (id: string, type: string) => {
    const o = await store.read(id);
    if (!o) throw new Error(`object ${id} is not stored`);
    if (o.type !== type) throw new Error(`object ${id} is a ${o.type}, not a ${type}`);
    return o.content;
  };
  const commit = parseCommit(await read(oid, 'commit'));
  const entries = parseTree(await read(commit.tree, 'tree'));
  if (entries.length !== 1 || entries[0].name !== EVENT_FILE)
    throw new Error(`its tree does not hold exactly ${EVENT_FILE}`);
  const json = new TextDecoder('utf-8', { fatal: true }).decode(await read(entries[0].oid, 'blob'));
  const id = await eventId(JSON.parse(json).event);
  let signature: string | undefined;
  try {
    signature = commit.gpgsig ? encodeSig(parseArmoredSshsig(commit.gpgsig).signature) : undefined;
  } catch {
    signature = undefined;
  }
  return { oid, commit, eventId: id, json, signature };
}

/**
 * The event of `oid` when it is one the document should hold but does not: it passes the per-event checks of
 * section 11 (steps 1 to 7) for this ledger and `has` does not know it. Undefined otherwise (unreadable, invalid,
 * foreign, or held).
 */
export async function lostEvent(
  store: ObjectReader,
  oid: string,
  ledgerId: string,
  has: (id: string) => boolean
): Promise<CommitEvent | undefined> {
  let c: CommitEvent;
  try {
    c = await readCommitEvent(store, oid);
  } catch {
    return undefined;
  }
  if (has(c.eventId)) return undefined;
  const { problems, events } = await checkEntries([[c.eventId, c.json]], ledgerId);
  return problems.length === 0 && events.size === 1 ? c : undefined;
}

export interface Salvage {
  /** Every readable event commit, parents before children where the journal links them, one per event id. */
  events: CommitEvent[];
  /** Commits (or other stored objects claiming to be) that could not be read, with why. */
  unreadable: Array<{ oid: string; message: string }>;
}

/**
 * Every event the journal's objects hold: the commits reachable from any ref (main, concurrent heads, remote
 * tracking refs) and any other commit stored (one a ref no longer names). Damaged objects are skipped and listed.
 */
export async function salvageJournal(binding: GitBinding, storedOids: Iterable<string>): Promise<Salvage> {
  const store = await ObjectReader.open(binding);
  const byOid = new Map<string, CommitEvent>();
  const unreadable: Salvage['unreadable'] = [];
  const seen = new Set<string>();
  /** Walks from `start` to every ancestor (a loop, not recursion: a history may be long). */
  const visit = async (start: string, fromRef: boolean) => {
    const stack: Array<[string, boolean]> = [[start, fromRef]];
    while (stack.length) {
      const [oid, named] = stack.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      let o;
      try {
        o = await store.read(oid);
      } catch (e) {
        unreadable.push({ oid, message: (e as Error).message });
        continue;
      }
      if (!o) {
        if (named) unreadable.push({ oid, message: 'named by the journal but not stored' });
        continue;
      }
      if (o.type !== 'commit') continue;
      try {
        const c = await readCommitEvent(store, oid);
        byOid.set(oid, c);
        for (const p of c.commit.parents) stack.push([p, true]);
      } catch (e) {
        unreadable.push({ oid, message: (e as Error).message });
      }
    }
  };
  for (const prefix of ['refs/heads', 'refs/remotes'])
    for (const oid of (await listRefs(binding, prefix)).values()) await visit(oid, true);
  for (const oid of storedOids) await visit(oid, false);
  // Parents first, by the journal's own links (Kahn's algorithm over the commits found).
  const all = [...byOid.values()];
  const byEvent = new Map<string, CommitEvent>();
  for (const c of all) if (!byEvent.has(c.eventId)) byEvent.set(c.eventId, c);
  const eventOfOid = new Map(all.map((c) => [c.oid, c.eventId]));
  const children = new Map<string, string[]>();
  const waiting = new Map<string, number>();
  for (const c of byEvent.values()) {
    const parents = [
      ...new Set(c.commit.parents.map((p) => eventOfOid.get(p)).filter((p): p is string => !!p && byEvent.has(p)))
    ];
    waiting.set(c.eventId, parents.length);
    for (const p of parents) children.set(p, [...(children.get(p) ?? []), c.eventId]);
  }
  const ready = [...waiting]
    .filter(([, n]) => n === 0)
    .map(([id]) => id)
    .sort();
  const events: CommitEvent[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    events.push(byEvent.get(id)!);
    for (const ch of children.get(id) ?? []) {
      const n = waiting.get(ch)! - 1;
      waiting.set(ch, n);
      if (n === 0) ready.push(ch);
    }
  }
  return { events, unreadable };
}
