/**
 * The device log against the ledger it derives from (ledger-schema/README.md section 13, "Checking a stored log").
 *
 *   matchLog          in memory: every leaf names an event the ledger holds, its hash is that of the event's stored
 *                     envelope, no id twice, and the leaves give the head kept in log/state. Events the log lacks
 *                     are counted (the log is behind: the next attach appends them), not a problem.
 *   assertLogMatches  the same, throwing: nothing is signed or sent over a log that fails it (DeviceLog.attach)
 *   checkStoredLog    read-only, for verify: the above, every stored checkpoint (signed by the device key over the
 *                     log's root at its size; every other signature a member's cosignature), and the checkpoints
 *                     that must be there (the log's head, and every size time-stamp tokens are kept for)
 *   rebuildLog        verify --repair: the log written again from the ledger, keeping the order the stored leaves
 *                     give wherever they still name an event; damaged checkpoints kept aside, checkpoints signed
 *                     again where a signer is given. Nothing is dropped: refused while the log names an event the
 *                     ledger lacks (the document, not the log, is then what is damaged).
 */
import { bytesEqual, fromUtf8, toHex, utf8 } from '../bytes.ts';
import type { LedgerEvent } from '../event.ts';
import type { Ledger } from '../ledger.ts';
import type { Signer } from '../keys.ts';
import { topoOrder } from '../roster.ts';
import type { StorageAdapter, StorageChunk, StorageKey } from '../storage.ts';
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from '../merkle/checkpoint.ts';
import { createCosignatureVerifier } from '../merkle/cosignature.ts';
import { createTreeHasher, HASH_SIZE } from '../merkle/hash.ts';
import {
  createEd25519Verifier,
  formatNote,
  openNote,
  parseNote,
  signNote,
  type NoteSignature,
  type NoteVerifier
} from '../merkle/note.ts';
import { MerkleTree } from '../merkle/tree.ts';
import { ProofCode, ProofError } from './errors.ts';
import { logNoteSigner, logOrigin, logVerifierKey, witnessVerifierKey } from './keys.ts';
import { CHUNK, DeviceLog, leafData, type LogProblem } from './log.ts';

/** What the checks read of the ledger (a Ledger has it all). */
export type LedgerView = Pick<Ledger, 'id' | 'size' | 'events' | 'get' | 'roster' | 'envelopeJson'>;

/** A problem of the stored log; `code` is a ProofCode, or STORAGE_MISSING for a file that must be there. */
export interface StoredLogProblem {
  code: string;
  message: string;
  location: string;
}

const ENTRY = 2 * HASH_SIZE;
const LEAVES = ['log', 'leaves'];
const STATE = ['log', 'state'];
const CHECKPOINTS = ['log', 'checkpoints'];
const TOKENS = ['log', 'timestamps'];
const PENDING = ['log', 'timestamps-pending'];
const SIZE_NAME = /^[0-9]{16}$/;
export const REPAIR_ADVICE =
  'the device log is derived from the ledger: `provenance-ledger verify --repair` writes it again';

const chunkName = (n: number) => String(n).padStart(8, '0');
const sizeName = (n: number) => String(n).padStart(16, '0');
const leafWhere = (i: number) => `log/leaves/${chunkName(Math.floor(i / CHUNK))} entry ${i % CHUNK} (leaf ${i})`;

const encoder = new TextEncoder();
let scratch = new Uint8Array(1 << 14);

/** The leaf hash the ledger determines for an event: SHA-256(0x00 || its stored envelope). */
function expectedLeaf(hasher: DeviceLog['hasher'], ledger: LedgerView, id: string): Uint8Array | undefined {
  const json = ledger.envelopeJson(id);
  if (json !== undefined) {
    // Encoded into one reused buffer: at 10,000 events this is 18 MB not allocated per check.
    if (json.length * 3 > scratch.length) scratch = new Uint8Array(json.length * 3);
    return hasher.hashLeaf(scratch.subarray(0, encoder.encodeInto(json, scratch).written));
  }
  const ev = ledger.get(id);
  return ev ? hasher.hashLeaf(leafData(ev)) : undefined;
}

