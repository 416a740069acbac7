/**
 * Stable codes of the proofs layer (device log, checkpoints, witnessing, evidence bundles). Scripts, the UI and
 * the tests match on them; never rename one.
 */
import { CodedError } from '../errors.ts';

export const ProofCode = {
  /** The stored log (state, leaf chunks, checkpoints) is damaged or disagrees with itself. */
  LOG_CORRUPT: 'LOG_CORRUPT',
  /** The log lacks an event the ledger holds, or holds one the ledger lacks, or a leaf differs from its event. */
  LOG_MISMATCH: 'LOG_MISMATCH',
  NOT_IN_LOG: 'NOT_IN_LOG',
  NO_CHECKPOINT: 'NO_CHECKPOINT',
  CHECKPOINT_INVALID: 'CHECKPOINT_INVALID',
  /** prove: the bundle made from this ledger would not verify (its failures follow, each with its own code). */
  BUNDLE_INVALID: 'BUNDLE_INVALID',
  /** Witnessing: a checkpoint whose log key is not a member of the witness's ledger, or of another ledger. */
  WITNESS_UNKNOWN_LOG: 'WITNESS_UNKNOWN_LOG',
  /** Witnessing: the log is smaller than the checkpoint cosigned last (events dropped). */
  WITNESS_ROLLBACK: 'WITNESS_ROLLBACK',
  /** Witnessing: the log is not an extension of the checkpoint cosigned last (history rewritten: a fork). */
  WITNESS_FORK: 'WITNESS_FORK',
  /** Witnessing: a request file that is malformed. */
  WITNESS_REQUEST_INVALID: 'WITNESS_REQUEST_INVALID',
  /** Witnessing at sync: a teammate's device refused to cosign this device's checkpoint (its reason follows). */
  WITNESS_REFUSED: 'WITNESS_REFUSED',
  /** Witnessing at sync: a witness's answer that is malformed or whose cosignature does not verify. */
  WITNESS_RESPONSE_INVALID: 'WITNESS_RESPONSE_INVALID'
} as const;
export type ProofCode = (typeof ProofCode)[keyof typeof ProofCode];

/** An error of the proofs layer, with one of ProofCode. */
export class ProofError extends CodedError<ProofCode> {
  constructor(code: ProofCode, message: string, opts: { detail?: unknown; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'ProofError';
  }
}

export const isProofError = (e: unknown, code?: ProofCode): e is ProofError =>
  e instanceof ProofError && (code === undefined || e.code === code);
