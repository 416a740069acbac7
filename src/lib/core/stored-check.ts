/**
 * The files a device keeps beside its document, checked read-only for verify (ledger-schema/README.md 12, 13, 20):
 *
 *   texts/<sha256>             policy texts: the bytes must hash to the name; a text of a snapshot this device
 *                              recorded must be there
 *   vault/<commitment>         prompt openings: each parses, names its commitment, and salt + prompt recompute it;
 *                              an opening of a generation this device recorded must be there
 *   log/timestamps/<size>      time-stamp tokens (and log/timestamps-pending/, settings/tsa, log/timestamps-held):
 *                              each file reads (TimestampStore.problems), every token the record says was stored
 *                              is there, and each token's imprint is the SHA-256 of this device's
 *                              checkpoint of that size, its CMS signature verifying (the TSA's root is the
 *                              verifier's business: a token is not judged trusted or not here)
 *
 * Each problem names its storage key. Nothing here writes.
 */
import { fromBase64, fromUtf8 } from './bytes.ts';
import { ErrorCode, isLedgerError } from './errors.ts';
import type { LedgerEvent } from './event.ts';
import { sha256Hex } from './hash.ts';
import type { StorageAdapter } from './storage.ts';
import { PromptVault } from './vault.ts';
import { TimestampStore } from './timestamp/store.ts';

export interface StoredProblem {
  code: string;
  message: string;
  /** The storage key of the file (a CLI path is DIR/<key>+). */
  location: string;
}

export interface StoredClassReport {
  /** Files read. */
  checked: number;
  problems: StoredProblem[];
  /** What is worth knowing and is no problem (openings no event commits to, say). */
  notes: string[];
}

/** Code of a token that does not time-stamp its checkpoint (the name a bundle's check uses too). */
export const TIMESTAMP_INVALID = 'TIMESTAMP_INVALID';

const HEX64 = /^[0-9a-f]{64}$/;

type Events = { events(): LedgerEvent[] };

/** Policy texts: named by their SHA-256. `deviceKey`: the snapshots this device recorded must have theirs. */
export async function checkPolicyTexts(
  storage: StorageAdapter,
  ledger: Events,
  deviceKey?: string
): Promise<StoredClassReport> {
  const report: StoredClassReport = { checked: 0, problems: [], notes: [] };
  const held = new Set<string>();
  for (const k of await storage.listKeys(['texts'])) {
    const location = k.join('/');
    if (k.length !== 2 || !HEX64.test(k[1])) {
      report.problems.push({
        code: ErrorCode.STORAGE_CORRUPT,
        message: 'not named by a SHA-256 (64 lowercase hex digits)',
        location
      });
      continue;
    }
    report.checked++;
    held.add(k[1]);
    const bytes = await storage.load(k);
    const actual = bytes ? await sha256Hex(bytes) : undefined;
    if (actual !== k[1]) {
      report.problems.push({
        code: ErrorCode.STORAGE_CORRUPT,
        message: `the text hashes to ${actual?.slice(0, 16)}…, not to its name: the stored bytes were changed`,
        location
      });
    }
  }
  if (deviceKey) {
    for (const ev of ledger.events()) {
      if (ev.event.type !== 'policy-snapshot' || ev.event.author !== deviceKey) continue;
      const sha = (ev.event.body as { text?: { sha256?: string } }).text?.sha256;
      if (sha && !held.has(sha)) {
        held.add(sha);
        report.problems.push({
          code: ErrorCode.STORAGE_MISSING,
          message: `the text of policy snapshot ${ev.id}, recorded by this device, is gone`,
          location: `texts/${sha}`
        });
      }
    }
  }
  return report;
}

