/** Stable error codes. Never renumber or rename: scripts and the UI match on them. */
export const ErrorCode = {
  SCHEMA: 'SCHEMA_INVALID',
  CANONICAL: 'NOT_CANONICAL',
  ID_MISMATCH: 'ID_MISMATCH',
  SIGNATURE: 'SIGNATURE_INVALID',
  UNKNOWN_AUTHOR: 'AUTHOR_NOT_MEMBER',
  REMOVED_AUTHOR: 'AUTHOR_REMOVED',
  NOT_AUTHORIZED: 'AUTHOR_NOT_AUTHORIZED',
  MISSING_PARENT: 'MISSING_PARENT',
  WRONG_LEDGER: 'WRONG_LEDGER',
  GENESIS: 'GENESIS_INVALID',
  MALFORMED: 'MALFORMED_EVENT',
  DUPLICATE: 'DUPLICATE_EVENT',
  TIME_ORDER: 'TIME_BEFORE_PARENT',
  STORAGE_CORRUPT: 'STORAGE_CORRUPT',
  STORAGE_MISSING: 'STORAGE_MISSING',
  DOC_CORRUPT: 'DOCUMENT_CORRUPT',
  KEY_MISMATCH: 'KEY_MISMATCH',
  BAD_PASSPHRASE: 'BAD_PASSPHRASE',
  BAD_BACKUP: 'BAD_BACKUP',
  BAD_OPENING: 'OPENING_MISMATCH',
  NOT_FOUND: 'NOT_FOUND',
  NOT_INITIALIZED: 'NOT_INITIALIZED',
  ALREADY_INITIALIZED: 'ALREADY_INITIALIZED',
  BAD_INPUT: 'BAD_INPUT',
  /** A file that changed (size, modification or change time, or its content) while it was read: nothing recorded. */
  FILE_CHANGED: 'FILE_CHANGED',
  VAULT_MISSING: 'VAULT_MISSING',
  /** A prompt opening in the vault that is damaged: not JSON, wrong shape, or it does not recompute its commitment. */
  VAULT_CORRUPT: 'VAULT_CORRUPT',
  /** The stored device identity (identity/device) is damaged, or its key is not one the ledger knows for this device. */
  IDENTITY_INVALID: 'IDENTITY_INVALID',
  /** Git journal (src/lib/core/journal): an event the journal lacks, or a commit that differs from its event. */
  JOURNAL_MISSING: 'JOURNAL_MISSING',
  JOURNAL_EXTRA: 'JOURNAL_EXTRA',
  JOURNAL_MISMATCH: 'JOURNAL_MISMATCH',
  /** A journal object (loose or in a pack) whose bytes are damaged: it does not inflate, or its content no longer hashes to its name. */
  JOURNAL_CORRUPT: 'JOURNAL_CORRUPT',
  /**
   * A valid event of the ledger that the local journal (or device log) holds and the document does not: the
   * document lost it (a lost or damaged chunk). `provenance-ledger recover` restores it; no write drops it.
   */
  EVENT_NOT_IN_DOCUMENT: 'EVENT_NOT_IN_DOCUMENT',
  /** Not a problem: an event whose journal commit is not written yet (a write cut short, concurrent appends); the next write writes it. */
  JOURNAL_PENDING: 'JOURNAL_PENDING',
  /** Not a problem: the device log's head has no signed checkpoint yet (signing it was cut short); the next write signs it. */
  CHECKPOINT_PENDING: 'CHECKPOINT_PENDING',
  /** An event's journal commit signature (`<id>.git`, ledger-schema/README.md "Journal commits") that does not verify. */
  JOURNAL_SIGNATURE_INVALID: 'JOURNAL_SIGNATURE_INVALID',
  /** An event stored without its journal commit signature. */
  JOURNAL_SIGNATURE_MISSING: 'JOURNAL_SIGNATURE_MISSING',
  /** A commit from a remote that is refused (tampered, foreign, badly signed, invalid event). */
  COMMIT_REFUSED: 'COMMIT_REFUSED',
  REMOTE_UNREACHABLE: 'REMOTE_UNREACHABLE',
  REMOTE_AUTH: 'REMOTE_AUTH_FAILED',
  /** The remote's history lacks commits we pushed to it before. */
  REMOTE_DIVERGED: 'REMOTE_HISTORY_LOST',
  REMOTE_REJECTED: 'REMOTE_REJECTED',
  /** A sealed journal holds events of a team key epoch whose key this device does not hold. */
  SEALED_KEY_MISSING: 'SEALED_KEY_MISSING',
  /** A directory a clone was cut short in (its CLONE_UNFINISHED file): not a ledger until the clone is run again. */
  CLONE_UNFINISHED: 'CLONE_UNFINISHED'
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error class of the project: a stable literal code (each layer has its union: ErrorCode here,
 * MerkleErrorCode, ProofCode, TimestampErrorCode, the engine's codes), a message naming what is wrong, and
 * optionally the event it concerns, details and a cause. toJSON lets it cross a worker boundary.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly eventId?: string;
  readonly detail?: unknown;
  constructor(code: C, message: string, opts: { eventId?: string; detail?: unknown; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CodedError';
    this.code = code;
    this.eventId = opts.eventId;
    this.detail = opts.detail;
  }
  toJSON(): { name?: string; code: C; message: string; eventId?: string; detail?: unknown } {
    return { name: this.name, code: this.code, message: this.message, eventId: this.eventId, detail: this.detail };
  }
}

/** An error of the ledger (events, storage, journal, vault), with one of ErrorCode. */
export class LedgerError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message: string, opts: { eventId?: string; detail?: unknown; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'LedgerError';
  }
}

export function isLedgerError(e: unknown): e is LedgerError {
  return e instanceof LedgerError;
}
