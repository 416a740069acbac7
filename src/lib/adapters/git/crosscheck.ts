/**
 * The journal against the Automerge document, read-only: every commit reachable from the journal's refs must
 * be the commit its event determines (event + stored signature), and every event with a signature must have
 * its commit in the journal's history.
 *   JOURNAL_MISSING   an event whose commit the journal's history lacks
 *   JOURNAL_MISMATCH  a commit for an event the ledger holds that differs from the one the event determines
 *   JOURNAL_EXTRA     a commit whose event the ledger does not hold (or that holds no event at all)
 */
import * as git from 'isomorphic-git';
import { ErrorCode } from '../../core/errors.ts';
import { eventId } from '../../core/event.ts';
import type { Ledger } from '../../core/ledger.ts';
import type { Problem } from '../../core/verify.ts';
import { EVENT_FILE } from '../../core/journal/commit.ts';
import type { GitBinding } from './binding.ts';

export async function crossCheck(binding: GitBinding, ledger: Ledger): Promise<Problem[]> {
  const { fs, gitdir } = binding;
  const cache = {};
  const problems: Problem[] = [];
  const expected = new Map<string, string>(); // commit -> event
  for (const ev of ledger.events()) {
    const oid = ledger.commitOf(ev.id);
    if (oid) expected.set(oid, ev.id);
  }
  const refs = await git.listRefs({ fs, gitdir, filepath: 'refs/heads' }).catch(() => [] as string[]);
  const stack: string[] = [];
  for (const r of refs) {
    const oid = await git.resolveRef({ fs, gitdir, ref: `refs/heads/${r}` }).catch(() => undefined);
    if (oid) stack.push(oid);
  }
  const seen = new Set<string>();
  const reached = new Set<string>(); // event ids whose right commit is in the history
  while (stack.length) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    let parents: string[];
    try {
      parents = (await git.readCommit({ fs, gitdir, oid, cache })).commit.parent;
    } catch (e) {
      problems.push({ code: ErrorCode.JOURNAL_EXTRA, message: `commit ${oid} in the journal cannot be read: ${(e as Error).message}`, location: `journal commit ${oid}` });
      continue;
    }
    stack.push(...parents);
    const ev = expected.get(oid);
    if (ev) {
      reached.add(ev);
      continue;
    }
    let id: string | undefined;
    try {
      const { blob } = await git.readBlob({ fs, gitdir, oid, filepath: EVENT_FILE, cache });
      id = await eventId(JSON.parse(new TextDecoder().decode(blob)).event);
    } catch {
      id = undefined;
    }
    if (id && ledger.get(id)) {
      problems.push({ code: ErrorCode.JOURNAL_MISMATCH, message: `journal commit ${oid} differs from the commit its event determines (${ledger.commitOf(id) ?? 'none: the event has no journal signature'})`, eventId: id, location: `journal commit ${oid}` });
    } else {
      problems.push({ code: ErrorCode.JOURNAL_EXTRA, message: `journal commit ${oid} holds ${id ? `event ${id}, which the ledger does not hold` : 'no valid event'}`, eventId: id, location: `journal commit ${oid}` });
    }
  }
  for (const [oid, id] of expected) {
    if (!reached.has(id)) problems.push({ code: ErrorCode.JOURNAL_MISSING, message: `the journal lacks commit ${oid} of this event (a write session or pull writes it)`, eventId: id, location: `event ${id}` });
  }
  return problems;
}