export interface LogMatch {
  problems: LogProblem[];
  /** Events of the ledger the log does not hold yet. */
  lacking: number;
}

/**
 * The loaded log against the ledger in memory: one leaf hash per leaf (the envelope's SHA-256, the one cost that
 * grows with the ledger), one pass of node hashes for the head. No storage is read.
 */
export function matchLog(log: DeviceLog, ledger: LedgerView): LogMatch {
  const problems: LogProblem[] = [];
  const seen = new Set<string>();
  const tree = new MerkleTree(log.hasher, null);
  let known = 0;
  for (let i = 0; i < log.size; i++) {
    const id = log.eventIdAt(i);
    const leaf = log.leafHash(i);
    tree.append(leaf);
    if (seen.has(id)) {
      problems.push({ code: ProofCode.LOG_CORRUPT, message: `event ${id} is logged twice`, location: leafWhere(i) });
      continue;
    }
    seen.add(id);
    const want = expectedLeaf(log.hasher, ledger, id);
    if (!want)
      problems.push({
        code: ProofCode.LOG_MISMATCH,
        message: `names event ${id}, which the ledger does not hold`,
        location: leafWhere(i)
      });
    else {
      known++;
      if (!bytesEqual(want, leaf))
        problems.push({
          code: ProofCode.LOG_MISMATCH,
          message: `the leaf hash is not that of event ${id}'s stored envelope`,
          location: leafWhere(i)
        });
    }
  }
  // With every leaf right, only the head kept in log/state can be wrong.
  if (problems.length === 0 && !bytesEqual(tree.root(), log.root())) {
    problems.push({
      code: ProofCode.LOG_CORRUPT,
      message: `the ${log.size} stored leaves do not give the tree head kept in log/state: log/state was altered`,
      location: 'log/state'
    });
  }
  return { problems, lacking: ledger.size - known };
}

/** Throws LOG_MISMATCH (or LOG_CORRUPT) naming the first problems when the log does not match the ledger. */
export function assertLogMatches(log: DeviceLog, ledger: LedgerView): void {
  const { problems } = matchLog(log, ledger);
  if (problems.length === 0) return;
  throw logRefusal(problems);
}

function logRefusal(problems: readonly LogProblem[]): ProofError {
  const code = problems.some((p) => p.code === ProofCode.LOG_MISMATCH) ? ProofCode.LOG_MISMATCH : ProofCode.LOG_CORRUPT;
  const shown = problems
    .slice(0, 3)
    .map((p) => `${p.location}: ${p.message}`)
    .join('; ');
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
  return new ProofError(
    code,
    `this device's log does not match the ledger, so nothing is signed or sent from it: ${shown}${more}. ${capitalize(REPAIR_ADVICE)}`,
    {
      detail: { problems }
    }
  );
}

const capitalize = (s: string) => s[0].toUpperCase() + s.slice(1);

/** Loads the stored log and checks it against the ledger, read-only; throws as assertLogMatches does. */
export async function assertStoredLogMatches(storage: StorageAdapter, ledger: LedgerView): Promise<void> {
  let log: DeviceLog;
  try {
    log = await DeviceLog.load(storage);
  } catch (e) {
    throw logRefusal([
      { code: ProofCode.LOG_CORRUPT, message: (e as Error).message, location: locationOf((e as Error).message) }
    ]);
  }
  assertLogMatches(log, ledger);
}

const locationOf = (message: string) => message.match(/log\/[a-z]+(\/[0-9]+)?/)?.[0] ?? 'log';

// ------------------------------------------------------------------------------------------------ verify

export interface StoredLogReport {
  problems: StoredLogProblem[];
  /** Leaves held (the log's size), when it loaded. */
  leaves: number;
  checkpoints: number;
  lacking: number;
  /** Entries stored past the size log/state gives (an append cut short; taken again by the next attach). */
  extra: number;
  /** The public key the checkpoints were checked against (undefined: none known, checkpoints not checked). */
  logKey?: string;
}

