/**
 * Chain-of-custody records made from the asset page: export, derivation, handoff and deletion. Each input is
 * checked field by field at the door (the page, and later peers, are not trusted to send well-formed data),
 * new files are hashed here in the worker, and the body is built for Ledger.append, whose schema check is the
 * last word.
 */
import type { Ledger } from '../core/ledger.ts';
import type { LedgerEvent } from '../core/event.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import { DELETION_STATUSES, DERIVATION_OPERATIONS, DESTINATION_KINDS, EVIDENCE_KINDS } from '../core/types.ts';
import type { DeletionStatus, DerivationOperation, DestinationKind, EvidenceKind } from '../core/types.ts';
import { hashFile, type FileRef } from './files.ts';
import type { Progress } from './protocol.ts';

/** A file already named by the ledger (chosen from the asset's files): it is not hashed again. */
export interface KnownFile {
  name: string;
  format: string;
  size: number;
  sha256: string;
}

export type CustodyInput =
  | {
      type: 'export';
      generation?: string;
      /** Recorded files that were downloaded (usually the generation's outputs). */
      known: KnownFile[];
      /** Other files downloaded, hashed here. */
      files: File[];
      destination: { label: string; kind: DestinationKind; encrypted: boolean };
      notes?: string;
    }
  | {
      type: 'derivation';
      /** The earlier files the edit started from. */
      known: KnownFile[];
      /** The files the edit produced, hashed here. */
      files: File[];
      tool: { name: string; version?: string };
      operation: DerivationOperation;
      sources?: string[];
      notes?: string;
    }
  | {
      type: 'handoff';
      known: KnownFile[];
      files: File[];
      recipient: { name: string; organization?: string; contact?: string };
      derivedFrom?: string[];
      channel?: string;
      terms?: string;
      project?: string;
      notes?: string;
    }
  | {
      type: 'deletion';
      platform: string;
      generation?: string;
      platformJobId?: string;
      /** SHA-256 of the files whose cloud copy is meant. */
      fileHashes: string[];
      status: DeletionStatus;
      /** The confirmation e-mail, screenshot or API response: only its hash enters the ledger. */
      evidence?: File;
      evidenceKind?: EvidenceKind;
      notes?: string;
    };

const HEX64 = /^[0-9a-f]{64}$/;
const MAX_FILES = 500;

const bad = (message: string): never => {
  throw new LedgerError(ErrorCode.BAD_INPUT, message);
};

function text(value: unknown, field: string, max = 256): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') bad(`${field} must be text`);
  const s = (value as string).trim();
  if (s.length === 0) return undefined;
  if (s.length > max) bad(`${field} is longer than ${max} characters`);
  if (!s.isWellFormed()) bad(`${field} is not valid Unicode text`);
  return s;
}

