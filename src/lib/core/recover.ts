/**
 * Recovering the ledger's document from any surviving copy (`provenance-ledger recover`; ledger-schema/README.md
 * section 12, "Recovery").
 *
 * The document is the truth every other file derives from, but it is not the only copy of the signed events: each
 * event with a journal commit is also in the local Git journal (envelope and signature), and readable chunks of a
 * damaged document still hold theirs. Recovery gathers them all, checks every one as a received event is checked
 * (section 11 per event and as a whole, every journal signature over the commit it rebuilds) and stores what
 * counts:
 *
 *  - a document that is whole but lacks events (its newest chunk lost) gets them back, in one new chunk;
 *  - a document that cannot be read whole (a damaged or unexpected chunk, a missing change, a malformed record, no
 *    genesis) or is gone is rebuilt: its files are first copied aside under `doc-damaged-<time>/` (never deleted),
 *    then removed from `doc/`, then a new document is founded on the genesis and every other event received.
 *
 * Crash order: the copies aside come before the removals, and every input (the journal, the copies aside) outlives
 * the rebuild, which reads every earlier `doc-damaged-*` copy too; so a recovery cut short at any point is finished
 * by running it again, and nothing it read is lost.
 */
import * as A from '@automerge/automerge/slim';
import type { StorageAdapter } from './storage.ts';
import { DocStore, scanDoc, type LedgerDoc, type StorageProblem } from './docstore.ts';
import { Ledger } from './ledger.ts';
import { isEventId, type LedgerEvent } from './event.ts';
import { isGenesis } from './roster.ts';
import { checkEntries, type Problem } from './verify.ts';
import { decodeChanges } from './sync/changes.ts';
import { eventOfSigKey, isSigKey, sigKey } from './journal/signatures.ts';
import { ErrorCode, LedgerError } from './errors.ts';
import { initHash } from './hash.ts';

/** An event found in a copy other than the document (the local journal). */
export interface FoundEvent {
  id: string;
  json: string;
  /** Its `<id>.git` value, when that copy holds one. */
  signature?: string;
  /** Where it was found (e.g. "journal commit <oid>"), for the report. */
  from: string;
}

export interface RecoverReport {
  ledgerId: string;
  /** What was wrong with the document as found (empty when it was only missing events). */
  documentProblems: StorageProblem[];
  /** The document could not be read whole and was rebuilt (its files kept under `keptAside`). */
  rebuilt: boolean;
  /** The storage prefix the damaged document's files were copied to. */
  keptAside?: string;
  /** Events the document held and holds still (counted, not listed). */
  kept: number;
  /** Events stored by this recovery, oldest first, with where each came from. */
  restored: Array<{ id: string; type: string; time: string; from: string }>;
  /** Journal signatures restored to events that lacked theirs. */
  signatures: number;
  /** Events found that do not count (checked as section 11 does), with why. */
  refused: Array<{ id: string; from: string; code: string; message: string }>;
}

const ASIDE_PREFIX = 'doc-damaged-';
const CHUNK_MAGIC = [0x85, 0x6f, 0x4a, 0x83];

/** Storage prefixes that hold a document: `doc/` and every copy kept aside by an earlier recovery. */
async function documentPrefixes(storage: StorageAdapter): Promise<string[]> {
  const tops = new Set((await storage.listKeys([])).filter((k) => k.length === 3).map((k) => k[0]));
  return [...tops]
    .filter((t) => t === 'doc' || t.startsWith(ASIDE_PREFIX))
    .sort((a, b) => (a === 'doc' ? -1 : b === 'doc' ? 1 : a < b ? -1 : 1));
}

/** Splits Automerge binary chunks (magic, checksum, type, uLEB128 length, contents) laid end to end. */
function splitChunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at + 9 < bytes.length && CHUNK_MAGIC.every((m, i) => bytes[at + i] === m)) {
    let len = 0;
    let shift = 0;
    let i = at + 9;
    for (;;) {
      if (i >= bytes.length || shift > 35) return out;
      const x = bytes[i++];
      len += (x & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(x & 0x80)) break;
    }
    if (i + len > bytes.length) return out;
    out.push(bytes.subarray(at, i + len));
    at = i + len;
  }
  return out;
}

