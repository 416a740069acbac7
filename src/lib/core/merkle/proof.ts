/**
 * Verification of RFC 9162 inclusion (2.1.3.2) and consistency (2.1.4.2) proofs. Compute, then compare: the
 * rootFrom* functions compute the root a proof implies, the verify* functions compare it with the expected root
 * and throw a MerkleError on any mismatch. The model is transparency-dev/merkle proof/verify.go.
 *
 * Every argument may come from an attacker: indices and sizes are checked to be unsigned 64-bit integers (as
 * numbers or bigints, so a uint64 from the wire is judged exactly), proof lengths are checked against the shape
 * the index and sizes imply before any hashing, and every hash that gets hashed must be 32 bytes.
 */
import { bytesEqual, toHex } from '../bytes.ts';
import { MerkleError, type MerkleErrorCode } from './errors.ts';
import { HASH_SIZE, type TreeHasher } from './hash.ts';

/** The hashing a verifier needs; a TreeHasher fits. */
export type NodeHasher = Pick<TreeHasher, 'hashChildren'>;

const MAX_U64 = (1n << 64n) - 1n;

/** The root of the tree of the given size implied by an inclusion proof of leafHash at index. */
export function rootFromInclusionProof(
  hasher: NodeHasher,
  index: number | bigint,
  size: number | bigint,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[]
): Uint8Array {
  const i = u64(index, 'INDEX_OUT_OF_RANGE', 'index');
  const n = u64(size, 'SIZE_OUT_OF_RANGE', 'size');
  if (i >= n) throw new MerkleError('INDEX_OUT_OF_RANGE', `index ${i} is not below tree size ${n}`);
  checkHash(leafHash, 'leaf hash');
  const { inner, border } = decompose(i, n);
  checkProof(proof, inner + border);
  const res = chainInner(hasher, leafHash, proof.slice(0, inner), i);
  return chainBorderRight(hasher, res, proof.slice(inner));
}

/** Throws INCLUSION_PROOF_INVALID unless the proof puts leafHash at index in the tree with this root. */
export function verifyInclusion(
  hasher: NodeHasher,
  index: number | bigint,
  size: number | bigint,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array
): void {
  const calculated = rootFromInclusionProof(hasher, index, size, leafHash, proof);
  compare(calculated, root, 'INCLUSION_PROOF_INVALID', 'inclusion proof does not lead to the root');
}

/**
 * The root of the size2 tree implied by a consistency proof from the size1 tree with root1, after checking that
 * the proof also reproduces root1. Requires 0 < size1 <= size2; for size1 == size2 the proof must be empty and
 * root1 is returned as is.
 */
export function rootFromConsistencyProof(
  hasher: NodeHasher,
  size1: number | bigint,
  size2: number | bigint,
  proof: readonly Uint8Array[],
  root1: Uint8Array
): Uint8Array {
  const n1 = u64(size1, 'SIZE_OUT_OF_RANGE', 'size1');
  const n2 = u64(size2, 'SIZE_OUT_OF_RANGE', 'size2');
  if (!Array.isArray(proof)) throw new MerkleError('PROOF_WRONG_LENGTH', 'proof is not an array');
  if (n2 < n1) throw new MerkleError('SIZE_OUT_OF_RANGE', `size2 ${n2} is smaller than size1 ${n1}`);
  if (n1 === 0n) throw new MerkleError('SIZE_OUT_OF_RANGE', 'a consistency proof from the empty tree is meaningless');
  if (n1 === n2) {
    // As in transparency-dev/merkle, equal sizes only compare the roots (the shared vectors accept any bytes).
    if (proof.length !== 0)
      throw new MerkleError('PROOF_WRONG_LENGTH', 'size1 equals size2 but the proof is not empty');
    if (!(root1 instanceof Uint8Array)) throw new MerkleError('HASH_WRONG_LENGTH', 'root1 is not bytes');
    return root1.slice();
  }
  if (proof.length === 0) throw new MerkleError('PROOF_WRONG_LENGTH', 'empty consistency proof');
  checkHash(root1, 'root1');

  // The proof is the inclusion path of the old tree's rightmost perfect subtree (level `shift`), preceded by that
  // subtree's root unless it is the whole old tree (size1 a power of two), whose root is root1.
  const { inner: fullInner, border } = decompose(n1 - 1n, n2);
  const shift = trailingZeros(n1);
  const inner = fullInner - shift;
  const seedIsRoot1 = n1 === 1n << BigInt(shift);
  const start = seedIsRoot1 ? 0 : 1;
  checkProof(proof, start + inner + border);
  const seed = seedIsRoot1 ? root1 : proof[0];
  const path = proof.slice(start);
  const mask = (n1 - 1n) >> BigInt(shift);

  const hash1 = chainBorderRight(hasher, chainInnerRight(hasher, seed, path.slice(0, inner), mask), path.slice(inner));
  compare(hash1, root1, 'CONSISTENCY_PROOF_INVALID', 'consistency proof does not lead to root1');
  return chainBorderRight(hasher, chainInner(hasher, seed, path.slice(0, inner), mask), path.slice(inner));
}