/** Prompt openings: each must open its commitment. `deviceKey`: the generations this device recorded must have theirs. */
export async function checkVault(
  storage: StorageAdapter,
  ledger: Events,
  deviceKey?: string
): Promise<StoredClassReport> {
  const report: StoredClassReport = { checked: 0, problems: [], notes: [] };
  const vault = new PromptVault(storage);
  const held = new Set<string>();
  for (const k of await storage.listKeys(['vault'])) {
    const location = k.join('/');
    if (k.length !== 2 || !HEX64.test(k[1])) {
      report.problems.push({
        code: ErrorCode.VAULT_CORRUPT,
        message: 'not named by a prompt commitment (64 lowercase hex digits)',
        location
      });
      continue;
    }
    report.checked++;
    held.add(k[1]);
    try {
      await vault.get(k[1]);
    } catch (e) {
      report.problems.push({
        code: isLedgerError(e) ? e.code : ErrorCode.VAULT_CORRUPT,
        message: (e as Error).message,
        location
      });
    }
  }
  const committed = new Set<string>();
  for (const ev of ledger.events()) {
    if (ev.event.type !== 'generation') continue;
    const b = ev.event.body as { prompt?: { commitment?: string }; negativePrompt?: { commitment?: string } };
    for (const c of [b.prompt?.commitment, b.negativePrompt?.commitment]) {
      if (!c) continue;
      committed.add(c);
      if (deviceKey && ev.event.author === deviceKey && !held.has(c)) {
        held.add(c);
        report.problems.push({
          code: ErrorCode.STORAGE_MISSING,
          message: `the prompt opening of generation ${ev.id}, recorded by this device, is gone: the prompt cannot be revealed`,
          location: `vault/${c}`
        });
      }
    }
  }
  const orphans = [...held].filter((c) => !committed.has(c) && HEX64.test(c));
  if (orphans.length)
    report.notes.push(
      `${orphans.length} prompt opening(s) in the vault belong to no event of the ledger (a recording cut short before its event was stored)`
    );
  return report;
}

/**
 * Time-stamp tokens, pending requests and the TSA setting. `checkpointText(size)`: the signed text of this
 * device's stored checkpoint of that size, or undefined when there is none or it is damaged (the log's check
 * reports those; a token is then not judged).
 */
export async function checkTimestamps(
  storage: StorageAdapter,
  checkpointText: (size: number) => Promise<string | undefined>
): Promise<StoredClassReport> {
  const report: StoredClassReport = { checked: 0, problems: [], notes: [] };
  const store = new TimestampStore(storage);
  for (const p of await store.problems()) report.problems.push({ code: p.code, message: p.message, location: p.key });
  const damaged = new Set(report.problems.map((p) => p.location));
  const unrecorded = await store.unrecorded().catch(() => []);
  if (unrecorded.length) {
    report.problems.push({
      code: ErrorCode.STORAGE_MISSING,
      message: `${unrecorded.length} time-stamp token(s) held are not in the record of tokens stored (${unrecorded
        .map((u) => `size ${u.size} from ${u.tsa}`)
        .slice(0, 3)
        .join(', ')}): it was removed, or a write was cut short (\`verify --repair\` adds them)`,
      location: 'log/timestamps-held'
    });
  }
  for (const m of await store.missing().catch(() => [])) {
    report.problems.push({
      code: ErrorCode.STORAGE_MISSING,
      message: `the time-stamp token from ${m.tsa} over this device's checkpoint of size ${m.size} is gone (log/timestamps-held records that it was stored)`,
      location: `log/timestamps/${String(m.size).padStart(16, '0')}`
    });
  }
  report.checked =
    (await storage.listKeys(['log', 'timestamps'])).length +
    (await storage.listKeys(['log', 'timestamps-pending'])).length +
    ((await storage.load(['settings', 'tsa'])) ? 1 : 0) +
    ((await storage.load(['log', 'timestamps-held'])) ? 1 : 0);
  const sizes = (await store.sizes()).filter((n) => !damaged.has(`log/timestamps/${String(n).padStart(16, '0')}`));
  if (sizes.length === 0) return report;
  const [{ checkpointImprint }, { verifyTimestampToken }] = await Promise.all([
    import('./timestamp/request.ts'),
    import('./timestamp/verify.ts')
  ]);
  for (const size of sizes) {
    const text = await checkpointText(size);
    if (text === undefined) continue;
    const imprint = await checkpointImprint(text);
    const location = `log/timestamps/${String(size).padStart(16, '0')}`;
    const tokens = await store.tokens(size);
    for (const [i, t] of tokens.entries()) {
      const verdict = await verifyTimestampToken(fromBase64(t.token), imprint, []);
      if (verdict.status === 'invalid') {
        report.problems.push({
          code: TIMESTAMP_INVALID,
          message: `token ${i} (from ${t.tsa}) does not time-stamp this device's checkpoint of size ${size}: [${verdict.code}] ${verdict.reason}`,
          location
        });
      }
    }
  }
  return report;
}

/** The signed text of a stored checkpoint note, or undefined (absent, not text, not a note). */
export async function storedCheckpointText(storage: StorageAdapter, size: number): Promise<string | undefined> {
  const bytes = await storage.load(['log', 'checkpoints', String(size).padStart(16, '0')]);
  if (!bytes) return undefined;
  try {
    const { parseNote } = await import('./merkle/note.ts');
    return parseNote(fromUtf8(bytes)).text;
  } catch {
    return undefined;
  }
}
