/**
 * Typed errors of the transparency-log primitives. Codes are stable: callers, scripts and the UI match on them.
 * Its own code union (the class is the core's CodedError), so the Merkle code names only its own failures.
 */
import { CodedError } from '../errors.ts';

export const MerkleErrorCode = {
  /** A hash (leaf hash, proof element, root used as a seed) is not 32 bytes. */
  HASH_WRONG_LENGTH: 'HASH_WRONG_LENGTH',
  /** A leaf index is not below the tree size, or is not an unsigned 64-bit integer. */
  INDEX_OUT_OF_RANGE: 'INDEX_OUT_OF_RANGE',
  /** A tree size is not an unsigned 64-bit integer (or, in a tree, not a safe integer), or sizes are out of order. */
  SIZE_OUT_OF_RANGE: 'SIZE_OUT_OF_RANGE',
  /** A proof has more or fewer hashes than its index and sizes call for. */
  PROOF_WRONG_LENGTH: 'PROOF_WRONG_LENGTH',
  INCLUSION_PROOF_INVALID: 'INCLUSION_PROOF_INVALID',
  CONSISTENCY_PROOF_INVALID: 'CONSISTENCY_PROOF_INVALID',
  /** The hash store lacks a node a proof or a historical root needs. */
  NODE_MISSING: 'NODE_MISSING',
  /** The hash store already holds a different hash at that position. */
  STORE_CONFLICT: 'STORE_CONFLICT',
  /** A serialized tree state is malformed or does not match its store. */
  TREE_STATE_INVALID: 'TREE_STATE_INVALID',
  NOTE_MALFORMED: 'NOTE_MALFORMED',
  /** No signature from a known key verified. */
  NOTE_UNVERIFIED: 'NOTE_UNVERIFIED',
  /** A signature from a known key failed to verify: the whole note is rejected. */
  NOTE_SIGNATURE_INVALID: 'NOTE_SIGNATURE_INVALID',
  KEY_NAME_INVALID: 'KEY_NAME_INVALID',
  VERIFIER_KEY_INVALID: 'VERIFIER_KEY_INVALID',
  /** Two known verifiers share a key name and key id. */
  VERIFIER_AMBIGUOUS: 'VERIFIER_AMBIGUOUS',
  CHECKPOINT_MALFORMED: 'CHECKPOINT_MALFORMED',
  /** A cosignature's bytes or timestamp are malformed. */
  COSIGNATURE_MALFORMED: 'COSIGNATURE_MALFORMED'
} as const;
export type MerkleErrorCode = (typeof MerkleErrorCode)[keyof typeof MerkleErrorCode];

/** An error of the transparency-log primitives, with one of MerkleErrorCode. */
export class MerkleError extends CodedError<MerkleErrorCode> {
  constructor(code: MerkleErrorCode, message: string, opts: { detail?: unknown; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'MerkleError';
  }
}

export function isMerkleError(e: unknown, code?: MerkleErrorCode): e is MerkleError {
  return e instanceof MerkleError && (code === undefined || e.code === code);
}