/** Entries stored under log/leaves, whatever log/state says (malformed chunks are skipped). */
async function rawEntries(storage: StorageAdapter): Promise<{ ids: string[]; leaves: Uint8Array[] }> {
  const ids: string[] = [];
  const leaves: Uint8Array[] = [];
  for (const c of await storage.loadRange(LEAVES)) {
    if (c.key.length !== 3) continue;
    for (let o = 0; o + ENTRY <= c.data.length; o += ENTRY) {
      ids.push(toHex(c.data.subarray(o, o + HASH_SIZE)));
      leaves.push(c.data.slice(o + HASH_SIZE, o + ENTRY));
    }
  }
  return { ids, leaves };
}

/** Sizes named under a prefix (16 decimal digits), ascending. */
async function sizesUnder(storage: StorageAdapter, prefix: StorageKey): Promise<number[]> {
  return (await storage.listKeys(prefix))
    .filter((k) => k.length === 3 && SIZE_NAME.test(k[2]))
    .map((k) => Number(k[2]))
    .filter((n) => n > 0)
    .sort((a, b) => a - b);
}

/**
 * The public key whose log this is: `identityKey` when given, else the roster member whose fingerprint the stored
 * checkpoints' origin names (so checkpoints are still checked when the device identity is damaged).
 */
export async function logKeyOf(
  storage: StorageAdapter,
  ledger: LedgerView,
  identityKey?: string
): Promise<string | undefined> {
  if (identityKey) return identityKey;
  const sizes = await sizesUnder(storage, CHECKPOINTS);
  for (const size of sizes.reverse()) {
    try {
      const origin = parseCheckpoint(
        parseNote(fromUtf8((await storage.load([...CHECKPOINTS, sizeName(size)]))!)).text
      ).origin;
      for (const m of ledger.roster()) if (origin === (await logOrigin(ledger.id, m.key))) return m.key;
    } catch {
      /* a damaged note names no key: try an older one */
    }
  }
  return undefined;
}

/** Verifiers of this log's checkpoints: its own key, and every other member's witness key. */
async function verifiersFor(
  ledger: LedgerView,
  publicKey: string
): Promise<{ log: NoteVerifier; witnesses: NoteVerifier[] }> {
  const log = await createEd25519Verifier(await logVerifierKey(ledger.id, publicKey));
  const witnesses = await Promise.all(
    ledger
      .roster()
      .filter((m) => m.key !== publicKey)
      .map(async (m) => createCosignatureVerifier(await witnessVerifierKey(ledger.id, m.key)))
  );
  return { log, witnesses };
}

