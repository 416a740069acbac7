/**
 * The send half of a push, without isomorphic-git's pack building: the smart-HTTP receive-pack exchange with
 * a pack this module builds from the document (pack.ts: deltas, the binding's zlib). Much faster for large
 * journals; the protocol:
 *
 *   GET  <url>/info/refs?service=git-receive-pack     pkt-lines: "# service=…", flush, "<oid> <ref>\0<caps>", …
 *   POST <url>/git-receive-pack                        "<old> <new> <ref>\0 report-status delete-refs", …,
 *                                                      flush, then the pack
 *   response                                           "unpack ok", "ok <ref>" | "ng <ref> <why>", flush
 */
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import type { EventId } from '../../core/event.ts';
import type { GitObject } from '../../core/journal/objects.ts';
import type { GitBinding } from './binding.ts';
import type { GitJournal } from './journal.ts';
import { webZlib } from './objects.ts';
import { buildPack } from './pack.ts';
import { reusingPack } from './pack-reuse.ts';
import { eventTree } from '../../core/journal/commit.ts';
import { JournalCommits } from '../../core/journal/signatures.ts';
import { advertisedRefs as advertised, exchange, parsePkts, pkt, ZERO_OID, type ExchangeState } from './smart-http.ts';

const ZERO = ZERO_OID;
const enc = new TextEncoder();

export interface RefUpdate {
  /** Full ref name (refs/heads/…). */
  ref: string;
  /** The new commit, or undefined to delete. */
  oid?: string;
}

/** The remote's refs as receive-pack advertises them. */
export async function advertisedRefs(
  binding: GitBinding,
  url: string,
  state: ExchangeState = {}
): Promise<Map<string, string>> {
  return (await advertised(binding, url, 'git-receive-pack', state)).refs;
}

/**
 * Sends the commits the remote lacks and updates `updates` (each only if the remote ref still has `expected`,
 * the value the caller saw). Returns the refs the remote refused (moved meanwhile, not a fast-forward) and
 * how many commits it sent: those the remote did not hold (none reachable from its refs).
 */
export async function sendPack(
  journal: GitJournal,
  url: string,
  expected: Map<string, string>,
  updates: RefUpdate[],
  /** For a sealed remote (sealed.ts): the events of its commits, and the objects of an event's sealed commit. */
  form: {
    eventOf(oid: string): string | undefined;
    objects(id: string): Promise<GitObject[]>;
    pack?: { deltas?: boolean };
    stored?: boolean;
  } = {
    // The journal's own commits: its stored packs may be sent as they are (pack-reuse.ts).
    stored: true,
    eventOf: (oid) => journal.eventOf(oid),
    objects: async (id) => {
      const c = await journal.ledger.journalCommit(id);
      if (!c) throw new LedgerError(ErrorCode.JOURNAL_MISSING, `event ${id} has no journal commit to push`);
      return [c.commit, c.tree, c.blob];
    }
  }
): Promise<{ refused: string[]; sent: number }> {
  const binding = journal.binding;
  const state: ExchangeState = {};
  const remote = await advertisedRefs(binding, url, state);
  const refused: string[] = [];
  const commands: string[] = [];
  for (const u of updates) {
    const old = remote.get(u.ref);
    if ((old ?? '') !== (expected.get(u.ref) ?? '')) {
      refused.push(u.ref);
      continue;
    }
    if ((old ?? ZERO) === (u.oid ?? ZERO)) continue;
    commands.push(`${old ?? ZERO} ${u.oid ?? ZERO} ${u.ref}`);
  }
  if (refused.length || commands.length === 0) return { refused, sent: 0 };
  // Events the remote holds: everything reachable from its refs (all were checked and accepted by the pull).
  const held = new Set<string>();
  const stack = [...remote.values()].map((o) => form.eventOf(o)).filter((e): e is string => !!e);
  while (stack.length) {
    const id = stack.pop()!;
    if (held.has(id)) continue;
    held.add(id);
    for (const p of journal.ledger.get(id)?.event.parents ?? []) stack.push(p);
  }
  const objects: GitObject[] = [];
  const sending = new Set(
    updates
      .filter((u) => u.oid)
      .map((u) => form.eventOf(u.oid!))
      .filter((e): e is string => !!e)
  );
  const need = new Set<string>();
  const walk = [...sending];
  while (walk.length) {
    const id = walk.pop()!;
    if (need.has(id) || held.has(id)) continue;
    need.add(id);
    for (const p of journal.ledger.get(id as EventId)?.event.parents ?? []) walk.push(p);
  }
  let pack: Uint8Array[];
  let count: number;
  if (form.stored) {
    // Each event's commit, tree and blob ids (the tree and blob from the stored envelope, the commit from the
    // journal): stored packs holding only these are sent as they are.
    await JournalCommits.ready();
    const events = journal.ledger
      .events()
      .filter((ev) => need.has(ev.id))
      .map((ev) => {
        const commit = journal.commitOf(ev.id);
        const json = journal.ledger.envelopeJson(ev.id);
        if (!commit || json === undefined) return { id: ev.id, oids: [] };
        const { tree, blob } = eventTree(ev, enc.encode(json));
        return { id: ev.id, oids: [commit, tree.oid, blob.oid] };
      });
    ({ parts: pack, count } = await reusingPack(
      binding,
      events,
      form.objects,
      binding.zlib?.deflate ?? webZlib.deflate
    ));
  } else {
    for (const ev of journal.ledger.events()) {
      if (!need.has(ev.id)) continue;
      objects.push(...(await form.objects(ev.id)));
    }
    // Ciphertext shares nothing with other ciphertext: a sealed journal's pack goes without deltas.
    pack = [(await buildPack(objects, binding.zlib?.deflate ?? webZlib.deflate, form.pack)).pack];
    count = objects.length;
  }
  const lines = commands.map((c, i) =>
    pkt(i === 0 ? `${c}\0 report-status delete-refs agent=provenance-ledger\n` : `${c}\n`)
  );
  const body = new Uint8Array(
    lines.reduce((n, l) => n + l.length, 0) + 4 + (count ? pack.reduce((n, p) => n + p.length, 0) : 0)
  );
  let at = 0;
  for (const l of lines) {
    body.set(l, at);
    at += l.length;
  }
  body.set(enc.encode('0000'), at);
  at += 4;
  for (const p of count ? pack : []) {
    body.set(p, at);
    at += p.length;
  }
  const res = await exchange(
    binding,
    url,
    {
      method: 'POST',
      path: '/git-receive-pack',
      headers: {
        'content-type': 'application/x-git-receive-pack-request',
        accept: 'application/x-git-receive-pack-result'
      },
      body
    },
    state
  );
  const report = parsePkts(res).filter(Boolean);
  const unpack = report.find((l) => l.startsWith('unpack '));
  if (unpack && unpack.trim() !== 'unpack ok')
    throw new LedgerError(ErrorCode.REMOTE_REJECTED, `${url} could not unpack what we sent: ${unpack.trim()}`);
  for (const l of report) {
    const m = /^ng (\S+) (.*)$/.exec(l.trim());
    if (m) refused.push(m[1]);
  }
  return { refused, sent: form.stored ? need.size : objects.length / 3 };
}
