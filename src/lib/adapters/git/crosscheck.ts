/**
 * The journal against the Automerge document, read-only: every stored object must be intact, every commit
 * reachable from the journal's refs must be the commit its event determines (event + stored signature), and
 * every event with a signature must have its commit in the journal's history.
 *   JOURNAL_CORRUPT   a stored object (or pack / index file) whose bytes are damaged, named (store-read.ts), or
 *                     the tree or event blob of a right commit that is not stored
 *   JOURNAL_MISSING   an event whose commit the journal's history lacks
 *   JOURNAL_MISMATCH  a commit for an event the ledger holds that differs from the one the event determines
 *   JOURNAL_EXTRA     a commit whose event the ledger does not hold (or that holds no event at all)
 *   EVENT_NOT_IN_DOCUMENT  a commit holding a valid event of this ledger that the document lacks: the document
 *                     lost it (`provenance-ledger recover` restores it from the journal)
 * Objects are read by the journal's own reader (no isomorphic-git), so this runs in the browser as well.
 */
import { ErrorCode } from '../../core/errors.ts';
import { eventId } from '../../core/event.ts';
import type { Ledger } from '../../core/ledger.ts';
import { checkEntries, type Problem } from '../../core/verify.ts';
import { EVENT_FILE } from '../../core/journal/commit.ts';
import { JournalCommits } from '../../core/journal/signatures.ts';
import { parseCommit, parseTree } from '../../core/journal/objects.ts';
import type { GitBinding } from './binding.ts';
import { listRefs } from './refs.ts';
import { ObjectReader } from './store-read.ts';

/** What verify should tell the user to do about journal problems (printed once after them). */
export const JOURNAL_ADVICE: Partial<Record<string, string>> = {
  [ErrorCode.JOURNAL_CORRUPT]:
    'The journal is derived from the ledger: delete DIR/journal.git and run any write command, `provenance-ledger journal repair`, or pull from a remote that holds it, to write it again.',
  [ErrorCode.JOURNAL_MISSING]:
    'Run `provenance-ledger journal repair` (or any write command) to write the missing commits from the ledger.',
  [ErrorCode.JOURNAL_MISMATCH]:
    'The journal holds commits its events do not determine: delete DIR/journal.git and run `provenance-ledger journal repair` to write it again from the ledger.',
  [ErrorCode.EVENT_NOT_IN_DOCUMENT]:
    'The document lost events the journal holds: run `provenance-ledger recover` to restore them (no write proceeds until then).',
  [ErrorCode.JOURNAL_EXTRA]:
    'The journal holds commits the ledger does not: delete DIR/journal.git and run `provenance-ledger journal repair` to write it again from the ledger.'
};

