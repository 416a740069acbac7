/**
 * The ledger as one file, for moving it between devices or keeping a copy: JSON lines.
 *
 *   line 1   {"format":"provenance-ledger/export/v2","ledgerId":…,"ledgerName":…,"events":N,"signatures":M,"exportedAt":…}
 *   then     ["<event id>","<the signed envelope's canonical JSON, exactly as stored>"]
 *            ["<event id>.git","<its journal commit signature, base64url of 64 bytes, exactly as stored>"]
 *
 * Each event's journal signature (ledger-schema/README.md section 18, the `<id>.git` entry of the document)
 * follows its event: without it the importing device could never rebuild the event's journal commit (only the
 * author can sign it), and its verify would report JOURNAL_SIGNATURE_MISSING. v1 files (events only, made
 * before journal signatures) are refused with that explanation.
 *
 * Values are kept as strings so their bytes survive the round trip: the ids and signatures are over those
 * bytes. Importing trusts nothing in the file: it is parsed field by field here, then every event and every
 * journal signature is verified as a whole ledger (schema, id, signature, parents, roster, journal commits)
 * BEFORE anything is stored; a file with any problem is refused whole, and the device's ledger is left as it
 * was. What passes goes through Ledger.receive, which checks each event and signature again against the ledger
 * it joins.
 */
import type { Ledger } from '../core/ledger.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { verifyEntries, type Problem } from '../core/verify.ts';
import {
  decodeSig,
  eventOfSigKey,
  isSigKey,
  JournalCommits,
  sigKey,
  verifyJournalSignatures
} from '../core/journal/signatures.ts';

export const EXPORT_FORMAT = 'provenance-ledger/export/v2';
/** Events only, without journal signatures: refused on import (see above). */
export const EXPORT_FORMAT_V1 = 'provenance-ledger/export/v1';
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024;
const MAX_EVENT_CHARS = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  ledgerId: string;
  ledgerName: string;
  events: number;
  /** How many `<id>.git` journal signature lines follow (one per event that has one). */
  signatures: number;
  exportedAt: string;
}

export interface ParsedExport {
  manifest: ExportManifest;
  /** [event id, envelope JSON] */
  entries: Array<[string, string]>;
  /** [`<event id>.git`, signature value], as Ledger.receive takes them. */
  signatures: Array<[string, string]>;
}

/** The whole ledger as export text. */
export function encodeLedger(ledger: Ledger, now = new Date()): string {
  const events = ledger.events();
  const rows: string[] = [];
  let signatures = 0;
  for (const ev of events) {
    const json = ledger.envelopeJson(ev.id);
    if (typeof json !== 'string') continue;
    rows.push(JSON.stringify([ev.id, json]));
    const sig = ledger.journalSignature(ev.id);
    if (typeof sig === 'string') {
      rows.push(JSON.stringify([sigKey(ev.id), sig]));
      signatures++;
    }
  }
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    ledgerId: ledger.id,
    ledgerName: ledger.name,
    events: rows.length - signatures,
    signatures,
    exportedAt: now.toISOString()
  };
  return JSON.stringify(manifest) + '\n' + rows.join('\n') + '\n';
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
  if (m.format === EXPORT_FORMAT_V1) {
    refuse(
      'This export was made by an older version, without the journal signatures every event now carries; the ' +
        'events would not verify here. Export the ledger again from the device that made this file.'
    );
  }
  if (m.format !== EXPORT_FORMAT) refuse(`This is not a ledger export (expected format "${EXPORT_FORMAT}").`);
  if (typeof m.ledgerId !== 'string' || !HEX64.test(m.ledgerId)) refuse('The export names no valid ledger id.');
  if (typeof m.ledgerName !== 'string' || m.ledgerName.length > 256) refuse('The export has no valid ledger name.');
  if (!Number.isSafeInteger(m.events) || (m.events as number) < 1) refuse('The export has no valid event count.');
  if (!Number.isSafeInteger(m.signatures) || (m.signatures as number) < 0)
    refuse('The export has no valid signature count.');
  if (typeof m.exportedAt !== 'string') refuse('The export has no export time.');
  const announced = (m.events as number) + (m.signatures as number);
  if (lines.length - 1 !== announced) {
    refuse(
      `The export announces ${m.events} events and ${m.signatures} signatures but holds ${lines.length - 1} lines: it is truncated or altered.`
    );
  }
  const entries: Array<[string, string]> = [];
  const signatures: Array<[string, string]> = [];
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
    const [key, value] = row as [string, string];
    if (seen.has(key)) refuse(`Line ${i + 1}: ${key.slice(0, 12)}${isSigKey(key) ? '….git' : ''} appears twice.`);
    seen.add(key);
    if (isSigKey(key)) {
      if (!decodeSig(value))
        refuse(`Line ${i + 1}: the journal signature of event ${key.slice(0, 12)} is not 64 bytes in base64url.`);
      signatures.push([key, value]);
      continue;
    }
    if (!HEX64.test(key)) refuse(`Line ${i + 1}: not an event id.`);
    if (value.length > MAX_EVENT_CHARS) refuse(`Line ${i + 1}: the event is larger than 1 MB.`);
    entries.push([key, value]);
  }
  if (entries.length !== m.events || signatures.length !== m.signatures) {
    refuse(
      `The export announces ${m.events} events and ${m.signatures} signatures but holds ${entries.length} and ${signatures.length}.`
    );
  }
  return { manifest: m as unknown as ExportManifest, entries, signatures };
}

/**
 * Verifies an export as a whole ledger on its own: every event, and every event's journal signature over its
 * commit (an event without one is a problem, as verify reports it). Throws with every problem (code, event,
 * location) in `detail` when anything is wrong, so nothing of a damaged or hostile file is stored.
 */
export async function verifyExport(parsed: ParsedExport): Promise<void> {
  const report = await verifyEntries(parsed.entries, parsed.manifest.ledgerId);
  const problems = [...report.problems];
  if (report.ok) {
    await JournalCommits.ready();
    const sigs = new Map(parsed.signatures.map(([k, v]) => [eventOfSigKey(k) as string, v]));
    problems.push(...(await verifyJournalSignatures(parsed.entries, sigs, new Set())));
  }
  if (problems.length > 0) {
    const first = problems[0];
    refuse(
      `The file was refused, nothing was imported: ${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} ` +
        `(first: ${first.code}${first.eventId ? ` in event ${first.eventId.slice(0, 12)}` : ''}: ${first.message}).`,
      problems
    );
  }
}
