/** What every command needs: the ledger directory, its storage, the device identity, the ledger itself. */
import { lstat, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FsStorage } from '../lib/adapters/storage/fs.ts';
import type { NodeIdentity } from '../lib/adapters/node/identity.ts';
import type { Ledger } from '../lib/core/ledger.ts';
import { ErrorCode, LedgerError } from '../lib/core/errors.ts';
import type { LedgerEvent } from '../lib/core/event.ts';
import type { EventType } from '../lib/core/types.ts';
import { CliError, type Output } from './output.ts';
import { openReadIndex, trackDocument, writeReadIndex, type LedgerReader, type TrackedStorage } from './read-index.ts';

export const LEDGER_DIR_ENV = 'PROVENANCE_LEDGER_DIR';

export interface GlobalOptions {
  ledger?: string;
  json?: boolean;
}

/** The ledger directory: --ledger, else $PROVENANCE_LEDGER_DIR (commander fills it in from the env). */
export function ledgerDir(opts: GlobalOptions): string {
  if (!opts.ledger) throw new CliError('USAGE', `no ledger directory: pass --ledger DIR or set ${LEDGER_DIR_ENV}`);
  return opts.ledger;
}

/**
 * The top-level folders of a ledger directory that its storage writes (ledger-schema/README.md section 12):
 * the only ones in which opening it removes stale temp files. (A folder left out only keeps its stale temp
 * files.) journal.git and journal-commits are Git's and the journal's, not the storage's.
 */
export const LEDGER_FOLDERS = [
  'doc',
  'identity',
  'vault',
  'texts',
  'log',
  'team',
  'sync',
  'settings',
  'witness',
  'witness-refusals',
  'cache'
] as const;
/** Any of these in a directory makes it a ledger's (possibly a damaged one); none: not a ledger. */
const LEDGER_MARKS = ['doc', 'identity', 'log', 'journal.git'];
/**
 * Written by `clone` before anything else and removed after everything else (commands/journal.ts): while it is
 * there the directory holds a clone cut short, which no other command opens; `clone` run again starts it over.
 */
export const CLONE_MARK = 'clone-unfinished';

/**
 * Refuses a directory a clone was cut short in (CLONE_MARK): every command but `clone` itself and `key import`
 * (a key restored before the clone is run again) leaves it alone, `init`, `join` and `restore` included.
 */
export async function refuseUnfinishedClone(dir: string): Promise<void> {
  const unfinished = await readFile(path.join(dir, CLONE_MARK), 'utf8').then(
    (url) => url.trim(),
    (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : '')
  );
  if (unfinished === undefined) return;
  // The file is written first and whole, but read as possibly damaged: only a plain URL is quoted back.
  const url = /^[\x21-\x7e]{1,2000}$/.test(unfinished) ? unfinished : 'URL';
  throw new LedgerError(
    ErrorCode.CLONE_UNFINISHED,
    `${dir} holds a clone that was cut short, not a ledger (nothing in it was read or changed): run provenance-ledger clone ${url} --ledger ${dir} again, which starts it over`
  );
}

/**
 * The storage of an existing ledger directory. Never creates the directory (a typo in --ledger must not
 * leave an empty ledger behind): that is init's job. A directory that holds none of a ledger's own folders is
 * refused before anything in it is read, walked or removed; `write` sessions sweep stale temp files from the
 * ledger's own folders (LEDGER_FOLDERS), read-only ones touch nothing.
 */
export async function existingStorage(dir: string, opts: { write?: boolean } = {}): Promise<FsStorage> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new LedgerError(ErrorCode.BAD_INPUT, `--ledger ${dir} is not a directory`);
  } catch (e) {
    if (e instanceof LedgerError) throw e;
    throw new LedgerError(
      ErrorCode.NOT_INITIALIZED,
      `no ledger in ${dir}: the directory does not exist (create one with provenance-ledger init)`
    );
  }
  const marks = await Promise.all(
    LEDGER_MARKS.map((m) =>
      lstat(path.join(dir, m)).then(
        () => true,
        () => false
      )
    )
  );
  await refuseUnfinishedClone(dir);
  if (!marks.includes(true)) {
    throw new LedgerError(
      ErrorCode.NOT_INITIALIZED,
      `${dir} is not a ledger: it holds none of ${LEDGER_MARKS.map((m) => `${m}/`).join(', ')} (nothing in it was read or changed; create a ledger with provenance-ledger init)`
    );
  }
  return FsStorage.open(dir, { sweep: opts.write ? LEDGER_FOLDERS : [] });
}

export interface Session {
  dir: string;
  storage: FsStorage;
  ledger: Ledger;
  identity?: NodeIdentity;
  /** Write sessions keep the Git journal (DIR/journal.git) in step with every append. */
  journal?: import('../lib/adapters/git/journal.ts').GitJournal;
  /** Write sessions: this device's Merkle log, attached now if no event has attached it yet (one per session). */
  deviceLog?: () => Promise<import('../lib/core/proofs/log.ts').DeviceLog>;
}

/**
 * Opens the ledger in the directory. `write` needs this device's key (and refuses to go on without it);
 * `allowProblems` opens damaged storage so that verify can report it.
 */