export async function crossCheck(binding: GitBinding, ledger: Ledger): Promise<Problem[]> {
  const problems: Problem[] = [];
  const store = await ObjectReader.open(binding);
  const damaged = new Set<string>();
  for (const p of await store.check()) {
    if (p.oid) damaged.add(p.oid);
    problems.push({
      code: ErrorCode.JOURNAL_CORRUPT,
      message: p.message,
      location: p.oid ? `journal object ${p.oid}` : `journal file ${p.file}`
    });
  }
  // Every commit id built here from the events and their signatures, never from the commit-id hints
  // (core/journal/signatures.ts) that the ledger's commitOf may answer from.
  await JournalCommits.ready();
  const commits = new JournalCommits(
    {
      event: (id) => ledger.get(id),
      signature: (id) => ledger.journalSignature(id),
      envelope: (id) => ledger.envelopeJson(id)
    },
    { hints: false }
  );
  const expected = new Map<string, string>(); // commit -> event
  const commitOf = new Map<string, string>(); // event -> commit
  for (const ev of ledger.events()) {
    const oid = commits.oid(ev.id);
    if (oid) {
      expected.set(oid, ev.id);
      commitOf.set(ev.id, oid);
    }
  }
  const stack = [...(await listRefs(binding, 'refs/heads')).values()];
  const seen = new Set<string>();
  const reached = new Set<string>(); // event ids whose right commit is in the history
  const read = async (oid: string) => {
    const o = await store.read(oid);
    if (!o) throw new Error('it is not stored');
    return o;
  };
  /** A missing tree or event blob of a commit (a write cut short): the journal is written again from the ledger. */
  const incomplete = async (oid: string, treeOid: string): Promise<Problem[]> => {
    const lacks = (what: string, missing: string): Problem[] => [
      {
        code: ErrorCode.JOURNAL_CORRUPT,
        message: `journal commit ${oid} names ${what}, which is not stored`,
        location: `journal object ${missing}`
      }
    ];
    if (damaged.has(treeOid)) return [];
    if (!(await store.has(treeOid))) return lacks(`tree ${treeOid}`, treeOid);
    let entries;
    try {
      entries = parseTree((await read(treeOid)).content);
    } catch {
      return []; // a damaged tree is reported by check() above
    }
    for (const e of entries)
      if (!damaged.has(e.oid) && !(await store.has(e.oid))) return lacks(`${e.name} (blob ${e.oid})`, e.oid);
    return [];
  };
  while (stack.length) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    const right = expected.get(oid);
    if (right && !damaged.has(oid) && (await store.has(oid))) {
      // The commit its event determines, stored (check() above read every stored object and found its content
      // hashing to its name): its parents and its tree are the ones its event determines, known without reading
      // it again. Its tree and blob must be stored too.
      reached.add(right);
      const ev = ledger.get(right as Parameters<Ledger['get']>[0])!;
      for (const p of ev.event.parents) {
        const parent = commitOf.get(p);
        if (parent) stack.push(parent);
      }
      const built = commits.commit(right);
      for (const o of built ? [built.tree, built.blob] : []) {
        if (damaged.has(o.oid) || (await store.has(o.oid))) continue;
        const what = o === built!.tree ? `tree ${o.oid}` : `${EVENT_FILE} (blob ${o.oid})`;
        problems.push({
          code: ErrorCode.JOURNAL_CORRUPT,
          message: `journal commit ${oid} names ${what}, which is not stored`,
          location: `journal object ${o.oid}`,
          eventId: right
        });
        break;
      }
      continue;
    }
    let commit;
    try {
      const o = await read(oid);
      if (o.type !== 'commit') throw new Error(`it is a ${o.type}`);
      commit = parseCommit(o.content);
    } catch (e) {
      if (!damaged.has(oid))
        problems.push({
          code: ErrorCode.JOURNAL_EXTRA,
          message: `commit ${oid} in the journal cannot be read: ${(e as Error).message}`,
          location: `journal commit ${oid}`
        });
      const ev = expected.get(oid);
      if (ev) reached.add(ev); // reported as damaged (or unreadable) above, not again as missing
      continue;
    }
    stack.push(...commit.parents);
    const ev = expected.get(oid);
    if (ev) {
      reached.add(ev);
      // The commit is the right one, so its tree and blob are known: both must be stored too.
      for (const problem of await incomplete(oid, commit.tree)) problems.push({ ...problem, eventId: ev });
      continue;
    }
    let id: string | undefined;
    let json: string | undefined;
    try {
      const entries = parseTree((await read(commit.tree)).content);
      const blob = entries.length === 1 && entries[0].name === EVENT_FILE ? await read(entries[0].oid) : undefined;
      json = blob ? new TextDecoder().decode(blob.content) : undefined;
      id = json ? await eventId(JSON.parse(json).event) : undefined;
    } catch {
      id = undefined;
    }
    if (id && ledger.get(id)) {
      problems.push({
        code: ErrorCode.JOURNAL_MISMATCH,
        message: `journal commit ${oid} differs from the commit its event determines (${commitOf.get(id) ?? 'none: the event has no journal signature'})`,
        eventId: id,
        location: `journal commit ${oid}`
      });
    } else if (id && json && (await checkEntries([[id, json]], ledger.id)).problems.length === 0) {
      // A valid event of this ledger that the document lacks: the document lost it, the journal did not.
      problems.push({
        code: ErrorCode.EVENT_NOT_IN_DOCUMENT,
        message: `event ${id} is in the journal (commit ${oid}) but not in the document: run \`provenance-ledger recover\` to restore it`,
        eventId: id,
        location: `journal commit ${oid}`
      });
    } else {
      problems.push({
        code: ErrorCode.JOURNAL_EXTRA,
        message: `journal commit ${oid} holds ${id ? `event ${id}, which the ledger does not hold` : 'no valid event'}`,
        eventId: id,
        location: `journal commit ${oid}`
      });
    }
  }
  for (const [oid, id] of expected) {
    if (!reached.has(id))
      problems.push({
        code: ErrorCode.JOURNAL_MISSING,
        message: `the journal lacks commit ${oid} of this event`,
        eventId: id,
        location: `event ${id}`
      });
  }
  return problems;
}
