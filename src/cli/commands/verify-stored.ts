/**
 * verify's check of every file a ledger directory keeps beside its document and journal (the device log, its
 * checkpoints, the time-stamp store, policy texts, the prompt vault, the device identity), read-only; and
 * `verify --repair`, which writes again what is derived (the device log from the document, and the checkpoints
 * that no longer verify, kept aside first). What cannot be checked is said, with why.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FsStorage } from '../../lib/adapters/storage/fs.ts';
import { checkIdentity, identitySigner, loadIdentity } from '../../lib/adapters/node/identity.ts';
import type { Ledger } from '../../lib/core/ledger.ts';
import { isProofError, ProofCode } from '../../lib/core/proofs/errors.ts';
import {
  checkStoredLog,
  logKeyOf,
  rebuildLog,
  REPAIR_ADVICE,
  type RebuildReport
} from '../../lib/core/proofs/log-check.ts';
import {
  checkPolicyTexts,
  checkTimestamps,
  checkVault,
  storedCheckpointText,
  type StoredProblem
} from '../../lib/core/stored-check.ts';

/** One class of file: how many were read, how many problems, or why it was not checked. */
export interface FileClass {
  class: 'device-log' | 'checkpoints' | 'timestamps' | 'policy-texts' | 'vault' | 'identity';
  checked: number;
  problems: number;
  unchecked?: string;
}

export interface StoredReport {
  classes: FileClass[];
  problems: StoredProblem[];
  /** Folders present that verify does not check, with why. */
  unchecked: Array<{ folder: string; why: string }>;
  notes: string[];
  advice: string[];
}

/** Folders of a ledger directory verify reads nowhere, and why. */
const NOT_CHECKED: Record<string, string> = {
  team: 'the team keys (secrets for sync; nothing to check them against)',
  sync: "each peer's sync state (rebuilt by the next sync)",
  witness: "the state this device keeps of teammates' logs it cosigned (checked at each witnessing)",
  'witness-refusals': 'refused checkpoints kept as evidence of a fork (kept as they are)',
  'journal-commits':
    "a cache of the journal's commit ids (each file carries its own SHA-256; the journal drops a damaged one)",
  cache:
    "the read index of log, show and trace (authenticated with this device's key and used only while it names exactly the stored document chunks; a full load replaces it otherwise) and verify's record of its last sound check (authenticated with this device's key and used only for the same checkpoint, root and leaf ids)"
};

