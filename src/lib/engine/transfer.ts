/**
 * The ledger as one file, for moving it between devices or keeping a copy: JSON lines.
 *
 *   line 1   {"format":"provenance-ledger/export/v1","ledgerId":…,"ledgerName":…,"events":N,"exportedAt":…}
 *   line 2…  ["<event id>","<the signed envelope's canonical JSON, exactly as stored>"]
 *
 * The envelope is kept as a string so its bytes survive the round trip: the id and the signature are over
 * those bytes. Importing trusts nothing in the file: it is parsed field by field here, then every event is
 * verified as a whole ledger (schema, id, signature, parents, roster) BEFORE anything is stored; a file with any
 * problem is refused whole, and the device's ledger is left as it was. What passes goes through
 * Ledger.receive, which checks each event again against the ledger it joins.
 */
import type { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { verifyEntries, type Problem } from '../core/verify.ts';

export const EXPORT_FORMAT = 'provenance-ledger/export/v1';
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024;
const MAX_EVENT_CHARS = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  ledgerId: string;
  ledgerName: string;
  events: number;
  exportedAt: string;
}

export interface ParsedExport {
  manifest: ExportManifest;
  entries: Array<[string, string]>;
}

/** The whole ledger as export text. */
export function encodeLedger(ledger: Ledger, now = new Date()): string {
  const doc = ledger.doc as Record<string, { val?: string } | string>;
  const events = ledger.events();
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    ledgerId: ledger.id,
    ledgerName: ledger.name,
    events: events.length,
    exportedAt: now.toISOString()
  };
  const lines = [JSON.stringify(manifest)];
  for (const ev of events) {
    const v = doc[ev.id];
    const json = typeof v === 'string' ? v : v?.val;
    if (typeof json === 'string') lines.push(JSON.stringify([ev.id, json]));
  }
  return lines.join('\n') + '\n';
}

const refuse = (message: string, problems?: Problem[]): never => {
  throw new LedgerError(ErrorCode.BAD_INPUT, message, problems ? { detail: problems } : {});
};

/** Parses export text; anything unexpected is refused with the line it was found on. */
export function parseLedgerExport(text: string): ParsedExport {
  if (typeof text !== 'string' || text.length === 0) refuse('The file is empty.');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let head: unknown;
  try {
    head = JSON.parse(lines[0]);
  } catch {
    refuse('This is not a ledger export: the first line is not JSON.');
  }
  const m = (typeof head === 'object' && head !== null ? head : {}) as Record<string, unknown>;
  if (m.format !== EXPORT_FORMAT) refuse(`This is not a ledger export (expected format "${EXPORT_FORMAT}").`);
  if (typeof m.ledgerId !== 'string' || !HEX64.test(m.ledgerId)) refuse('The export names no valid ledger id.');
  if (typeof m.ledgerName !== 'string' || m.ledgerName.length > 256) refuse('The export has no valid ledger name.');
  if (!Number.isSafeInteger(m.events) || (m.events as number) < 1) refuse('The export has no valid event count.');
  if (typeof m.exportedAt !== 'string') refuse('The export has no export time.');
  if (lines.length - 1 !== m.events) refuse(`The export announces ${m.events} events but holds ${lines.length - 1}: it is truncated or altered.`);
  const entries: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    let row: unknown;
    try {
      row = JSON.parse(lines[i]);
    } catch {
      refuse(`Line ${i + 1} is not JSON: the file is damaged.`);
    }
    if (!Array.isArray(row) || row.length !== 2 || typeof row[0] !== 'string' || typeof row[1] !== 'string') {
      refuse(`Line ${i + 1} is not an [id, event] pair.`);
    }
    const [id, json] = row as [string, string];
    if (!HEX64.test(id)) refuse(`Line ${i + 1}: not an event id.`);
    if (json.length > MAX_EVENT_CHARS) refuse(`Line ${i + 1}: the event is larger than 1 MB.`);
    if (seen.has(id)) refuse(`Line ${i + 1}: event ${id.slice(0, 12)} appears twice.`);
    seen.add(id);
    entries.push([id, json]);
  }
  return { manifest: m as unknown as ExportManifest, entries };
}

/**
 * Verifies an export as a whole ledger on its own. Throws with every problem (code, event, location) in
 * `detail` when anything is wrong, so nothing of a damaged or hostile file is stored.
 */
export async function verifyExport(parsed: ParsedExport): Promise<void> {
  const report = await verifyEntries(parsed.entries, parsed.manifest.ledgerId);
  if (!report.ok) {
    const first = report.problems[0];
    refuse(
      `The file was refused, nothing was imported: ${report.problems.length} ${report.problems.length === 1 ? 'problem' : 'problems'} ` +
        `(first: ${first.code}${first.eventId ? ` in event ${first.eventId.slice(0, 12)}` : ''}: ${first.message}).`,
      report.problems
    );
  }
}
