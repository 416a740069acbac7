/**
 * record policy: a platform's policy document as retrieved now. The text is hashed and kept in the ledger
 * directory (under ["texts", sha256]), never in the ledger; the answers to the key questions come from a
 * JSON file; the snapshot names the previous one of the same platform and kind, and what changed since.
 */
import path from 'node:path';
import { sha256Hex } from '../../../lib/core/hash.ts';
import { fromUtf8 } from '../../../lib/core/bytes.ts';
import { ErrorCode, LedgerError } from '../../../lib/core/errors.ts';
import { formatTime } from '../../../lib/core/event.ts';
import { POLICY_ANSWERS, type PolicySnapshotBody } from '../../../lib/core/types.ts';
import { readInputFile, readTextFile } from '../../../lib/adapters/node/files.ts';
import { openSession, parseTime, type GlobalOptions } from '../../context.ts';
import type { Output } from '../../output.ts';
import { diffStats } from '../../textdiff.ts';
import { appendWithSideData, compact, printRecorded } from './common.ts';

export interface PolicyOptions extends GlobalOptions {
  platform: string;
  kind: string;
  textFile: string;
  url?: string;
  answers?: string;
  retrievedAt?: string;
  docVersion?: string;
  reviewedBy?: string;
  summary?: string;
  notes?: string;
}

export const ANSWER_KEYS = [
  'trainingOnInputs',
  'trainingOnOutputs',
  'optOutAvailable',
  'retentionAfterDeletion',
  'thirdPartySharing',
  'internalAccess'
] as const;
/** Answered or left out (absent: not answered); older snapshots have none. */
export const OPTIONAL_ANSWER_KEYS = [
  'outputsOwned',
  'contentLicense',
  'trainingDataDisclosed',
  'dataProtectionCommitments'
] as const;

export async function recordPolicy(opts: PolicyOptions, out: Output): Promise<void> {
  const s = await openSession(opts, { write: true });
  const { ledger, storage } = s;

  const text = await readInputFile(opts.textFile, 'policy text file');
  try {
    fromUtf8(text);
  } catch {
    throw new LedgerError(ErrorCode.BAD_INPUT, `policy text file ${opts.textFile} is not UTF-8 text`);
  }
  const sha256 = await sha256Hex(text);
  const ext = path.extname(opts.textFile).toLowerCase();
  const mediaType = ext === '.html' || ext === '.htm' ? 'text/html' : 'text/plain';
  const answers = opts.answers !== undefined ? await readAnswers(opts.answers) : defaultAnswers(out);
  const retrievedAt = opts.retrievedAt ? parseTime(opts.retrievedAt, '--retrieved-at') : formatTime(new Date());

  const previous = ledger
    .query({ types: ['policy-snapshot'] })
    .filter((e) => {
      const b = e.event.body as PolicySnapshotBody;
      return b.platform.name === opts.platform && b.kind === opts.kind;
    })
    .at(-1);
  let changes: PolicySnapshotBody['changes'];
  if (previous) {
    const prevText = (previous.event.body as PolicySnapshotBody).text;
    // A stored text is used only when its bytes still hash to its name (verify reports one that does not).
    let prevBytes = await storage.load(['texts', prevText.sha256]);
    if (prevBytes && prevText.sha256 !== sha256 && (await sha256Hex(prevBytes)) !== prevText.sha256) {
      out.warn(
        `the stored text of the previous snapshot (texts/${prevText.sha256}) is damaged: its bytes no longer hash to its name, so it is treated as missing (provenance-ledger verify reports it)`
      );
      prevBytes = undefined;
    }
    if (prevText.sha256 === sha256) {
      changes = { changedSections: 0, addedChars: 0, removedChars: 0 };
      out.note(`the text is unchanged since the previous snapshot ${previous.id.slice(0, 12)}`);
    } else if (prevBytes) {
      changes = diffStats(fromUtf8(prevBytes), fromUtf8(text));
    } else {
      out.note(`the previous snapshot's text is not on this device: changes not counted`);
    }
    if (opts.summary) changes = { ...changes, summary: opts.summary };
  } else if (opts.summary) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `--summary describes changes since a previous snapshot, and ${opts.platform} has no ${opts.kind} snapshot yet`
    );
  }

  const body = compact({
    platform: { name: opts.platform },
    kind: opts.kind,
    documentUrl: opts.url,
    retrievedAt,
    text: { sha256, size: text.length, mediaType },
    version: opts.docVersion,
    answers,
    previous: previous?.id,
    changes,
    reviewedBy: opts.reviewedBy,
    notes: opts.notes
  }) as unknown as PolicySnapshotBody;

  const key = ['texts', sha256];
  // A damaged file already under this text's name is replaced by the text itself (the bytes its name stands for).
  const held = await storage.load(key);
  if (held && (await sha256Hex(held)) !== sha256) {
    await storage.save(key, text);
    out.note(`texts/${sha256} was damaged: written again with this text, whose hash is its name`);
  }
  const ev = await appendWithSideData(s, 'policy-snapshot', body, [{ key, write: () => storage.save(key, text) }]);
  printRecorded(ev, ledger, out);
}

/**
 * Reads the answers file: an object with the six questions (and any of the optional ones), each either
 * {answer, excerpt?, days?} or just the answer word ("no"). The schema check at append names any field still wrong.
 */
async function readAnswers(file: string): Promise<Record<string, unknown>> {
  const text = await readTextFile(file, 'answers file');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new LedgerError(ErrorCode.BAD_INPUT, `answers file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `answers file ${file} must hold a JSON object with the keys ${ANSWER_KEYS.join(', ')}`
    );
  }
  const given = value as Record<string, unknown>;
  const known: readonly string[] = [...ANSWER_KEYS, ...OPTIONAL_ANSWER_KEYS];
  const unknown = Object.keys(given).filter((k) => !known.includes(k));
  const missing = ANSWER_KEYS.filter((k) => !(k in given));
  if (unknown.length || missing.length) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `answers file ${file}: ${[missing.length ? `missing ${missing.join(', ')}` : '', unknown.length ? `unknown ${unknown.join(', ')}` : ''].filter(Boolean).join('; ')}` +
        ` (each answer is one of ${POLICY_ANSWERS.join(', ')}, or an object {"answer": ..., "excerpt": ...})`
    );
  }
  const answers: Record<string, unknown> = {};
  for (const k of known) if (k in given) answers[k] = typeof given[k] === 'string' ? { answer: given[k] } : given[k];
  return answers;
}

function defaultAnswers(out: Output): Record<string, unknown> {
  out.note('no --answers file: every question recorded as "unclear" (not yet reviewed)');
  return Object.fromEntries(ANSWER_KEYS.map((k) => [k, { answer: 'unclear' }]));
}