/** Every stored file beside the document and the journal, read-only. `documentSound`: the document had no problem. */
export async function checkStoredFiles(dir: string, storage: FsStorage, ledger: Ledger): Promise<StoredReport> {
  const problems: StoredProblem[] = [];
  const classes: FileClass[] = [];
  const notes: string[] = [];
  const advice: string[] = [];
  const add = (cls: FileClass['class'], checked: number, found: StoredProblem[], unchecked?: string) => {
    problems.push(...found);
    classes.push({ class: cls, checked, problems: found.length, ...(unchecked ? { unchecked } : {}) });
  };

  // The device identity, and the key this log is signed with (the identity's, else the one its checkpoints name).
  const signedBy = await logKeyOf(storage, ledger);
  const identity = await checkIdentity(storage, ledger.roster(), signedBy);
  add('identity', identity.unchecked ? 0 : 1, identity.problem ? [identity.problem] : [], identity.unchecked);
  if (identity.problem)
    advice.push(
      `the device key cannot be made again: restore it with \`provenance-ledger key import <backup> --ledger ${dir}\` (a damaged identity/device is replaced only by the key it should hold)`
    );
  const deviceKey = identity.publicKey ?? signedBy;

  // The device log and its checkpoints.
  const log = await checkStoredLog(storage, ledger, deviceKey);
  const isCheckpoint = (p: StoredProblem) => p.location.startsWith('log/checkpoints/');
  add(
    'device-log',
    log.leaves,
    log.problems.filter((p) => !isCheckpoint(p))
  );
  add(
    'checkpoints',
    log.checkpoints,
    log.problems.filter(isCheckpoint),
    deviceKey
      ? undefined
      : 'no device key is known for this log (no identity here, and no checkpoint names a member): signatures not checked'
  );
  if (log.lacking > 0 && log.problems.length === 0)
    notes.push(
      `the device log lacks ${log.lacking} event(s) of the ledger (received or pulled since it was last written): the next checkpoint, prove, sync or record appends them`
    );
  if (log.extra > 0 && log.problems.length === 0)
    notes.push(
      `log/leaves holds ${log.extra} entr${log.extra === 1 ? 'y' : 'ies'} past the log's size (an append cut short): the next append writes over them`
    );
  if (log.problems.some((p) => /the ledger does not hold/.test(p.message))) {
    advice.push(
      `the device log holds event(s) the document lacks: the document may have lost them. Do not rebuild the log (it would drop them); restore the document first (\`provenance-ledger recover --ledger ${dir}\`)`
    );
  } else if (log.problems.some((p) => !isCheckpoint(p))) {
    advice.push(
      `${REPAIR_ADVICE} (\`provenance-ledger verify --repair --ledger ${dir}\`; what it replaces is kept under log/damaged/)`
    );
  } else if (log.problems.length) {
    advice.push(
      `\`provenance-ledger verify --repair --ledger ${dir}\` keeps a damaged checkpoint aside (under log/damaged/) and signs its size again with this device's key, keeping the cosignatures that still verify`
    );
  }

  // Time-stamp tokens: judged only against a checkpoint that verified (a damaged checkpoint is reported as such).
  const badCheckpoints = new Set(log.problems.filter(isCheckpoint).map((p) => p.location));
  const stamps = await checkTimestamps(storage, async (size) =>
    badCheckpoints.has(`log/checkpoints/${String(size).padStart(16, '0')}`)
      ? undefined
      : storedCheckpointText(storage, size)
  );
  add('timestamps', stamps.checked, stamps.problems);
  if (stamps.problems.length)
    advice.push(
      'a time-stamp token cannot be made again: a damaged file under log/timestamps/ is left as it is (remove it to start afresh); the next checkpoint can be time-stamped anew'
    );

  const texts = await checkPolicyTexts(storage, ledger, deviceKey);
  add('policy-texts', texts.checked, texts.problems);
  if (texts.problems.length)
    advice.push(
      "a policy text cannot be made again from the ledger (it holds its hash only): restore texts/<sha256> from a backup or the platform's archive (the right bytes hash to the name); `record policy` with the same text writes it again"
    );

  const vault = await checkVault(storage, ledger, deviceKey);
  add('vault', vault.checked, vault.problems);
  notes.push(...vault.notes);
  if (vault.problems.length)
    advice.push(
      'a prompt opening cannot be made again (the ledger holds only its commitment): restore vault/<commitment> from a backup of this directory; until then that prompt cannot be revealed'
    );

  const unchecked: StoredReport['unchecked'] = [];
  for (const [folder, why] of Object.entries(NOT_CHECKED)) {
    if (
      await lstat(path.join(dir, folder)).then(
        () => true,
        () => false
      )
    )
      unchecked.push({ folder, why });
  }
  return { classes, problems, unchecked, notes, advice };
}

/**
 * verify --repair: writes the device log again from the ledger when it has problems or lags it (keeping its order,
 * setting aside checkpoints that no longer verify and signing them again with this device's key). Refused while
 * the document itself has problems: derived state is rebuilt only from a sound document.
 */