/** Throws CONSISTENCY_PROOF_INVALID (or a shape error) unless the size1 tree is a prefix of the size2 tree. */
export function verifyConsistency(
  hasher: NodeHasher,
  size1: number | bigint,
  size2: number | bigint,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array
): void {
  const calculated = rootFromConsistencyProof(hasher, size1, size2, proof, root1);
  compare(calculated, root2, 'CONSISTENCY_PROOF_INVALID', 'consistency proof does not lead to root2');
}

/**
 * Splits the inclusion proof of index in a tree of size into the part below the point where the paths to index
 * and to size-1 diverge (inner: one hash per level) and the part above it (border: one hash per left sibling on
 * the right border).
 */
function decompose(index: bigint, size: bigint): { inner: number; border: number } {
  const inner = bitLength(index ^ (size - 1n));
  return { inner, border: popCount(index >> BigInt(inner)) };
}

/** Hashes up from seed at position index on its level; proof[j] is the sibling at level j. */
function chainInner(hasher: NodeHasher, seed: Uint8Array, proof: readonly Uint8Array[], index: bigint): Uint8Array {
  let h = seed;
  proof.forEach((p, j) => {
    h = ((index >> BigInt(j)) & 1n) === 0n ? hasher.hashChildren(h, p) : hasher.hashChildren(p, h);
  });
  return h;
}

/** Like chainInner, but only left siblings count: the result is the subtree as it was before index's right side. */
function chainInnerRight(
  hasher: NodeHasher,
  seed: Uint8Array,
  proof: readonly Uint8Array[],
  index: bigint
): Uint8Array {
  let h = seed;
  proof.forEach((p, j) => {
    if (((index >> BigInt(j)) & 1n) === 1n) h = hasher.hashChildren(p, h);
  });
  return h;
}

/** Above the divergence point every proof hash is a left sibling on the right border. */
function chainBorderRight(hasher: NodeHasher, seed: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  let h = seed;
  for (const p of proof) h = hasher.hashChildren(p, h);
  return h;
}

function compare(calculated: Uint8Array, expected: Uint8Array, code: MerkleErrorCode, message: string): void {
  if (!(expected instanceof Uint8Array) || !bytesEqual(calculated, expected)) {
    throw new MerkleError(code, message, {
      detail: { calculated: toHex(calculated), expected: expected instanceof Uint8Array ? toHex(expected) : null }
    });
  }
}

function u64(x: number | bigint, code: MerkleErrorCode, what: string): bigint {
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
  if (typeof x === 'bigint' && x >= 0n && x <= MAX_U64) return x;
  throw new MerkleError(code, `${what} is not an unsigned 64-bit integer: ${String(x)}`);
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new MerkleError('HASH_WRONG_LENGTH', `${what} must be ${HASH_SIZE} bytes`);
  }
}

function checkProof(proof: readonly Uint8Array[], want: number): void {
  if (!Array.isArray(proof)) throw new MerkleError('PROOF_WRONG_LENGTH', 'proof is not an array');
  if (proof.length !== want) {
    throw new MerkleError('PROOF_WRONG_LENGTH', `proof has ${proof.length} hashes, want ${want}`, {
      detail: { got: proof.length, want }
    });
  }
  proof.forEach((p, j) => checkHash(p, `proof[${j}]`));
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function popCount(x: bigint): number {
  let c = 0;
  for (const ch of x.toString(2)) if (ch === '1') c++;
  return c;
}

function trailingZeros(x: bigint): number {
  let z = 0;
  while ((x & 1n) === 0n) {
    x >>= 1n;
    z++;
  }
  return z;
}
