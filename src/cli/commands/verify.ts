/**
 * verify: every stored chunk and every event checked again from disk. Exit 0 when all is well, 1 when a
 * problem is found; each problem is printed with its code, event id and location. Damaged storage is
 * reported, not crashed on: the ledger is opened with allowProblems, and if even that fails (say the chunk
 * holding the genesis event was changed), the storage is verified without opening it, and why it cannot open
 * is reported too.
 */
import { Ledger } from '../../lib/core/ledger.ts';
import { ErrorCode, isLedgerError } from '../../lib/core/errors.ts';
import type { VerifyReport } from '../../lib/core/verify.ts';
import { existingStorage, ledgerDir, type GlobalOptions } from '../context.ts';
import { Exit, type ExitCode, type Output } from '../output.ts';

export async function verify(opts: GlobalOptions, out: Output): Promise<ExitCode> {
  const dir = ledgerDir(opts);
  const storage = await existingStorage(dir);
  let report: VerifyReport;
  let name: string | undefined;
  let advice: string[] = [];
  try {
    const ledger = await Ledger.open({ storage, allowProblems: true });
    name = ledger.name;
    report = await ledger.verify();
    // The Git journal (DIR/journal.git), when there is one, must agree with the document.
    const journalCmds = await import('./journal.ts');
    const journal = await journalCmds.journalProblems(dir, ledger);
    if (journal.length) report = { ...report, ok: false, problems: [...report.problems, ...journal] };
    // What to do about journal problems, in plain words (journal repair, or which author must sign).
    advice = await journalCmds.journalAdvice(dir, ledger, report.problems);
  } catch (e) {
    if (!isLedgerError(e) || e.code === ErrorCode.NOT_INITIALIZED) throw e;
    const stored = await Ledger.verifyStorage(storage);
    stored.problems.push({ code: e.code, message: `the ledger cannot be opened: ${e.message}`, location: 'doc' });
    report = { ...stored, ok: false };
  }
  const { ok, checked, valid, ledgerId, problems } = report;
  out.result({ ok, checked, valid, ledgerId: ledgerId ?? null, problems, ...(advice.length ? { advice } : {}) }, (say) => {
    if (ok) {
      say(`ok: ledger "${name}" verified, ${valid} of ${checked} events valid, no problems`);
      return;
    }
    say(`FAILED: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${name ? `ledger "${name}"` : dir} (${valid} of ${checked} events valid)`);
    for (const p of problems) {
      say(`  [${p.code}] ${p.location ?? ''}${p.eventId && !p.location?.includes(p.eventId) ? ` (event ${p.eventId})` : ''}`);
      say(`      ${p.message}`);
    }
    for (const a of advice) say(`what to do: ${a}`);
  });
  return ok ? Exit.OK : Exit.PROBLEMS;
}
