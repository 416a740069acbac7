/**
 * recover: rebuilds a lost or damaged document from every surviving copy on this device (core/recover.ts): the
 * local Git journal's commits (each holds its event's envelope and journal signature) and whatever the document's
 * readable chunks still hold. Every event is checked as section 11 does before it is stored; what was restored is
 * reported event by event, with where it came from; a damaged document's files are kept aside, never deleted.
 * Then the journal is caught up and the device log is brought in step (or said to need `verify --repair`).
 * Exit 0 when every event any copy holds is in the document again, 1 when some could not be restored.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { recoverDocument, type FoundEvent, type RecoverReport } from '../../lib/core/recover.ts';
import type { Ledger } from '../../lib/core/ledger.ts';
import { ErrorCode, isLedgerError, LedgerError } from '../../lib/core/errors.ts';
import { identitySigner, loadIdentity } from '../../lib/adapters/node/identity.ts';
import { existingStorage, ledgerDir, type GlobalOptions } from '../context.ts';
import { Exit, type ExitCode, type Output } from '../output.ts';

const exists = (file: string) =>
  lstat(file).then(
    () => true,
    () => false
  );

export async function recover(opts: GlobalOptions, out: Output): Promise<ExitCode> {
  const dir = ledgerDir(opts);
  const storage = await existingStorage(dir);
  const [{ nodeBinding }, { salvageJournal }, { ObjectWriter }, { GitJournal }] = await Promise.all([
    import('../../lib/adapters/git/node.ts'),
    import('../../lib/adapters/git/salvage.ts'),
    import('../../lib/adapters/git/objects.ts'),
    import('../../lib/adapters/git/journal.ts')
  ]);
  const binding = nodeBinding(dir);

  // 1. What the journal holds (every commit stored, not only those its refs reach).
  let found: FoundEvent[] = [];
  let unreadable: Array<{ oid: string; message: string }> = [];
  const hasJournal = await exists(path.join(binding.gitdir, 'HEAD'));
  if (hasJournal) {
    const salvage = await salvageJournal(binding, await (await ObjectWriter.open(binding)).storedOids());
    found = salvage.events.map((c) => ({
      id: c.eventId,
      json: c.json,
      signature: c.signature,
      from: `journal commit ${c.oid}`
    }));
    unreadable = salvage.unreadable;
  }

  // 2. The document, made whole again.
  const { ledger, report } = await recoverDocument(storage, found);

  // 3. The journal written from the document where it lacks commits (damaged journal files are journal repair's).
  let journalNote: string | undefined;
  try {
    const journal = await GitJournal.attach(binding, ledger);
    await journal.settled();
    journal.detach();
  } catch (e) {
    journalNote = `the Git journal could not be brought in step: ${(e as Error).message} (see \`provenance-ledger verify\`)`;
  }

  // 4. The device log: events it names that no copy here holds are lost on this device; otherwise it catches up.
  const { logNote, lost } = await stepLog(storage, ledger);

  const ok = report.refused.length === 0 && lost.length === 0;
  const keptAt = report.keptAside ? path.join(path.resolve(dir), report.keptAside) : null;
  out.result(
    {
      ok,
      ledger: { id: ledger.id, name: ledger.name },
      rebuilt: report.rebuilt,
      damagedKeptAt: keptAt,
      documentProblems: report.documentProblems,
      kept: report.kept,
      restored: report.restored,
      signaturesRestored: report.signatures,
      refused: report.refused,
      lost,
      unreadableCommits: unreadable,
      events: ledger.size,
      ...(journalNote ? { journal: journalNote } : {}),
      ...(logNote ? { log: logNote } : {})
    },
    (say) => lines(dir, ledger, report, { keptAt, unreadable, lost, journalNote, logNote }).forEach((l) => say(l))
  );
  return ok ? Exit.OK : Exit.PROBLEMS;
}

/** The device log after recovery: caught up when it matches the document; else why not, and what it names that is lost. */
async function stepLog(
  storage: Awaited<ReturnType<typeof existingStorage>>,
  ledger: Ledger
): Promise<{ logNote?: string; lost: string[] }> {
  const { DeviceLog } = await import('../../lib/core/proofs/log.ts');
  if (
    (await storage.listKeys(['log', 'leaves'])).length === 0 &&
    (await storage.listKeys(['log', 'state'])).length === 0
  )
    return { lost: [] };
  let ids: string[];
  try {
    const log = await DeviceLog.load(storage, { recover: true });
    ids = Array.from({ length: log.size }, (_, i) => log.eventIdAt(i));
  } catch (e) {
    return {
      logNote: `the device log is damaged (${(e as Error).message}): \`provenance-ledger verify --repair\` writes it again from the document`,
      lost: []
    };
  }
  const lost = ids.filter((id) => !ledger.get(id));
  if (lost.length) {
    return {
      logNote: `the device log names ${lost.length} event(s) that neither the document nor the journal here holds: they were lost on this device; a teammate (sync) or a Git remote (pull) may hold them`,
      lost
    };
  }
  const identity = await loadIdentity(storage).catch(() => undefined);
  const signer = identity && ledger.member(identity.publicKey)?.active ? identitySigner(identity) : undefined;
  try {
    const log = await DeviceLog.attach(ledger, storage, signer ? { signer } : {});
    await log.settled();
    log.detach();
    return { lost: [] };
  } catch (e) {
    return { logNote: `the device log does not match the document (${(e as Error).message})`, lost: [] };
  }
}