export async function repairStored(
  storage: FsStorage,
  ledger: Ledger,
  documentProblems: number
): Promise<{ done: string[]; refused: string[]; rebuilt?: RebuildReport }> {
  const done: string[] = [];
  const refused: string[] = [];
  if (documentProblems > 0) {
    refused.push(
      `the document has ${documentProblems} problem(s): the device log is rebuilt only from a sound document`
    );
    return { done, refused };
  }
  const identity = await loadIdentity(storage).catch(() => undefined);
  const signer =
    identity && ledger.roster().some((m) => m.key === identity.publicKey) ? identitySigner(identity) : undefined;
  const deviceKey = signer?.publicKey ?? (await logKeyOf(storage, ledger));
  // The record of time-stamp tokens stored: the tokens held are added to it (an entry of a token gone stays).
  const { TimestampStore } = await import('../../lib/core/timestamp/store.ts');
  const recorded = await new TimestampStore(storage)
    .recordHeld()
    .catch((e) => (refused.push(`log/timestamps-held: ${(e as Error).message}`), 0));
  if (recorded) done.push(`${recorded} time-stamp token(s) held were added to the record log/timestamps-held`);
  const before = await checkStoredLog(storage, ledger, deviceKey);
  if (before.problems.length === 0 && before.lacking === 0 && before.extra === 0) return { done, refused };
  let rebuilt: RebuildReport;
  try {
    rebuilt = await rebuildLog(storage, ledger, { signer, stamp: new Date().toISOString().replace(/[:.]/g, '-') });
  } catch (e) {
    if (isProofError(e, ProofCode.LOG_MISMATCH)) {
      refused.push(e.message);
      return { done, refused };
    }
    throw e;
  }
  if (rebuilt.rewritten)
    done.push(
      `the device log was written again from the ledger: ${rebuilt.leaves} leaves (${rebuilt.kept} in the order they were stored, ${rebuilt.appended} appended)`
    );
  else if (rebuilt.appended) done.push(`the device log was brought up to date: ${rebuilt.appended} event(s) appended`);
  if (rebuilt.setAside.length)
    done.push(`checkpoint(s) that no longer verify kept aside: size ${rebuilt.setAside.join(', ')}`);
  if (rebuilt.signed.length) done.push(`checkpoint(s) signed again: size ${rebuilt.signed.join(', ')}`);
  if (rebuilt.keptAt) done.push(`what was replaced is kept under ${rebuilt.keptAt}/`);
  refused.push(...rebuilt.notes);
  return { done, refused, rebuilt };
}

/**
 * The journal's branch refs, which its cross-check reads leniently (a malformed ref is skipped): each file under
 * journal.git/refs/heads holds a commit id the journal stores, and main is there once any event has a commit.
 * Each problem names the ref's file.
 */
export async function journalRefProblems(dir: string, ledger: Ledger): Promise<StoredProblem[]> {
  const gitdir = path.join(dir, 'journal.git');
  const problems: StoredProblem[] = [];
  const [{ nodeBinding }, { ObjectReader }, { listRefs }] = await Promise.all([
    import('../../lib/adapters/git/node.ts'),
    import('../../lib/adapters/git/store-read.ts'),
    import('../../lib/adapters/git/refs.ts')
  ]);
  const binding = nodeBinding(dir);
  const store = await ObjectReader.open(binding);
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(gitdir, rel), { withFileTypes: true }).catch(() => [])) {
      const name = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(name);
      else if (e.isFile() && !e.name.endsWith('.lock')) {
        const text = (await readFile(path.join(gitdir, name), 'latin1')).trim();
        const location = `journal.git/${name}`;
        if (!/^[0-9a-f]{40}$/.test(text))
          problems.push({
            code: 'JOURNAL_CORRUPT',
            message: 'the branch ref does not hold a commit id (40 hex digits)',
            location
          });
        else if (!(await store.has(text)))
          problems.push({
            code: 'JOURNAL_CORRUPT',
            message: `the branch ref points to commit ${text}, which the journal does not store`,
            location
          });
      }
    }
  };
  await walk('refs/heads');
  const hasMain =
    (await listRefs(binding, 'refs/heads')).has('main') ||
    problems.some((p) => p.location === 'journal.git/refs/heads/main');
  if (!hasMain && ledger.events().some((e) => ledger.journalSignature(e.id) !== undefined)) {
    problems.push({
      code: 'JOURNAL_CORRUPT',
      message: 'the journal has no main branch, though the ledger holds events with journal commits',
      location: 'journal.git/refs/heads/main'
    });
  }
  return problems;
}