/**
 * Every entry any stored copy of the document still holds, read chunk by chunk (so a chunk whose changes depend on
 * a lost one is read too): snapshots loaded whole, incremental chunks split into their changes and decoded as a
 * peer's changes are. Nothing here is trusted; damaged chunks are read as far as they go.
 */
async function entriesOfChunks(
  storage: StorageAdapter,
  prefixes: string[],
  ledgerId: string | undefined
): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const prefix of prefixes) {
    for (const c of await storage.loadRange([prefix])) {
      try {
        out.push(...scanDoc(A.load<LedgerDoc>(c.data)).entries); // a snapshot, or changes whose past is here
      } catch {
        /* damaged: its changes are read one by one below */
      }
      // Changes whose past is in another (lost) chunk load as nothing above: read each change by itself.
      if (ledgerId)
        for (const d of decodeChanges(splitChunks(c.data), ledgerId)) if (!d.problem) out.push(...d.entries);
    }
  }
  return out;
}

/** The genesis a set of entries founds: the valid genesis most events name (the document's own when it has one). */
async function findGenesis(entries: Array<[string, string]>): Promise<{ id: string; json: string } | undefined> {
  const candidates = new Map<string, string>();
  const named = new Map<string, number>();
  for (const [id, json] of entries) {
    if (!isEventId(id)) continue;
    try {
      const env = JSON.parse(json);
      if (env?.event && isGenesis({ id, event: env.event, sig: env.sig } as LedgerEvent)) candidates.set(id, json);
      else if (typeof env?.event?.ledger === 'string')
        named.set(env.event.ledger, (named.get(env.event.ledger) ?? 0) + 1);
    } catch {
      /* refused later */
    }
  }
  const valid: Array<{ id: string; json: string }> = [];
  for (const [id, json] of candidates)
    if ((await checkEntries([[id, json]])).problems.length === 0) valid.push({ id, json });
  valid.sort((a, b) => (named.get(b.id) ?? 0) - (named.get(a.id) ?? 0));
  return valid[0];
}

/** One value per key: the first copy given that passes the per-event checks (events), else the first seen. */
async function pick(entries: Array<[string, string]>, ledgerId: string): Promise<Map<string, string>> {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of entries) {
    const vs = byKey.get(k);
    if (!vs) byKey.set(k, [v]);
    else if (!vs.includes(v)) vs.push(v);
  }
  const out = new Map<string, string>();
  for (const [k, vs] of byKey) {
    let chosen = vs[0];
    if (vs.length > 1 && isEventId(k)) {
      for (const v of vs) {
        if ((await checkEntries([[k, v]], ledgerId)).problems.length === 0) {
          chosen = v;
          break;
        }
      }
    }
    out.set(k, chosen);
  }
  return out;
}

/**
 * Recovers the document in `storage` from what it still holds and from `found` (the local journal's events).
 * Returns the ledger, opened over the recovered document, and what was done, event by event.
 * Throws NOT_INITIALIZED when no copy holds a valid genesis (nothing to recover a ledger from).
 */