function lines(
  dir: string,
  ledger: Ledger,
  r: RecoverReport,
  x: {
    keptAt: string | null;
    unreadable: Array<{ oid: string; message: string }>;
    lost: string[];
    journalNote?: string;
    logNote?: string;
  }
): string[] {
  const out: string[] = [];
  if (r.rebuilt) {
    const why = r.documentProblems.length
      ? `it was damaged (${r.documentProblems.map((p) => `${p.location}: ${p.message}`).join('; ')})`
      : 'it was missing';
    out.push(`The document of ledger "${ledger.name}" was rebuilt: ${why}.`);
    if (x.keptAt) out.push(`  its files are kept at ${x.keptAt}`);
  } else if (r.restored.length || r.signatures) {
    out.push(`The document of ledger "${ledger.name}" held ${r.kept} events; it lacked some that the journal holds.`);
  }
  for (const e of r.restored) out.push(`restored ${e.type} ${e.id} (${e.time}) from ${e.from}`);
  if (r.signatures) out.push(`restored the journal signatures of ${r.signatures} event(s)`);
  for (const e of r.refused)
    out.push(`refused ${e.id || 'an entry'}${e.from ? ` from ${e.from}` : ''}: [${e.code}] ${e.message}`);
  for (const u of x.unreadable) out.push(`could not read journal commit ${u.oid}: ${u.message}`);
  for (const id of x.lost) out.push(`lost: event ${id} is in the device log, and in no copy on this device`);
  if (x.journalNote) out.push(x.journalNote);
  if (x.logNote) out.push(x.logNote);
  if (!r.rebuilt && !r.restored.length && !r.signatures && !r.refused.length && !x.lost.length) {
    out.push(
      `nothing to recover: the document of ledger "${ledger.name}" holds all ${ledger.size} events the journal and the device log hold`
    );
  } else {
    out.push(`the ledger holds ${ledger.size} events; check it with: provenance-ledger verify --ledger ${dir}`);
  }
  return out;
}

/**
 * The copies of a ledger that outlive its document (the Git journal, the device log), as the user calls them. A
 * directory holding one but no document has lost its document: `recover` rebuilds it from them (init would start
 * another ledger beside them, and is refused there).
 */
export async function survivingCopies(dir: string): Promise<string[]> {
  const found: string[] = [];
  if (await exists(path.join(dir, 'journal.git', 'HEAD'))) found.push('its Git journal (journal.git)');
  if ((await exists(path.join(dir, 'log', 'leaves'))) || (await exists(path.join(dir, 'log', 'state+'))))
    found.push('its device log (log/)');
  return found;
}

/** When `e` says there is no ledger but copies of one survive: the error saying to run recover (else `e`). */
export async function noDocumentError(dir: string, e: unknown): Promise<unknown> {
  if (!isLedgerError(e) || e.code !== ErrorCode.NOT_INITIALIZED) return e;
  const copies = await survivingCopies(dir);
  if (!copies.length) return e;
  return new LedgerError(
    ErrorCode.STORAGE_MISSING,
    `the ledger's document (${path.join(dir, 'doc')}) is missing, but ${dir} holds ${copies.join(' and ')}: run \`provenance-ledger recover --ledger ${dir}\` to rebuild the document from them`
  );
}

/** Openings younger than this may belong to an append still under way in another process: never swept. */
export const ORPHAN_GRACE_MS = 10 * 60_000;

/**
 * Startup recovery of the vault (write sessions, once the journal has attached, so the document is known to hold
 * every event the journal's refs name): prompt openings no event commits to, left by an append cut short between
 * its opening and its event (the opening is written first, core/vault.ts), are removed once they are older than
 * ORPHAN_GRACE_MS. Nothing is swept while the device log names an event the document lacks (the document may have
 * lost the very event an opening belongs to: `recover` first). Returns the commitments removed.
 */
export async function sweepVault(
  storage: Awaited<ReturnType<typeof existingStorage>>,
  ledger: Ledger,
  now = Date.now()
): Promise<string[]> {
  try {
    if ((await storage.listKeys(['vault'])).length === 0) return [];
    const { PromptVault } = await import('../../lib/core/vault.ts');
    let logWhole: Promise<boolean> | undefined;
    const wholeLog = async () => {
      const { DeviceLog } = await import('../../lib/core/proofs/log.ts');
      const log = await DeviceLog.load(storage, { recover: true });
      for (let i = 0; i < log.size; i++) if (!ledger.get(log.eventIdAt(i))) return false;
      return true;
    };
    const mayRemove = async (key: string[]) => {
      const at = await storage.modifiedAt(key);
      if (at === undefined || now - at < ORPHAN_GRACE_MS) return false;
      return (logWhole ??= wholeLog().catch(() => false));
    };
    return await new PromptVault(storage).sweepOrphans(ledger.events(), mayRemove);
  } catch {
    return []; // a sweep that cannot run now (a damaged log, say) is tried again by the next write
  }
}

/**
 * The storage key of the device log's head checkpoint when it may be missing only because signing it was cut short
 * (an append writes the log's state, then signs the checkpoint): undefined when the log is empty or damaged, or when
 * time-stamp tokens or requests are kept for that size (then the checkpoint existed, and its loss is damage).
 */
export async function unsignedHead(storage: Awaited<ReturnType<typeof existingStorage>>): Promise<string | undefined> {
  try {
    const { DeviceLog } = await import('../../lib/core/proofs/log.ts');
    const size = (await DeviceLog.load(storage)).size;
    if (size === 0) return undefined;
    const name = String(size).padStart(16, '0');
    if ((await storage.load(['log', 'timestamps', name])) || (await storage.load(['log', 'timestamps-pending', name])))
      return undefined;
    return `log/checkpoints/${name}`;
  } catch {
    return undefined;
  }
}