const required = (value: unknown, field: string, max = 256): string =>
  text(value, field, max) ?? bad(`${field} is required`);

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!(allowed as readonly unknown[]).includes(value)) bad(`${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function eventId(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !HEX64.test(value)) bad(`${field} is not an event id`);
  return value as string;
}

function eventIds(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 64) bad(`${field} must be a list of at most 64 event ids`);
  const ids = [...new Set((value as unknown[]).map((v) => eventId(v, field) as string))];
  return ids.length ? ids.sort() : undefined;
}

function known(value: unknown): FileRef[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_FILES) bad('the chosen files must be a list');
  return (value as unknown[]).map((v) => {
    const f = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const name = required(f.name, 'File name', 255);
    const format =
      typeof f.format === 'string' && /^[a-z0-9]{1,16}$/.test(f.format) ? f.format : bad(`${name}: bad format`);
    const size =
      Number.isSafeInteger(f.size) && (f.size as number) >= 0 ? (f.size as number) : bad(`${name}: bad size`);
    const sha256 = typeof f.sha256 === 'string' && HEX64.test(f.sha256) ? f.sha256 : bad(`${name}: bad SHA-256`);
    return { name, format, size, sha256 };
  });
}

function files(value: unknown): File[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((f) => f instanceof Blob && typeof (f as File).name === 'string')) {
    bad('files must be a list of files');
  }
  if ((value as File[]).length > MAX_FILES) bad(`at most ${MAX_FILES} files`);
  return value as File[];
}

/** Hashes new files in order, reporting progress over their total size. */
export async function hashAll(list: File[], progress?: (p: Progress) => void): Promise<FileRef[]> {
  const total = list.reduce((n, f) => n + f.size, 0);
  let before = 0;
  const out: FileRef[] = [];
  for (const f of list) {
    out.push(await hashFile(f, (done) => progress?.({ label: `Hashing ${f.name}`, done: before + done, total })));
    before += f.size;
  }
  return out;
}

/** Known files first, then new ones; one entry per hash. */
function merge(a: FileRef[], b: FileRef[]): FileRef[] {
  const seen = new Set<string>();
  return [...a, ...b].filter((f) => (seen.has(f.sha256) ? false : (seen.add(f.sha256), true)));
}

const opt = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export async function recordCustody(
  ledger: Ledger,
  input: CustodyInput,
  progress?: (p: Progress) => void
): Promise<LedgerEvent> {
  if (typeof input !== 'object' || input === null) bad('nothing to record');
  const notes = text((input as { notes?: unknown }).notes, 'Notes', 4000);
  switch (input.type) {
    case 'export': {
      const label = required(input.destination?.label, 'Destination');
      const kind = oneOf(input.destination?.kind, DESTINATION_KINDS, 'Destination kind');
      const all = merge(known(input.known), await hashAll(files(input.files), progress));
      if (all.length === 0) bad('Choose at least one exported file');
      return ledger.append('export', {
        ...opt({ generation: eventId(input.generation, 'Generation') }),
        files: all,
        destination: { label, kind, encrypted: input.destination.encrypted === true },
        exportedAt: new Date().toISOString(),
        ...opt({ notes })
      });
    }
    case 'derivation': {
      const parents = known(input.known);
      if (parents.length === 0) bad('Choose at least one file the edit started from');
      const outputs = await hashAll(files(input.files), progress);
      if (outputs.length === 0) bad('Choose the files the edit produced');
      const tool = required(input.tool?.name, 'Tool');
      return ledger.append('derivation', {
        parents,
        outputs,
        tool: { name: tool, ...opt({ version: text(input.tool?.version, 'Tool version') }) },
        operation: oneOf(input.operation, DERIVATION_OPERATIONS, 'Operation'),
        ...opt({ sources: eventIds(input.sources, 'Sources'), notes })
      });
    }
    case 'handoff': {
      const name = required(input.recipient?.name, 'Recipient');
      const all = merge(known(input.known), await hashAll(files(input.files), progress));
      if (all.length === 0) bad('Choose at least one delivered file');
      return ledger.append('handoff', {
        files: all,
        recipient: {
          name,
          ...opt({
            organization: text(input.recipient?.organization, 'Organization'),
            contact: text(input.recipient?.contact, 'Contact')
          })
        },
        deliveredAt: new Date().toISOString(),
        ...opt({
          derivedFrom: eventIds(input.derivedFrom, 'Derived from'),
          channel: text(input.channel, 'Channel'),
          terms: text(input.terms, 'Terms', 4000),
          project: text(input.project, 'Project'),
          notes
        })
      });
    }
    case 'deletion': {
      const platform = required(input.platform, 'Platform');
      const status = oneOf(input.status, DELETION_STATUSES, 'Status');
      if (!Array.isArray(input.fileHashes) || input.fileHashes.length > MAX_FILES) bad('file hashes must be a list');
      const hashes = [
        ...new Set(
          input.fileHashes.map((h) => (typeof h === 'string' && HEX64.test(h) ? h : bad('not a SHA-256 hash')))
        )
      ];
      const generation = eventId(input.generation, 'Generation');
      const platformJobId = text(input.platformJobId, 'Platform job id');
      if (!generation && !platformJobId && hashes.length === 0)
        bad('Say what was deleted: a generation, a job id or files');
      let evidence: object | undefined;
      if (input.evidence !== undefined) {
        const [ref] = await hashAll(files([input.evidence]), progress);
        evidence = {
          sha256: ref.sha256,
          kind: oneOf(input.evidenceKind ?? 'other', EVIDENCE_KINDS, 'Evidence kind'),
          size: ref.size,
          ...opt({ mediaType: input.evidence.type || undefined })
        };
      }
      const now = new Date().toISOString();
      return ledger.append('deletion', {
        platform: { name: platform },
        target: opt({ generation, platformJobId, files: hashes.length ? hashes : undefined }),
        status,
        ...opt({ evidence, notes }),
        ...(status === 'requested' ? { requestedAt: now } : {}),
        ...(status === 'confirmed' ? { confirmedAt: now } : {})
      });
    }
    default:
      return bad('unknown record type');
  }
}