export async function openSession(
  opts: GlobalOptions,
  mode: { write?: boolean; allowProblems?: boolean } = {}
): Promise<Session> {
  const dir = ledgerDir(opts);
  const tracked = trackDocument(await existingStorage(dir, { write: mode.write }));
  const storage = tracked.storage;
  await import('@automerge/automerge'); // the wasm that the core's '@automerge/automerge/slim' uses
  const [{ loadIdentity, identitySigner }, { Ledger }] = await Promise.all([
    import('../lib/adapters/node/identity.ts'),
    import('../lib/core/ledger.ts')
  ]);
  const identity = await loadIdentity(storage);
  if (mode.write && !identity) {
    throw new LedgerError(
      ErrorCode.KEY_MISMATCH,
      `no device key in ${dir}: run init, or key import a backup of your key`
    );
  }
  const ledger = await Ledger.open({
    storage,
    signer: mode.write && identity ? identitySigner(identity) : undefined,
    allowProblems: mode.allowProblems
  }).catch(async (e) => {
    throw await (await import('./commands/recover.ts')).noDocumentError(dir, e); // doc/ gone, journal or log here
  });
  if (mode.write && identity && !ledger.member(identity.publicKey)?.active) {
    throw new LedgerError(
      ErrorCode.UNKNOWN_AUTHOR,
      `this device's key (${identity.publicKey.slice(0, 12)}…) is not an active member of ledger "${ledger.name}"`
    );
  }
  let journal: Session['journal'];
  let deviceLog: Session['deviceLog'];
  if (mode.write) {
    const [{ GitJournal }, { nodeBinding }] = await Promise.all([
      import('../lib/adapters/git/journal.ts'),
      import('../lib/adapters/git/node.ts')
    ]);
    journal = await GitJournal.attach(nodeBinding(dir), ledger);
    await (await import('./commands/recover.ts')).sweepVault(storage, ledger); // openings of appends cut short
    // The device's Merkle log takes each accepted event and signs a checkpoint after it. Attached on the first
    // accepted event, so that a command refused before appending leaves the directory exactly as it was.
    const signer = identitySigner(identity!);
    let log: Promise<import('../lib/core/proofs/log.ts').DeviceLog> | undefined;
    const attach = () =>
      (log ??= import('../lib/core/proofs/log.ts').then(({ DeviceLog }) =>
        DeviceLog.attach(ledger, storage, { signer })
      ));
    const detach = ledger.observe(async () => {
      if (log) return;
      detach();
      await attach();
    });
    deviceLog = () => {
      detach();
      return attach();
    };
  }
  if (!mode.allowProblems) opened.push({ ledger, tracked });
  return { dir, storage, ledger, identity, journal, deviceLog };
}

/** The sessions this process opened, so that afterCommand can bring the read index in step with the document. */
const opened: Array<{ ledger: Ledger; tracked: TrackedStorage }> = [];

/**
 * Keeps the read index of a ledger this command holds in memory over `tracked` (a command that opens its ledger
 * without openSession: init, restore, join).
 */
export function keepReadIndex(ledger: Ledger, tracked: TrackedStorage): void {
  opened.push({ ledger, tracked });
}

/**
 * At the end of a command that succeeded: each ledger whose document it changed writes its read index
 * (read-index.ts), when the chunks on disk are the ones it holds. A command that changed nothing writes nothing.
 */
export async function afterCommand(): Promise<void> {
  for (const s of opened.splice(0)) if (s.tracked.changed()) await writeReadIndex(s.ledger, s.tracked);
}

/** Forgets the sessions of an earlier command run in this process (main() runs more than once in tests). */
export function forgetSessions(): void {
  opened.length = 0;
}

/**
 * The ledger for a command that only reads it (log, show, trace): from the read index when it is sound and the
 * document is unchanged, else by a full load (openSession). Writes nothing either way.
 */
export async function readLedger(opts: GlobalOptions): Promise<LedgerReader> {
  return openReadIndex(ledgerDir(opts)) ?? (await openSession(opts)).ledger;
}

/** Resolves a full event id or a unique prefix of at least 8 hex digits, optionally of a given type. */
export function resolveEvent(ledger: Pick<LedgerReader, 'get' | 'events'>, ref: string, type?: EventType): LedgerEvent {
  const what = type ? `${type} event` : 'event';
  const prefix = ref.trim().toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `"${ref}" is not an event id: give the id or a prefix of at least 8 hex digits`
    );
  }
  const exact = prefix.length === 64 ? ledger.get(prefix) : undefined;
  const found = exact ? [exact] : ledger.events().filter((e) => e.id.startsWith(prefix));
  if (found.length === 0) throw new LedgerError(ErrorCode.NOT_FOUND, `no ${what} ${ref} in this ledger`);
  if (found.length > 1) {
    throw new LedgerError(
      ErrorCode.BAD_INPUT,
      `${ref} is ambiguous: ${found.length} events start with it (${found
        .slice(0, 4)
        .map((e) => e.id.slice(0, 16))
        .join(', ')}…)`
    );
  }
  const ev = found[0];
  if (type && ev.event.type !== type) {
    throw new LedgerError(ErrorCode.BAD_INPUT, `${ref} is a ${ev.event.type} event, not a ${type} event`);
  }
  return ev;
}

/** Parses a user-given time into the ledger's format (UTC, milliseconds). */
export function parseTime(value: string, flag: string): string {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw new LedgerError(ErrorCode.BAD_INPUT, `${flag} "${value}" is not a date and time (e.g. 2026-11-29T14:00:00Z)`);
  return new Date(ms).toISOString();
}

/** Checks a value against a fixed list, naming the choices. */
export function oneOf<T extends string>(value: string, choices: readonly T[], flag: string): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new LedgerError(ErrorCode.BAD_INPUT, `${flag} must be one of ${choices.join(', ')}; got "${value}"`);
  }
  return value as T;
}

export type { Output, LedgerReader };