/** Why a stored checkpoint note is not a good one of this log at `size`, or undefined when it is. */
async function checkpointFault(
  note: string,
  size: number,
  v: { log: NoteVerifier; witnesses: NoteVerifier[] },
  rootAt: (n: number) => Uint8Array | undefined
): Promise<string | undefined> {
  try {
    const { checkpoint, note: opened } = await openCheckpoint(note, v.log, v.witnesses);
    if (opened.unverified.length)
      return `carries ${opened.unverified.length} signature(s) no member key verifies (${opened.unverified.map((x) => x.name).join(', ')})`;
    if (checkpoint.size !== size) return `stored under ${sizeName(size)} but its size is ${checkpoint.size}`;
    const root = rootAt(size);
    if (!root || !bytesEqual(checkpoint.rootHash, root)) return `its root is not this log's root at size ${size}`;
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Everything verify checks of the device log, read-only. `publicKey` is the device's (see logKeyOf); without one
 * the checkpoints' signatures cannot be checked and are left out.
 */
export async function checkStoredLog(
  storage: StorageAdapter,
  ledger: LedgerView,
  publicKey?: string
): Promise<StoredLogReport> {
  const problems: StoredLogProblem[] = [];
  const report: StoredLogReport = {
    problems,
    leaves: 0,
    checkpoints: 0,
    lacking: ledger.size,
    extra: 0,
    logKey: publicKey
  };
  const hasState = (await storage.load(STATE)) !== undefined;
  const raw = await rawEntries(storage);
  const sizes = await sizesUnder(storage, CHECKPOINTS);
  report.checkpoints = (await storage.listKeys(CHECKPOINTS)).length;
  let log: DeviceLog;
  try {
    log = await DeviceLog.load(storage);
  } catch (e) {
    const message = (e as Error).message;
    // "leaves hold fewer entries than the state says": the leaves were cut, or the state's size was changed.
    const location = /entries, the state says/.test(message)
      ? `log/state, log/leaves/${chunkName(Math.max(0, Math.ceil(raw.ids.length / CHUNK) - 1))}`
      : locationOf(message);
    problems.push({ code: ProofCode.LOG_CORRUPT, message: `${message}. ${capitalize(REPAIR_ADVICE)}`, location });
    return report;
  }
  report.leaves = log.size;
  report.extra = Math.max(0, raw.ids.length - log.size);
  const match = matchLog(log, ledger);
  report.lacking = match.lacking;
  problems.push(...match.problems);
  const beyond = sizes.filter((n) => n > log.size);
  if (beyond.length) {
    problems.push({
      code: ProofCode.LOG_CORRUPT,
      message: `${hasState ? `log/state says the log holds ${log.size} entries` : 'log/state is missing'}, but this device signed a checkpoint of ${beyond.at(-1)} entries: log/state was rolled back or removed`,
      location: 'log/state'
    });
  }
  if (problems.length) return report; // checkpoints are judged against a sound log only
  if (!publicKey) return report;
  const v = await verifiersFor(ledger, publicKey);
  const rootAt = (n: number) => (n <= log.size ? log.rootAt(n) : undefined);
  for (const k of await storage.listKeys(CHECKPOINTS)) {
    const location = k.join('/');
    if (k.length !== 3 || !SIZE_NAME.test(k[2]) || Number(k[2]) < 1) {
      problems.push({
        code: ProofCode.CHECKPOINT_INVALID,
        message: 'not named by a checkpoint size (16 decimal digits)',
        location
      });
      continue;
    }
    const bytes = await storage.load(k);
    let note: string;
    try {
      note = fromUtf8(bytes ?? new Uint8Array());
    } catch {
      problems.push({ code: ProofCode.CHECKPOINT_INVALID, message: 'not UTF-8 text', location });
      continue;
    }
    const fault = await checkpointFault(note, Number(k[2]), v, rootAt);
    if (fault) problems.push({ code: ProofCode.CHECKPOINT_INVALID, message: fault, location });
  }
  // Checkpoints that must be there: the head's (signed after every batch this device logs), and every size that
  // time-stamp tokens or pending requests are kept for (their imprint is that checkpoint's text).
  const have = new Set(sizes);
  const must = new Map<number, string>();
  if (log.size > 0)
    must.set(
      log.size,
      `the log's head (${log.size} entries) has no signed checkpoint: it was removed, or signing it was cut short (\`provenance-ledger checkpoint\` or \`verify --repair\` signs it)`
    );
  for (const n of await sizesUnder(storage, TOKENS))
    must.set(n, `log/timestamps/${sizeName(n)} holds time-stamp tokens over this checkpoint, which is gone`);
  for (const n of await sizesUnder(storage, PENDING))
    if (!must.has(n))
      must.set(n, `log/timestamps-pending/${sizeName(n)} waits to time-stamp this checkpoint, which is gone`);
  for (const [n, why] of must)
    if (!have.has(n))
      problems.push({ code: 'STORAGE_MISSING', message: why, location: `log/checkpoints/${sizeName(n)}` });
  return report;
}

// ------------------------------------------------------------------------------------------------ repair

export interface RebuildReport {
  /** Whether log/leaves and log/state were written again. */
  rewritten: boolean;
  leaves: number;
  /** Stored leaves whose position was kept (found by event id, or by leaf hash when the id was damaged). */
  kept: number;
  /** Events appended after them (the ledger's topological order). */
  appended: number;
  /** Checkpoints kept aside (damaged, or over another root), by size. */
  setAside: number[];
  /** Checkpoints signed again (or signed for the first time at the head), by size. */
  signed: number[];
  /** Where what was replaced is kept (log/damaged/<time>), when anything was. */
  keptAt?: string;
  /** What could not be done (no signer, a checkpoint beyond the log). */
  notes: string[];
}

/** A storage view in which the log's leaves and state read as absent (to build a fresh log over the same keys). */
function withoutLog(storage: StorageAdapter): StorageAdapter {
  const hidden = (k: StorageKey) => k[0] === 'log' && (k[1] === 'state' || k[1] === 'leaves');
  return {
    load: (k) => (hidden(k) ? Promise.resolve(undefined) : storage.load(k)),
    loadRange: (p) => (hidden(p) ? Promise.resolve([]) : storage.loadRange(p)),
    listKeys: (p) => (hidden(p) ? Promise.resolve([]) : storage.listKeys(p)),
    save: (k, d) => storage.save(k, d),
    remove: (k) => storage.remove(k),
    removeRange: (p) => storage.removeRange(p),
    ...(storage.saveMany ? { saveMany: (w: StorageChunk[], r?: StorageKey[]) => storage.saveMany!(w, r) } : {})
  };
}

/**
 * Writes the device log again from the ledger (verify --repair). The order is the stored leaves' wherever an entry
 * still names an event of the ledger (by id, or by leaf hash when its id bytes were damaged), then the events the
 * log lacks, parents first. What it replaces (the old state and leaves, checkpoints that no longer verify) is kept
 * under log/damaged/<stamp>/. With a signer, checkpoints set aside are signed again at their size (the same text
 * when the order was kept, so time-stamp tokens over it still hold, and cosignatures that still verify are kept),
 * and the head gets one if it has none. Throws LOG_MISMATCH, writing nothing, while a stored leaf names an event
 * the ledger does not hold.
 */
export async function rebuildLog(
  storage: StorageAdapter,
  ledger: LedgerView,
  opts: { signer?: Signer; stamp: string }
): Promise<RebuildReport> {
  const hasher = await createTreeHasher();
  const report: RebuildReport = {
    rewritten: false,
    leaves: 0,
    kept: 0,
    appended: 0,
    setAside: [],
    signed: [],
    notes: []
  };
  const damagedPrefix = ['log', 'damaged', opts.stamp];
  const keepAside = async (key: StorageKey, data: Uint8Array) => {
    await storage.save([...damagedPrefix, ...key.slice(1)], data);
    report.keptAt = damagedPrefix.join('/');
  };

  // 1. The order: stored entries resolved against the ledger.
  const byLeaf = new Map<string, string>();
  for (const ev of ledger.events()) byLeaf.set(toHex(expectedLeaf(hasher, ledger, ev.id)!), ev.id);
  const raw = await rawEntries(storage);
  const order: string[] = [];
  const placed = new Set<string>();
  const unknown: string[] = [];
  raw.ids.forEach((id, i) => {
    const found = ledger.get(id) ? id : byLeaf.get(toHex(raw.leaves[i]));
    if (!found) unknown.push(`${leafWhere(i)} names event ${id}`);
    else if (!placed.has(found)) {
      placed.add(found);
      order.push(found);
    }
  });
  if (unknown.length) {
    throw new ProofError(
      ProofCode.LOG_MISMATCH,
      `the device log holds ${unknown.length} event(s) the ledger does not (${unknown.slice(0, 3).join('; ')}): the document may have lost them, and rebuilding the log from it would drop them. Nothing was changed`,
      { detail: { unknown } }
    );
  }
  report.kept = order.length;
  const lacking = new Map(
    ledger
      .events()
      .filter((e) => !placed.has(e.id))
      .map((e) => [e.id, e] as [string, LedgerEvent])
  );
  for (const id of topoOrder(lacking as Map<never, LedgerEvent>)) order.push(id);
  report.appended = order.length - report.kept;

  // 2. Is the stored log already this one? Then leaves and state stay as they are.
  let current: DeviceLog | undefined;
  try {
    current = await DeviceLog.load(storage);
  } catch {
    current = undefined;
  }
  const sound =
    current !== undefined &&
    matchLog(current, ledger).problems.length === 0 &&
    current.size === report.kept &&
    raw.ids.length === current.size;
  let log: DeviceLog;
  if (sound) {
    log = current!;
    if (report.appended) await log.reconcile(ledger as Ledger);
  } else {
    for (const c of await storage.loadRange(LEAVES)) await keepAside(c.key, c.data);
    const state = await storage.load(STATE);
    if (state) await keepAside(STATE, state);
    log = await DeviceLog.load(withoutLog(storage));
    await log.append(order.map((id) => ledger.get(id)!));
    const chunks = Math.ceil(order.length / CHUNK);
    for (const k of await storage.listKeys(LEAVES))
      if (k.length !== 3 || !(Number(k[2]) < chunks && k[2] === chunkName(Number(k[2])))) await storage.remove(k);
    log = await DeviceLog.load(storage);
    report.rewritten = true;
  }
  report.leaves = log.size;

  // 3. Checkpoints: those that do not verify against the log as it now is are kept aside.
  const publicKey = opts.signer?.publicKey ?? (await logKeyOf(storage, ledger));
  if (!publicKey) {
    report.notes.push('no device key is known for this log: its checkpoints were not checked');
    return report;
  }
  const v = await verifiersFor(ledger, publicKey);
  const rootAt = (n: number) => (n <= log.size ? log.rootAt(n) : undefined);
  const aside = new Map<number, string>();
  for (const k of await storage.listKeys(CHECKPOINTS)) {
    const bytes = (await storage.load(k)) ?? new Uint8Array();
    const size = k.length === 3 && SIZE_NAME.test(k[2]) ? Number(k[2]) : 0;
    let note = '';
    try {
      note = fromUtf8(bytes);
    } catch {
      /* not text: set aside */
    }
    if (size > 0 && note && !(await checkpointFault(note, size, v, rootAt))) continue;
    await keepAside(k, bytes);
    await storage.remove(k);
    report.setAside.push(size);
    if (size > 0) aside.set(size, note);
  }

  // 4. Signed again: the sizes set aside and the head.
  if (!opts.signer) {
    if (aside.size || (log.size > 0 && !(await storage.load([...CHECKPOINTS, sizeName(log.size)]))))
      report.notes.push(
        'no device key here: checkpoints were not signed again (key import your backup, then run verify --repair again)'
      );
    return report;
  }
  const want = new Set([...aside.keys()].filter((n) => n <= log.size));
  for (const n of aside.keys())
    if (n > log.size)
      report.notes.push(
        `the checkpoint of size ${n} is beyond the log (${log.size} entries): kept aside, not signed again`
      );
  if (log.size > 0 && !(await storage.load([...CHECKPOINTS, sizeName(log.size)]))) want.add(log.size);
  const origin = await logOrigin(ledger.id, opts.signer.publicKey);
  const noteSigner = await logNoteSigner(ledger.id, opts.signer);
  for (const n of [...want].sort((a, b) => a - b)) {
    const text = formatCheckpoint({ origin, size: n, rootHash: log.rootAt(n), extensions: [] });
    const cosigs = await salvageCosignatures(aside.get(n), text, v.witnesses);
    const signed = await signNote(text, [noteSigner]);
    const note = cosigs.length
      ? formatNote({ text, signatures: [...parseNote(signed).signatures, ...cosigs] })
      : signed;
    await storage.save([...CHECKPOINTS, sizeName(n)], utf8(note));
    report.signed.push(n);
  }
  return report;
}

/** The cosignatures of a damaged note that still verify, one by one, over `text`. */
async function salvageCosignatures(
  note: string | undefined,
  text: string,
  witnesses: readonly NoteVerifier[]
): Promise<NoteSignature[]> {
  if (!note) return [];
  let sigs: readonly NoteSignature[];
  try {
    const parsed = parseNote(note);
    if (parsed.text !== text) return [];
    sigs = parsed.signatures;
  } catch {
    return [];
  }
  const out: NoteSignature[] = [];
  for (const s of sigs) {
    try {
      const opened = await openNote(formatNote({ text, signatures: [s] }), witnesses);
      if (opened.verified.length === 1 && !out.some((o) => o.name === s.name && o.keyId === s.keyId)) out.push(s);
    } catch {
      /* damaged, or not a witness's */
    }
  }
  return out;
}