export async function recoverDocument(
  storage: StorageAdapter,
  found: FoundEvent[],
  opts: { now?: () => Date } = {}
): Promise<{ ledger: Ledger; report: RecoverReport }> {
  await initHash();
  const { store, problems } = await DocStore.load(storage, { compactOnLoad: false });
  const scan = store.scan();
  const documentProblems: StorageProblem[] = [
    ...problems,
    ...scan.malformed.map(
      (m) => ({ code: ErrorCode.DOC_CORRUPT, message: m.message, location: m.location }) as StorageProblem
    )
  ];
  let whole: Ledger | undefined;
  if (documentProblems.length === 0 && !(await DocStore.isEmpty(storage))) {
    try {
      whole = await Ledger.open({ storage, now: opts.now });
    } catch (e) {
      documentProblems.push({
        code: ErrorCode.DOC_CORRUPT,
        message: `the document cannot be opened: ${(e as Error).message}`,
        location: 'doc'
      });
    }
  }
  const foundEntries: Array<[string, string]> = found.flatMap((f): Array<[string, string]> =>
    f.signature
      ? [
          [f.id, f.json],
          [sigKey(f.id), f.signature]
        ]
      : [[f.id, f.json]]
  );
  const fromOf = new Map<string, string>();
  for (const f of found) if (!fromOf.has(f.id)) fromOf.set(f.id, f.from);

  let ledger: Ledger;
  let candidates: Map<string, string>;
  let kept: number;
  let keptAside: string | undefined;
  if (whole) {
    ledger = whole;
    kept = ledger.size;
    // Copies an earlier recovery kept aside are read again: one cut short after founding the new document left
    // events there that only they hold.
    const aside = (await documentPrefixes(storage)).filter((p) => p !== 'doc');
    const asideEntries = aside.length ? await entriesOfChunks(storage, aside, ledger.id) : [];
    for (const [k] of asideEntries) if (isEventId(k) && !fromOf.has(k)) fromOf.set(k, 'a damaged document kept aside');
    candidates = await pick([...foundEntries, ...asideEntries], ledger.id);
  } else {
    // Rebuild: every copy of the document (this one, earlier ones kept aside) and the journal's events.
    const prefixes = await documentPrefixes(storage);
    const visible = scan.entries;
    const genesis = await findGenesis([
      ...visible,
      ...foundEntries,
      ...(await entriesOfChunks(storage, prefixes, undefined))
    ]);
    if (!genesis) {
      throw new LedgerError(
        ErrorCode.NOT_INITIALIZED,
        'nothing to recover a ledger from: no copy of the document and no journal commit holds a valid genesis event'
      );
    }
    const docEntries = [...visible, ...(await entriesOfChunks(storage, prefixes, genesis.id))];
    for (const [k] of docEntries) if (isEventId(k) && !fromOf.has(k)) fromOf.set(k, 'the damaged document');
    candidates = await pick([...docEntries, ...foundEntries], genesis.id);
    kept = 0;
    // Copy the document's files aside, then remove them (a cut-short run is finished by running it again).
    const docKeys = await storage.listKeys(['doc']);
    if (docKeys.length) {
      keptAside = `${ASIDE_PREFIX}${(opts.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-')}`;
      for (const k of docKeys) await storage.save([keptAside, ...k.slice(1)], (await storage.load(k))!);
      await storage.removeRange(['doc']);
    }
    const fresh = (await DocStore.load(storage)).store;
    await fresh.commit([[genesis.id, genesis.json]], genesis.id);
    ledger = await Ledger.open({ storage, now: opts.now });
  }

  // Everything the ledger lacks (events, and signatures of events that lack theirs) is received: checked first.
  const entries: Array<[string, string]> = [];
  for (const [k, v] of candidates) {
    if (isSigKey(k) ? ledger.journalSignature(eventOfSigKey(k)) === undefined : !ledger.get(k)) entries.push([k, v]);
  }
  const hadSig = new Set(
    ledger
      .events()
      .filter((e) => ledger.journalSignature(e.id) !== undefined)
      .map((e) => e.id)
  );
  const result = entries.length ? await ledger.receive(entries) : { accepted: [], problems: [] as Problem[] };
  const accepted = new Set(result.accepted);
  const restored = ledger
    .events()
    .filter((e) => accepted.has(e.id) || (!whole && e.id === ledger.id))
    .map((e) => ({ id: e.id, type: e.event.type, time: e.event.time, from: fromOf.get(e.id) ?? 'the document' }));
  const signatures = ledger
    .events()
    .filter(
      (e) =>
        !accepted.has(e.id) && !hadSig.has(e.id) && e.id !== ledger.id && ledger.journalSignature(e.id) !== undefined
    ).length;
  const refused = result.problems.map((p) => ({
    id: p.eventId ?? '',
    from: fromOf.get(p.eventId ?? '') ?? '',
    code: p.code,
    message: p.message
  }));
  return {
    ledger,
    report: { ledgerId: ledger.id, documentProblems, rebuilt: !whole, keptAside, kept, restored, signatures, refused }
  };
}
