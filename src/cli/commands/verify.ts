/**
 * verify: every file the ledger keeps, checked again from disk: every stored chunk and every event, the Git
 * journal, the device log and its checkpoints, the time-stamp store, policy texts, the prompt vault and the device
 * identity (verify-stored.ts); what it cannot check is said. Exit 0 when all is well, 1 when a problem is found;
 * each problem is printed with its code, event id and location. A check writes nothing but, when all is well,
 * this device's verified record (cache/verified, ledger-schema/README.md section 11): the document is opened
 * without compacting it. Damaged storage is reported, not crashed on: the ledger is opened with allowProblems,
 * and if even that fails (say the chunk holding the genesis event was changed), the storage is verified without
 * opening it, and why it cannot open is reported too. `--repair` writes again what is derived from the document
 * (the device log, checkpoints that no longer verify) and says what it did.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { Ledger } from '../../lib/core/ledger.ts';
import { ErrorCode, isLedgerError } from '../../lib/core/errors.ts';
import type { Problem, VerifyReport } from '../../lib/core/verify.ts';
import { existingStorage, ledgerDir, type GlobalOptions } from '../context.ts';
import { Exit, type ExitCode, type Output } from '../output.ts';
import type { StoredReport } from './verify-stored.ts';
import { verifiedRecordKey, writeVerifiedRecord } from '../../lib/core/verified-record.ts';
import type { StorageAdapter } from '../../lib/core/storage.ts';
import { IDENTITY_KEY, identityPrivateKey } from '../read-index.ts';

export interface VerifyOptions extends GlobalOptions {
  repair?: boolean;
  /** Check every signature one by one (ledger-schema/README.md section 11, "What each mode proves"). */
  full?: boolean;
}

const LABELS: Record<string, string> = {
  'device-log': 'device log',
  checkpoints: 'checkpoints',
  timestamps: 'time-stamp files',
  'policy-texts': 'policy texts',
  vault: 'prompt vault',
  identity: 'device identity'
};

const exists = (file: string) =>
  lstat(file).then(
    () => true,
    () => false
  );

/** The key of this device's verified record, from its identity file; undefined without a readable one. */
async function deviceRecordKey(storage: StorageAdapter): Promise<CryptoKey | undefined> {
  try {
    const identity = await storage.load(IDENTITY_KEY);
    const pkcs8 = identity && identityPrivateKey(identity);
    return pkcs8 ? await verifiedRecordKey(pkcs8) : undefined;
  } catch {
    return undefined;
  }
}

export async function verify(opts: VerifyOptions, out: Output): Promise<ExitCode> {
  const dir = ledgerDir(opts);
  const storage = await existingStorage(dir);
  let report: VerifyReport;
  let name: string | undefined;
  let advice: string[] = [];
  let stored: StoredReport | undefined;
  let repaired: { done: string[]; refused: string[] } | undefined;
  let journalChecked = false;
  let pending: Problem[] = [];
  let recordKey: CryptoKey | undefined;
  try {
    const ledger = await Ledger.open({ storage, allowProblems: true, compactOnLoad: false });
    name = ledger.name;
    // This device's verified record (cache/verified, keyed from its private key): read by the default mode,
    // written below only when everything verify checks is sound.
    recordKey = await deviceRecordKey(storage);
    report = await ledger.verify({
      full: opts.full === true,
      ...(recordKey ? { record: { key: recordKey, write: false } } : {})
    });
    const files = await import('./verify-stored.ts');
    if (opts.repair) repaired = await files.repairStored(storage, ledger, report.problems.length);
    // The Git journal (DIR/journal.git), when there is one, must agree with the document.
    const journalCmds = await import('./journal.ts');
    const journal = await journalCmds.journalProblems(dir, ledger);
    // An event whose commit the journal lacks (a write cut short, concurrent appends) loses nothing: the journal is
    // written from the document, and the next write catches it up when it opens. Pending, not damage.
    pending = journal
      .filter((p) => p.code === ErrorCode.JOURNAL_MISSING)
      .map((p) => ({ ...p, code: ErrorCode.JOURNAL_PENDING, message: `${p.message} yet: the next write writes it` }));
    journal.splice(0, journal.length, ...journal.filter((p) => p.code !== ErrorCode.JOURNAL_MISSING));
    journalChecked = await exists(path.join(dir, 'journal.git', 'HEAD'));
    // A journal's commit-id cache without the journal: journal.git was removed (it is written again from the ledger).
    if (!journalChecked && (await exists(path.join(dir, 'journal-commits')))) {
      journal.push({
        code: ErrorCode.JOURNAL_CORRUPT,
        message: 'the Git journal is gone (its commit-id cache journal-commits/ is still here)',
        location: 'journal.git'
      });
    }
    if (journalChecked) journal.push(...((await files.journalRefProblems(dir, ledger)) as Problem[]));
    if (journal.length) report = { ...report, ok: false, problems: [...report.problems, ...journal] };
    // What to do about journal problems, in plain words (journal repair, or which author must sign).
    advice = await journalCmds.journalAdvice(dir, ledger, report.problems);
    // Every other file the ledger keeps.
    stored = await files.checkStoredFiles(dir, storage, ledger);
    // The log's head without its checkpoint, with no time-stamp kept for it: signing it was cut short (the log's
    // state is written before its checkpoint). The next write signs it (the same bytes: Ed25519 is deterministic).
    const headCheckpoint = await (await import('./recover.ts')).unsignedHead(storage);
    if (headCheckpoint) {
      pending.push(
        ...stored.problems
          .filter((p) => p.code === ErrorCode.STORAGE_MISSING && p.location === headCheckpoint)
          .map((p) => ({
            code: ErrorCode.CHECKPOINT_PENDING,
            message: `the log's head has no signed checkpoint yet: the next checkpoint, prove, sync or record signs it`,
            location: p.location
          }))
      );
      const left = stored.problems.filter(
        (p) => !(p.code === ErrorCode.STORAGE_MISSING && p.location === headCheckpoint)
      );
      const cls = stored.classes.find((c) => c.class === 'checkpoints');
      if (cls) cls.problems -= stored.problems.length - left.length;
      if (cls?.problems === 0)
        stored.advice = stored.advice.filter((a) => !a.includes('keeps a damaged checkpoint aside'));
      stored.problems = left;
    }
    if (stored.problems.length)
      report = { ...report, ok: false, problems: [...report.problems, ...(stored.problems as Problem[])] };
    advice.push(...stored.advice);
  } catch (err) {
    // The document gone while its journal or log is here is a problem to report (recover rebuilds it), not "no ledger".
    const e = await (await import('./recover.ts')).noDocumentError(dir, err);
    if (!isLedgerError(e) || e.code === ErrorCode.NOT_INITIALIZED) throw e;
    const doc =
      e !== err
        ? { ok: false, checked: 0, valid: 0, problems: [] }
        : await Ledger.verifyStorage(storage, undefined, { full: true });
    doc.problems.push({ code: e.code, message: `the ledger cannot be opened: ${e.message}`, location: 'doc' });
    report = { ...doc, ok: false };
  }
  const { ok, checked, valid, ledgerId, problems, signatures, record } = report;
  if (ok && recordKey && report.recordable) await writeVerifiedRecord(storage, recordKey, report.recordable);
  const eventChecks = record ? { mode: 'record' as const, ...record } : { mode: 'full' as const };
  const unchecked = stored
    ? [
        ...stored.classes.filter((c) => c.unchecked).map((c) => ({ what: c.class, why: c.unchecked! })),
        ...stored.unchecked.map((u) => ({ what: `${u.folder}/`, why: u.why }))
      ]
    : [
        {
          what: 'every file beside the document',
          why: 'the ledger cannot be opened, so nothing can be checked against it'
        }
      ];
  if (stored && !journalChecked)
    unchecked.unshift({ what: 'journal', why: 'this directory has no Git journal (journal.git)' });
  const files = stored
    ? Object.fromEntries(stored.classes.map((c) => [c.class, { checked: c.checked, problems: c.problems }]))
    : {};
  const notes = stored?.notes ?? [];
  out.result(
    {
      ok,
      checked,
      valid,
      ledgerId: ledgerId ?? null,
      problems,
      eventChecks,
      ...(signatures ? { signatures } : {}),
      files,
      unchecked,
      ...(notes.length ? { notices: notes } : {}),
      ...(pending.length ? { pending } : {}),
      ...(advice.length ? { advice } : {}),
      ...(repaired ? { repaired: repaired.done, notRepaired: repaired.refused } : {})
    },
    (say) => {
      for (const r of repaired?.done ?? []) say(`repaired: ${r}`);
      for (const r of repaired?.refused ?? []) say(`not repaired: ${r}`);
      if (ok) say(`ok: ledger "${name}" verified, ${valid} of ${checked} events valid, no problems`);
      else {
        say(
          `FAILED: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${name ? `ledger "${name}"` : dir} (${valid} of ${checked} events valid)`
        );
        for (const p of problems) {
          say(
            `  [${p.code}] ${p.location ?? ''}${p.eventId && !p.location?.includes(p.eventId) ? ` (event ${p.eventId})` : ''}`
          );
          say(`      ${p.message}`);
        }
      }
      if (record)
        say(
          `events: ${record.pinned} under checkpoint ${record.headSize}: bytes pinned by its root; form, schema and ids checked in full by this device on ${record.checked} (record authenticated by its key); verify --full checks again`
        );
      else say('events: form, schema and id of every event checked');
      if (signatures?.mode === 'full')
        say('signatures: every event and journal commit signature checked one by one (--full)');
      else if (signatures) {
        say(
          signatures.covered
            ? `signatures: ${signatures.covered} of this device's events covered by its signed checkpoint of size ${signatures.headSize} (one signature; leaves recomputed from the stored events), the other ${checked - signatures.covered} checked one by one; --full checks every one`
            : 'signatures: every event signature checked one by one (no checkpoint of this device covers the stored events)'
        );
      }
      if (stored)
        say(
          `checked: document, ${journalChecked ? 'journal, ' : ''}${stored.classes
            .filter((c) => !c.unchecked)
            .map((c) => `${LABELS[c.class]} (${c.checked})`)
            .join(', ')}`
        );
      for (const u of unchecked) say(`not checked: ${u.what}: ${u.why}`);
      for (const p of pending) say(`pending: [${p.code}] ${p.location ?? ''}: ${p.message}`);
      for (const n of notes) say(`notice: ${n}`);
      for (const a of advice) say(`what to do: ${a}`);
    }
  );
  return ok ? Exit.OK : Exit.PROBLEMS;
}
