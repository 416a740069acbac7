/**
 * Transparency-log primitives: RFC 9162 tree hashing, the incremental tree and its proofs, proof verification,
 * C2SP signed notes, checkpoints and cosignatures.
 *
 * Known answers and where they come from:
 *  - ../shared/vectors/merkle: transparency-dev/merkle testdata (inclusion, consistency; mutated cases wantErr).
 *  - RFC 6962 leaves/roots and proofs from transparency-dev/merkle proof/verify_test.go.
 *  - Signed notes: golang.org/x/mod sumdb/note/note_test.go (PeterNeumann, EnochRoot) and the C2SP signed-note
 *    example (example.com/foo).
 *  - Cosignature: computed with Python `cryptography` straight from the C2SP tlog-cosignature text, with the
 *    RFC 8032 test-1 key (seed 9d61b1…7f60), name witness.example/w1, time 1679315147, the C2SP checkpoint example:
 *      msg = b'cosignature/v1\ntime 1679315147\n' + body; keyid = sha256(name + b'\n\x04' + pub)[:4]
 *      line = '— ' + name + ' ' + b64(keyid + u64be(time) + Ed25519(seed).sign(msg))
 * The naive reference below (RFC 9162 2.1.1 MTH, 2.1.3.1 PATH, 2.1.4.1 PROOF) hashes with node:crypto, so it is
 * independent of the hash-wasm hasher under test.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex, utf8 } from '../../../src/lib/core/bytes.ts';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  type Checkpoint
} from '../../../src/lib/core/merkle/checkpoint.ts';
import {
  cosignatureMessage,
  cosignatureVerifierKey,
  cosignCheckpoint,
  createCosignatureVerifier,
  createCosigner,
  openCosignedCheckpoint,
  parseTimestampedSignature
} from '../../../src/lib/core/merkle/cosignature.ts';
import { isMerkleError, MerkleError, type MerkleErrorCode } from '../../../src/lib/core/merkle/errors.ts';
import { createTreeHasher, emptyRoot, type TreeHasher } from '../../../src/lib/core/merkle/hash.ts';
import {
  createEd25519Signer,
  createEd25519Verifier,
  ed25519VerifierKey,
  formatVerifierKey,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
  type NoteVerifier
} from '../../../src/lib/core/merkle/note.ts';
import {
  rootFromConsistencyProof,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion
} from '../../../src/lib/core/merkle/proof.ts';
import { MemoryHashStore, MerkleTree } from '../../../src/lib/core/merkle/tree.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const merkleVectors = path.join(path.resolve(repoRoot, '../shared/vectors'), 'merkle');

let hasher: TreeHasher;
beforeAll(async () => {
  hasher = await createTreeHasher();
});

const hex = (b: Uint8Array) => toHex(b);

function expectCode(fn: () => unknown, code?: MerkleErrorCode): MerkleError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a MerkleError').toBeInstanceOf(MerkleError);
  if (code) expect((err as MerkleError).code).toBe(code);
  return err as MerkleError;
}

async function expectCodeAsync(p: Promise<unknown>, code: MerkleErrorCode): Promise<MerkleError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err, 'expected a MerkleError').toBeInstanceOf(MerkleError);
  expect((err as MerkleError).code).toBe(code);
  return err as MerkleError;
}

// ---------------------------------------------------------------------------------------------------------------
// Naive reference, RFC 9162 section 2.1, with node:crypto SHA-256. Memoized on (lo, hi) only to keep the
// exhaustive comparisons quick; the recursion is the RFC's.
// ---------------------------------------------------------------------------------------------------------------
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const refLeaf = (d: Uint8Array) => sha256(new Uint8Array([0]), d);
const refNode = (l: Uint8Array, r: Uint8Array) => sha256(new Uint8Array([1]), l, r);
/** Largest power of two smaller than n (n > 1). */
const split = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

class Reference {
  #memo = new Map<string, Uint8Array>();
  readonly leaves: Uint8Array[];
  constructor(leaves: Uint8Array[]) {
    this.leaves = leaves;
  }
  /** MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Uint8Array {
    const key = `${lo},${hi}`;
    let h = this.#memo.get(key);
    if (!h) {
      const n = hi - lo;
      if (n === 0) h = sha256();
      else if (n === 1) h = refLeaf(this.leaves[lo]);
      else {
        const k = split(n);
        h = refNode(this.mth(lo, lo + k), this.mth(lo + k, hi));
      }
      this.#memo.set(key, h);
    }
    return h;
  }
  /** PATH(m, D[lo:hi]). */
  path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = split(n);
    return m < k
      ? [...this.path(m, lo, lo + k), this.mth(lo + k, hi)]
      : [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }
  /** PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true). */
  proof(m: number, n: number): Uint8Array[] {
    return this.subproof(m, 0, n, true);
  }
  subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = split(n);
    return m <= k
      ? [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)]
      : [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }
}

function leafData(i: number, salt = 0): Uint8Array {
  return utf8(`leaf ${salt}/${i}`);
}

function buildTree(n: number, salt = 0) {
  const leaves = Array.from({ length: n }, (_, i) => leafData(i, salt));
  const tree = new MerkleTree(hasher);
  for (const d of leaves) tree.appendData(d);
  return { tree, ref: new Reference(leaves), leaves };
}

// ---------------------------------------------------------------------------------------------------------------
describe('hash: RFC 9162 tree hashing', () => {
  it('has the RFC 6962 known answers for the empty tree and leaves', () => {
    expect(hex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(hasher.emptyRoot())).toBe(hex(emptyRoot()));
    expect(hex(hasher.hashLeaf(new Uint8Array()))).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
    );
    expect(hex(hasher.hashLeaf(fromHex('00')))).toBe(
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7'
    );
  });

  it('agrees with node:crypto on leaves of every size around the one-update threshold and on nodes', () => {
    for (const len of [0, 1, 31, 32, 63, 64, 65, 1023, 1024, 1025, 5000]) {
      const d = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
      expect(hex(hasher.hashLeaf(d))).toBe(hex(refLeaf(d)));
    }
    const a = refLeaf(utf8('a'));
    const b = refLeaf(utf8('b'));
    expect(hex(hasher.hashChildren(a, b))).toBe(hex(refNode(a, b)));
    expect(hex(hasher.hashChildren(b, a))).toBe(hex(refNode(b, a)));
  });

  it('refuses node children that are not 32 bytes', () => {
    expectCode(() => hasher.hashChildren(new Uint8Array(31), new Uint8Array(32)), 'HASH_WRONG_LENGTH');
  });

  it('shares one hasher instance', async () => {
    expect(await createTreeHasher()).toBe(hasher);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('tree: incremental Merkle tree', () => {
  // RFC 6962 test data, as in transparency-dev/merkle proof/verify_test.go.
  const rfcLeaves = [
    '',
    '00',
    '10',
    '2021',
    '3031',
    '40414243',
    '5051525354555657',
    '606162636465666768696a6b6c6d6e6f'
  ];
  const rfcRoots = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
  ];

  it('gives the RFC 6962 roots at every size, now and afterwards', () => {
    const tree = new MerkleTree(hasher);
    expect(hex(tree.root())).toBe(hex(emptyRoot()));
    rfcLeaves.forEach((l, i) => {
      expect(tree.appendData(fromHex(l))).toBe(i);
      expect(hex(tree.root())).toBe(rfcRoots[i]);
    });
    rfcRoots.forEach((r, i) => expect(hex(tree.rootAt(i + 1))).toBe(r));
    expect(hex(tree.rootAt(0))).toBe(hex(emptyRoot()));
  });

  it('gives the RFC 6962 proofs of verify_test.go', () => {
    const tree = new MerkleTree(hasher);
    for (const l of rfcLeaves) tree.appendData(fromHex(l));
    expect(tree.inclusionProof(0, 8).map(hex)).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'
    ]);
    expect(tree.inclusionProof(2, 3).map(hex)).toEqual([
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'
    ]);
    expect(tree.inclusionProof(1, 5).map(hex)).toEqual([
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'
    ]);
    expect(tree.consistencyProof(6, 8).map(hex)).toEqual([
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'
    ]);
    expect(tree.consistencyProof(2, 5).map(hex)).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'
    ]);
    expect(tree.consistencyProof(1, 1)).toEqual([]);
  });

  it('matches the naive RFC 9162 reference for every size 1..130, every leaf and every older size', () => {
    const N = 130;
    const { tree, ref } = buildTree(N);
    for (let n = 1; n <= N; n++) {
      const root = tree.rootAt(n);
      expect(hex(root), `MTH at ${n}`).toBe(hex(ref.mth(0, n)));
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        expect(proof.map(hex), `PATH(${m}, ${n})`).toEqual(ref.path(m, 0, n).map(hex));
        verifyInclusion(hasher, m, n, ref.mth(m, m + 1), proof, root);
      }
      for (let m = 1; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(proof.map(hex), `PROOF(${m}, ${n})`).toEqual(ref.proof(m, n).map(hex));
        verifyConsistency(hasher, m, n, proof, tree.rootAt(m), root);
      }
    }
  });

  it('builds sizes appended one by one to the same roots as the reference', () => {
    const { ref, leaves } = buildTree(70, 7);
    const tree = new MerkleTree(hasher, null);
    leaves.forEach((d, i) => {
      tree.append(hasher.hashLeaf(d));
      expect(hex(tree.root())).toBe(hex(ref.mth(0, i + 1)));
      expect(tree.frontier().length).toBe((i + 1).toString(2).replace(/0/g, '').length);
    });
  });

  describe('random proofs against the reference (fast-check)', () => {
    const N = 1000;
    let tree: MerkleTree;
    let ref: Reference;
    beforeAll(() => ({ tree, ref } = buildTree(N, 3)));

    it('inclusion proofs equal PATH, verify, and fail when a bit, the index or the root changes', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: N }).chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1), fc.nat(), fc.nat(255))),
          ([n, m, pick, bit]) => {
            const proof = tree.inclusionProof(m, n);
            expect(proof.map(hex)).toEqual(ref.path(m, 0, n).map(hex));
            const root = ref.mth(0, n);
            const leaf = ref.mth(m, m + 1);
            expect(hex(rootFromInclusionProof(hasher, m, n, leaf, proof))).toBe(hex(root));
            verifyInclusion(hasher, BigInt(m), BigInt(n), leaf, proof, root);
            if (proof.length > 0) {
              const bad = proof.map((p) => p.slice());
              bad[pick % bad.length][bit % 32] ^= 1 << (bit % 8);
              expectCode(() => verifyInclusion(hasher, m, n, leaf, bad, root), 'INCLUSION_PROOF_INVALID');
            }
            if (n > 1) expectCode(() => verifyInclusion(hasher, (m + 1 + (pick % (n - 1))) % n, n, leaf, proof, root));
            expectCode(
              () => verifyInclusion(hasher, m, n, leaf, proof, ref.mth(0, (n % N) + 1)),
              'INCLUSION_PROOF_INVALID'
            );
            // (A changed tree size can keep the proof's shape, e.g. leaf 0 of 5 or 6 leaves: the root binds the size.)
          }
        ),
        { numRuns: 400 }
      );
    });

    it('consistency proofs equal PROOF, verify, and fail when a bit or a root changes', () => {
      fc.assert(
        fc.property(
          fc
            .integer({ min: 1, max: N })
            .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }), fc.nat(), fc.nat(255))),
          ([n, m, pick, bit]) => {
            const proof = tree.consistencyProof(m, n);
            expect(proof.map(hex)).toEqual(ref.proof(m, n).map(hex));
            const root1 = ref.mth(0, m);
            const root2 = ref.mth(0, n);
            expect(hex(rootFromConsistencyProof(hasher, m, n, proof, root1))).toBe(hex(root2));
            verifyConsistency(hasher, m, n, proof, root1, root2);
            if (proof.length > 0) {
              const bad = proof.map((p) => p.slice());
              bad[pick % bad.length][bit % 32] ^= 1 << (bit % 8);
              expectCode(() => verifyConsistency(hasher, m, n, bad, root1, root2), 'CONSISTENCY_PROOF_INVALID');
            }
            const other = ref.mth(0, (m % N) + 1);
            expectCode(() => verifyConsistency(hasher, m, n, proof, root1, m === n ? other : root1));
            if (m < n) expectCode(() => verifyConsistency(hasher, m, n, proof, other, root2));
          }
        ),
        { numRuns: 400 }
      );
    });
  });

  it('serializes its state compactly and reloads it without rehashing', () => {
    for (const n of [0, 1, 2, 3, 7, 8, 100, 1023, 1024]) {
      const { tree, leaves } = buildTree(n);
      const state = tree.serialize();
      expect(state.length).toBe(9 + 32 * n.toString(2).replace(/0/g, '').length);
      const light = MerkleTree.fromState(hasher, state);
      expect(light.size).toBe(n);
      expect(hex(light.root())).toBe(hex(tree.root()));
      expect(light.frontier().map(hex)).toEqual(tree.frontier().map(hex));
      // Both keep growing to the same roots.
      for (let i = 0; i < 5; i++) {
        const d = leafData(n + i, 9);
        tree.appendData(d);
        light.appendData(d);
        expect(hex(light.root())).toBe(hex(tree.root()));
      }
      expect(leaves.length).toBe(n);
      if (n > 0) expectCode(() => light.inclusionProof(0), 'NODE_MISSING');
    }
  });

  it('reloads a state together with the store that holds its levels, and refuses a store that does not', () => {
    const store = new MemoryHashStore();
    const tree = new MerkleTree(hasher, store);
    for (let i = 0; i < 37; i++) tree.appendData(leafData(i));
    const again = MerkleTree.fromState(hasher, tree.serialize(), store);
    again.appendData(leafData(37));
    tree.appendData(leafData(37)); // the same hashes land in the store again: accepted
    expect(again.inclusionProof(5).map(hex)).toEqual(tree.inclusionProof(5).map(hex));
    expect(store.count(0)).toBe(38);

    const other = new MemoryHashStore();
    const t2 = new MerkleTree(hasher, other);
    for (let i = 0; i < 37; i++) t2.appendData(leafData(i, 1));
    expectCode(() => MerkleTree.fromState(hasher, tree.serialize(), other), 'TREE_STATE_INVALID');
    expectCode(() => MerkleTree.fromState(hasher, tree.serialize(), new MemoryHashStore()), 'TREE_STATE_INVALID');
  });

  it('rejects malformed states', () => {
    const { tree } = buildTree(5);
    const good = tree.serialize();
    const bad = [
      new Uint8Array(),
      good.slice(0, 8),
      good.slice(0, -1),
      new Uint8Array([...good, 0]),
      Uint8Array.of(2, ...good.slice(1)),
      Uint8Array.of(1, 0, 0x20, 0, 0, 0, 0, 0, 0) // 2^53: not a safe integer
    ];
    for (const s of bad) expectCode(() => MerkleTree.fromState(hasher, s), 'TREE_STATE_INVALID');
    const state = MerkleTree.fromState(hasher, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 0));
    expect(state.size).toBe(0);
  });

  it('refuses out-of-range arguments and conflicting store writes', () => {
    const { tree } = buildTree(10);
    expectCode(() => tree.inclusionProof(10), 'INDEX_OUT_OF_RANGE');
    expectCode(() => tree.inclusionProof(-1), 'INDEX_OUT_OF_RANGE');
    expectCode(() => tree.inclusionProof(0.5), 'INDEX_OUT_OF_RANGE');
    expectCode(() => tree.inclusionProof(0, 11), 'SIZE_OUT_OF_RANGE');
    expectCode(() => tree.consistencyProof(0, 5), 'SIZE_OUT_OF_RANGE');
    expectCode(() => tree.consistencyProof(6, 5), 'SIZE_OUT_OF_RANGE');
    expectCode(() => tree.rootAt(11), 'SIZE_OUT_OF_RANGE');
    expectCode(() => tree.append(new Uint8Array(31)), 'HASH_WRONG_LENGTH');
    const store = new MemoryHashStore();
    store.set(0, 0, new Uint8Array(32));
    expectCode(() => store.set(0, 0, new Uint8Array(32).fill(1)), 'STORE_CONFLICT');
    expectCode(() => store.set(0, 2, new Uint8Array(32)), 'NODE_MISSING');
  });

  it('does not let callers alter its hashes through returned arrays', () => {
    const { tree } = buildTree(6);
    const root = hex(tree.root());
    tree.root().fill(0);
    tree.frontier()[0].fill(0);
    tree.inclusionProof(0)[0].fill(0);
    expect(hex(tree.root())).toBe(root);
    expect(hex(tree.rootAt(6))).toBe(root);
    expect(hex(tree.inclusionProof(0)[0])).not.toBe(hex(new Uint8Array(32)));
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('proof: verification edge cases', () => {
  const h = () => hasher;
  const leaf = () => refLeaf(utf8('x'));

  it('rejects sizes and indices that are not unsigned 64-bit integers', () => {
    expectCode(() => rootFromInclusionProof(h(), -1, 1, leaf(), []), 'INDEX_OUT_OF_RANGE');
    expectCode(() => rootFromInclusionProof(h(), 2 ** 64, 2 ** 64, leaf(), []), 'INDEX_OUT_OF_RANGE');
    expectCode(() => rootFromInclusionProof(h(), 0, 1n << 64n, leaf(), []), 'SIZE_OUT_OF_RANGE');
    expectCode(() => rootFromInclusionProof(h(), 0, 0, leaf(), []), 'INDEX_OUT_OF_RANGE');
    expectCode(() => rootFromInclusionProof(h(), (1n << 64n) - 1n, 1, leaf(), []), 'INDEX_OUT_OF_RANGE');
    expectCode(() => rootFromInclusionProof(h(), Number.NaN, 1, leaf(), []), 'INDEX_OUT_OF_RANGE');
  });

  it('handles the largest uint64 tree: a last leaf needs 64 hashes', () => {
    const size = (1n << 64n) - 1n;
    const proof = Array.from({ length: 63 }, (_, i) => refLeaf(utf8(`p${i}`)));
    // index size-1 in a tree of 2^64-1 leaves: inner 0, border = popcount(2^64-2) = 63
    expect(() => rootFromInclusionProof(h(), size - 1n, size, leaf(), proof)).not.toThrow();
    expectCode(() => rootFromInclusionProof(h(), size - 1n, size, leaf(), proof.slice(1)), 'PROOF_WRONG_LENGTH');
  });

  it('checks hash lengths and proof shape before hashing', () => {
    expectCode(() => rootFromInclusionProof(h(), 0, 2, new Uint8Array(31), [leaf()]), 'HASH_WRONG_LENGTH');
    expectCode(() => rootFromInclusionProof(h(), 0, 2, leaf(), [new Uint8Array(33)]), 'HASH_WRONG_LENGTH');
    expectCode(() => rootFromInclusionProof(h(), 0, 2, leaf(), []), 'PROOF_WRONG_LENGTH');
    expectCode(() => rootFromInclusionProof(h(), 0, 2, leaf(), null as unknown as Uint8Array[]), 'PROOF_WRONG_LENGTH');
    expectCode(() => rootFromConsistencyProof(h(), 1, 2, [leaf()], new Uint8Array(5)), 'HASH_WRONG_LENGTH');
  });

  it('reports the calculated and expected roots on a mismatch', () => {
    const e = expectCode(() => verifyInclusion(h(), 0, 1, leaf(), [], emptyRoot()), 'INCLUSION_PROOF_INVALID');
    expect(e.toJSON()).toMatchObject({
      code: 'INCLUSION_PROOF_INVALID',
      detail: { calculated: hex(leaf()), expected: hex(emptyRoot()) }
    });
    expect(isMerkleError(e, 'INCLUSION_PROOF_INVALID')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Known-answer tests from ../shared/vectors/merkle.
// ---------------------------------------------------------------------------------------------------------------
interface InclusionVector {
  leafIdx: number | bigint;
  treeSize: number | bigint;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyVector {
  size1: number | bigint;
  size2: number | bigint;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function listJson(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** JSON.parse that keeps integers beyond 2^53 exact (as bigints) where the runtime exposes the source text. */
function parseVector<T>(file: string): T {
  const reviver = (_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^\d+$/.test(context.source)
      ? BigInt(context.source)
      : value;
  return JSON.parse(readFileSync(file, 'utf8'), reviver as (k: string, v: unknown) => unknown) as T;
}

const b64 = (s: string) => fromBase64(s);

if (existsSync(merkleVectors)) {
  describe(`known answers: ${merkleVectors}`, () => {
    const inclusion = listJson(path.join(merkleVectors, 'inclusion'));
    const consistency = listJson(path.join(merkleVectors, 'consistency'));

    it('found the inclusion and consistency vectors', () => {
      expect(inclusion.length).toBeGreaterThan(50);
      expect(consistency.length).toBeGreaterThan(50);
    });

    for (const file of inclusion) {
      const v = parseVector<InclusionVector>(file);
      const name = `inclusion ${path.relative(merkleVectors, file)}: ${v.desc} ${v.wantErr ? 'is rejected' : 'verifies'}`;
      it(name, () => {
        const [leafHash, proof, root] = [b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root)];
        if (v.wantErr) {
          expectCode(() => verifyInclusion(hasher, v.leafIdx, v.treeSize, leafHash, proof, root));
        } else {
          verifyInclusion(hasher, v.leafIdx, v.treeSize, leafHash, proof, root);
          expect(hex(rootFromInclusionProof(hasher, v.leafIdx, v.treeSize, leafHash, proof))).toBe(hex(root));
        }
      });
    }

    for (const file of consistency) {
      const v = parseVector<ConsistencyVector>(file);
      const name = `consistency ${path.relative(merkleVectors, file)}: ${v.desc} ${v.wantErr ? 'is rejected' : 'verifies'}`;
      it(name, () => {
        const run = () =>
          verifyConsistency(hasher, v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
        if (v.wantErr) expectCode(run);
        else run();
      });
    }

    it('the happy paths agree with proofs from our own tree', () => {
      // Happy-path trees are RFC 6962 trees of the verify_test.go leaves; rebuild and compare.
      const rfcLeaves = [
        '',
        '00',
        '10',
        '2021',
        '3031',
        '40414243',
        '5051525354555657',
        '606162636465666768696a6b6c6d6e6f'
      ];
      const tree = new MerkleTree(hasher);
      for (const l of rfcLeaves) tree.appendData(fromHex(l));
      let compared = 0;
      for (const file of consistency.filter((f) => f.endsWith('happy-path.json'))) {
        const v = parseVector<ConsistencyVector>(file);
        const [s1, s2] = [Number(v.size1), Number(v.size2)];
        if (s2 > tree.size || hex(tree.rootAt(s2)) !== hex(b64(v.root2))) continue;
        expect(tree.consistencyProof(s1, s2).map((h) => toBase64(h))).toEqual(v.proof ?? []);
        compared++;
      }
      expect(compared).toBeGreaterThan(0);
    });
  });
} else {
  it(`shared vectors absent: known-answer tests not run (${merkleVectors})`, () => {
    console.warn(`shared vectors not found at ${merkleVectors}, skipping known-answer tests`);
  });
}

// ---------------------------------------------------------------------------------------------------------------
describe('note: C2SP signed-note', () => {
  // golang.org/x/mod sumdb/note/note_test.go
  const peterKey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const peterSeed = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // from PRIVATE+KEY+PeterNeumann+c74f20a3+…
  const enochKey = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
  const text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const peterSig =
    '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
  const enochSig =
    '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
  let peter: NoteVerifier;
  let enoch: NoteVerifier;
  beforeAll(async () => {
    peter = await createEd25519Verifier(peterKey);
    enoch = await createEd25519Verifier(enochKey);
  });

  async function peterKeyPair(): Promise<CryptoKeyPair> {
    const seed = fromBase64(peterSeed).slice(1);
    const pkcs8 = Uint8Array.of(...fromHex('302e020100300506032b657004220420'), ...seed);
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    const raw = parseVerifierKey(peterKey).publicKey as BufferSource;
    const publicKey = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, true, ['verify']);
    return { privateKey, publicKey };
  }

  it('signs the x/mod known answer byte for byte', async () => {
    const signer = await createEd25519Signer('PeterNeumann', await peterKeyPair());
    expect(signer.verifierKey).toBe(peterKey);
    expect(signer.keyId).toBe(0xc74f20a3);
    expect(await signNote(text, [signer])).toBe(`${text}\n${peterSig}`);
    // An existing signature by the same key is replaced, others are kept in front.
    const stalePeter = { name: 'PeterNeumann', keyId: 0xc74f20a3, signature: new Uint8Array(64) };
    const again = await signNote(text, [signer], [stalePeter, parseNote(`${text}\n${enochSig}`).signatures[0]]);
    expect(again).toBe(`${text}\n${enochSig}${peterSig}`);
  });

  it('derives Ed25519 key ids and vkeys as the spec says', async () => {
    const k = parseVerifierKey(peterKey);
    expect(await ed25519VerifierKey(k.name, k.publicKey)).toBe(peterKey);
    expect(formatVerifierKey(k)).toBe(peterKey);
  });

  it('verifies the C2SP signed-note example', async () => {
    const v = await createEd25519Verifier('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
    const note = await openNote(
      'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n',
      [v]
    );
    expect(note.text).toBe('This is an example message.\n');
  });

  it('verifies known signatures and ignores unknown ones', async () => {
    const one = await openNote(text + '\n' + peterSig + enochSig, [peter]);
    expect(one.text).toBe(text);
    expect(one.verified.map((s) => s.name)).toEqual(['PeterNeumann']);
    expect(one.unverified.map((s) => [s.name, s.keyId])).toEqual([['EnochRoot', 0xaf0cfe78]]);
    const both = await openNote(utf8(text + '\n' + peterSig + enochSig), [peter, enoch]);
    expect(both.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(both.unverified).toEqual([]);
    // Duplicates: each known key once, identical unknown signatures once.
    const dup = await openNote(text + '\n' + peterSig + peterSig + enochSig + enochSig, [peter]);
    expect(dup.verified.length).toBe(1);
    expect(dup.unverified.length).toBe(1);
  });

  it('ignores a signature that shares only the name or only the key id with a known key', async () => {
    const sameName = peterSig.replace('x08go', 'x08gp'); // key id changes, name stays
    await expectCodeAsync(openNote(text + '\n' + sameName, [peter]), 'NOTE_UNVERIFIED');
    const sameId = peterSig.replace('PeterNeumann', 'PeterNeumann2');
    await expectCodeAsync(openNote(text + '\n' + sameId, [peter]), 'NOTE_UNVERIFIED');
    expect((await openNote(text + '\n' + sameId + peterSig, [peter])).unverified.length).toBe(1);
  });

  it('rejects a note with no known signature, or with a failing known one', async () => {
    await expectCodeAsync(openNote(text + '\n' + peterSig + enochSig, []), 'NOTE_UNVERIFIED');
    const garbled = text + '\n' + peterSig.slice(0, 60) + 'ABCD' + peterSig.slice(60);
    await expectCodeAsync(openNote(garbled, [peter]), 'NOTE_SIGNATURE_INVALID');
    await expectCodeAsync(
      openNote(text.replace('answer', 'answers') + '\n' + peterSig, [peter]),
      'NOTE_SIGNATURE_INVALID'
    );
    // A bad signature from a known key spoils the note even when another copy is good.
    const raw = fromBase64(peterSig.slice('— PeterNeumann '.length, -1));
    raw[raw.length - 1] ^= 1;
    await expectCodeAsync(
      openNote(`${text}\n${peterSig}— PeterNeumann ${toBase64(raw)}\n`, [peter]),
      'NOTE_SIGNATURE_INVALID'
    );
    await expectCodeAsync(
      openNote(text + '\n' + peterSig, [peter, await createEd25519Verifier(peterKey)]),
      'VERIFIER_AMBIGUOUS'
    );
  });

  it('rejects malformed notes', async () => {
    const bad: Array<string | Uint8Array> = [
      text,
      text + '\n',
      text + '\n' + peterSig.slice(0, -1),
      '\x01' + text + '\n' + peterSig,
      Uint8Array.of(0xff, ...utf8(text + '\n' + peterSig)),
      text +
        '\n' +
        '— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n',
      text + '\n' + peterSig + 'Unexpected line.\n',
      text + '\n' + peterSig.replace('—', '-'),
      text + '\n' + '— PeterNeumann\n',
      text + '\n' + '— PeterNeumann x08g\n', // too short
      text + '\n' + peterSig.replace('AM=', 'AN='), // non-canonical base64
      text + '\n' + peterSig.replace('\n', '\r\n'),
      text.replace('\n', '\ud800\n') + '\n' + peterSig,
      text + '\n' + peterSig.repeat(101)
    ];
    for (const msg of bad) {
      expectCode(() => parseNote(msg), 'NOTE_MALFORMED');
      await expectCodeAsync(openNote(msg, [peter]), 'NOTE_MALFORMED');
    }
    expect((await openNote(text + '\n' + peterSig.repeat(100), [peter])).verified.length).toBe(1);
    await expectCodeAsync(signNote('no newline', []), 'NOTE_MALFORMED');
  });

  it('refuses mangled verifier keys', async () => {
    const bytes = [...peterKey];
    for (let i = 0; i < bytes.length; i++) {
      const mangled = [...bytes];
      mangled[i] = String.fromCharCode(mangled[i].charCodeAt(0) + 1);
      await expectCodeAsync(createEd25519Verifier(mangled.join('')), 'VERIFIER_KEY_INVALID');
    }
    const wrongLength = 'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==';
    for (const k of [peterKey.slice(1), peterKey.slice(0, -1), `${peterKey}+x`, peterKey.toUpperCase(), wrongLength]) {
      await expectCodeAsync(createEd25519Verifier(k), 'VERIFIER_KEY_INVALID');
    }
  });

  it('round-trips with fresh keys and texts containing blank lines', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const signer = await createEd25519Signer('team.example/alice', pair);
    const verifier = await createEd25519Verifier(signer.verifierKey);
    for (const t of ['\n', 'a\n\nb\n', 'trailing blank\n\n', 'ünïcödé — ok\n']) {
      const note = await signNote(t, [signer]);
      expect((await openNote(note, [verifier])).text).toBe(t);
    }
    await expectCodeAsync(createEd25519Signer('bad name', pair), 'KEY_NAME_INVALID');
    await expectCodeAsync(createEd25519Signer('a+b', pair), 'KEY_NAME_INVALID');
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('checkpoint: C2SP tlog-checkpoint', () => {
  const example = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

  it('parses and formats the spec example exactly', () => {
    const c = parseCheckpoint(example);
    expect(c.origin).toBe('example.com/behind-the-sofa');
    expect(c.size).toBe(20852163);
    expect(toBase64(c.rootHash)).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    expect(c.extensions).toEqual([]);
    expect(formatCheckpoint(c)).toBe(example);
    const ext = example + 'ext one\nanother ext\n';
    expect(parseCheckpoint(ext).extensions).toEqual(['ext one', 'another ext']);
    expect(formatCheckpoint(parseCheckpoint(ext))).toBe(ext);
    const empty = `o\n0\n${toBase64(emptyRoot())}\n`;
    expect(formatCheckpoint(parseCheckpoint(empty))).toBe(empty);
  });

  it('rejects anything not exactly in the format', () => {
    const root = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';
    const bad = [
      example.slice(0, -1),
      `origin\n5\n`,
      `\n5\n${root}\n`,
      `o\n05\n${root}\n`,
      `o\n+5\n${root}\n`,
      `o\n-1\n${root}\n`,
      `o\n 5\n${root}\n`,
      `o\n5.0\n${root}\n`,
      `o\n9007199254740992\n${root}\n`,
      `o\n18446744073709551616\n${root}\n`,
      `o\n5\n${root.slice(4)}\n`,
      `o\n5\n${root.replace('=', '')}\n`,
      `o\n5\n${toBase64(new Uint8Array(33))}\n`,
      `o\n5\n${root}\n\n`,
      `o\n5\n${root}\next\n\n`,
      `o\r\n5\n${root}\n`,
      `o\n0\n${root}\n`
    ];
    for (const t of bad) expectCode(() => parseCheckpoint(t), 'CHECKPOINT_MALFORMED');
    const c = parseCheckpoint(example);
    for (const broken of [
      { ...c, origin: '' },
      { ...c, origin: 'a\nb' },
      { ...c, size: -1 },
      { ...c, size: 1.5 },
      { ...c, rootHash: new Uint8Array(31) },
      { ...c, extensions: [''] },
      { ...c, extensions: ['a\nb'] }
    ]) {
      expectCode(() => formatCheckpoint(broken), 'CHECKPOINT_MALFORMED');
    }
  });

  it('signs and opens; tampering with size, root, origin or a signature byte is rejected', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const log = await createEd25519Signer('team.example/log', pair);
    const logVerifier = await createEd25519Verifier(log.verifierKey);
    const { tree } = buildTree(21);
    const cp: Checkpoint = { origin: 'team.example/log', size: tree.size, rootHash: tree.root(), extensions: [] };
    const signed = await signCheckpoint(cp, [log]);
    const opened = await openCheckpoint(signed, logVerifier);
    expect(opened.checkpoint.size).toBe(21);
    expect(hex(opened.checkpoint.rootHash)).toBe(hex(tree.root()));

    const body = formatCheckpoint(cp);
    const sigs = signed.slice(body.length);
    const otherRoot = toBase64(tree.rootAt(20));
    const tampered = [
      signed.replace('\n21\n', '\n22\n'),
      signed.replace(toBase64(cp.rootHash), otherRoot),
      signed.replace('team.example/log\n21', 'team.example/lag\n21'),
      // A character well inside the signature (the last one before "=" also carries padding bits, which a strict
      // decoder refuses as malformed rather than as a bad signature).
      body + sigs.slice(0, -10) + (sigs.at(-10) === 'A' ? 'B' : 'A') + sigs.slice(-9)
    ];
    for (const t of tampered) {
      expect(t).not.toBe(signed);
      await expectCodeAsync(openCheckpoint(t, logVerifier), 'NOTE_SIGNATURE_INVALID');
    }
    // Another log's key does not open it; an unknown extra signature is ignored.
    const stranger = await createEd25519Signer('team.example/other', pair);
    await expectCodeAsync(openCheckpoint(signed, await createEd25519Verifier(stranger.verifierKey)), 'NOTE_UNVERIFIED');
    const withStranger = await signNote(body, [stranger], parseNote(signed).signatures);
    const again = await openCheckpoint(withStranger, logVerifier);
    expect(again.note.unverified.map((s) => s.name)).toEqual(['team.example/other']);
    // Signed by a known non-log key only: not a checkpoint of this log.
    await expectCodeAsync(
      openCheckpoint(await signCheckpoint(cp, [stranger]), logVerifier, [
        await createEd25519Verifier(stranger.verifierKey)
      ]),
      'NOTE_UNVERIFIED'
    );
  });

  it('links two checkpoints of a growing tree with a consistency proof', async () => {
    const { tree } = buildTree(1000, 5);
    const old = parseCheckpoint(
      formatCheckpoint({ origin: 'o', size: 600, rootHash: tree.rootAt(600), extensions: [] })
    );
    const now = parseCheckpoint(formatCheckpoint({ origin: 'o', size: 1000, rootHash: tree.root(), extensions: [] }));
    verifyConsistency(hasher, old.size, now.size, tree.consistencyProof(600), old.rootHash, now.rootHash);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('cosignature: C2SP tlog-cosignature (Ed25519, type 0x04)', () => {
  const body = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
  const seed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'; // RFC 8032 test 1
  const pub = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const vkey = 'witness.example/w1+eb762cc2+BNdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea';
  const line =
    '— witness.example/w1 63YswgAAAABkGFDL+TPmh4BYuAjsYRoqMJCWb/gWJaeRF/kmm5tlCr9sJ57DLErur7K0yDXc2ArN+TIuotuB/HbuL3AJsp3bv/aNCQ==\n';

  async function fixedPair(): Promise<CryptoKeyPair> {
    const pkcs8 = Uint8Array.of(...fromHex('302e020100300506032b657004220420'), ...fromHex(seed));
    return {
      privateKey: await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']),
      publicKey: await crypto.subtle.importKey('raw', fromHex(pub) as BufferSource, { name: 'Ed25519' }, true, [
        'verify'
      ])
    };
  }
  const newPair = async () =>
    (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;

  it('builds the signed message of the spec', () => {
    expect(new TextDecoder().decode(cosignatureMessage(body, 1679315147))).toBe(
      `cosignature/v1\ntime 1679315147\n${body}`
    );
    expectCode(() => cosignatureMessage(body, -1), 'COSIGNATURE_MALFORMED');
  });

  it('produces and verifies the independent known answer', async () => {
    expect(await cosignatureVerifierKey('witness.example/w1', fromHex(pub))).toBe(vkey);
    const cosigner = await createCosigner('witness.example/w1', await fixedPair(), () => 1679315147);
    expect(cosigner.verifierKey).toBe(vkey);
    const signed = await signNote(body, [cosigner]);
    expect(signed).toBe(`${body}\n${line}`);
    const v = await createCosignatureVerifier(vkey);
    const opened = await openNote(`${body}\n${line}`, [v]);
    expect(parseTimestampedSignature(opened.verified[0].signature).timestamp).toBe(1679315147);
  });

  it('a cosignature key is not a note key: the type is part of the key id', async () => {
    const noteVkey = await ed25519VerifierKey('witness.example/w1', fromHex(pub));
    expect(noteVkey).not.toBe(vkey);
    await expectCodeAsync(openNote(`${body}\n${line}`, [await createEd25519Verifier(noteVkey)]), 'NOTE_UNVERIFIED');
    await expectCodeAsync(createCosignatureVerifier(noteVkey), 'VERIFIER_KEY_INVALID');
    await expectCodeAsync(createEd25519Verifier(vkey), 'VERIFIER_KEY_INVALID');
  });

  it('witnesses a teammate checkpoint; moving the cosignature to another checkpoint is rejected', async () => {
    const logSigner = await createEd25519Signer('team.example/bob', await newPair());
    const log = await createEd25519Verifier(logSigner.verifierKey);
    const alice = await createCosigner('team.example/alice-witness', await newPair(), () => 1_800_000_000);
    const aliceV = await createCosignatureVerifier(alice.verifierKey);
    const { tree } = buildTree(50, 11);

    const origin = 'team.example/bob';
    const cp1 = await signCheckpoint({ origin, size: 40, rootHash: tree.rootAt(40), extensions: [] }, [logSigner]);
    const cp2 = await signCheckpoint({ origin, size: 50, rootHash: tree.root(), extensions: [] }, [logSigner]);

    const cosigned = await cosignCheckpoint((await openCheckpoint(cp2, log)).note, alice);
    const opened = await openCosignedCheckpoint(cosigned, log, [aliceV]);
    expect(opened.checkpoint.size).toBe(50);
    expect(opened.cosignatures).toEqual([
      { name: 'team.example/alice-witness', keyId: alice.keyId, timestamp: 1_800_000_000 }
    ]);
    // Without knowing alice the cosignature is ignored, the checkpoint still opens.
    expect((await openCosignedCheckpoint(cosigned, log, [])).cosignatures).toEqual([]);

    // Alice's line from cp2 pasted onto cp1.
    const aliceLine = cosigned.split('\n').find((l) => l.startsWith('— team.example/alice-witness '))!;
    await expectCodeAsync(openCosignedCheckpoint(`${cp1}${aliceLine}\n`, log, [aliceV]), 'NOTE_SIGNATURE_INVALID');
    // Changing the timestamp breaks the signature.
    const raw = fromBase64(aliceLine.split(' ')[2]);
    raw[11] ^= 1;
    await expectCodeAsync(
      openCosignedCheckpoint(`${cp2}— team.example/alice-witness ${toBase64(raw)}\n`, log, [aliceV]),
      'NOTE_SIGNATURE_INVALID'
    );
    // Cosigning again replaces the older cosignature rather than adding a second one.
    const later = await createCosigner('team.example/alice-witness', await newPair(), () => 1);
    const recosigned = await cosignCheckpoint((await openCheckpoint(cosigned, log)).note, later);
    expect(recosigned.split('— team.example/alice-witness').length).toBe(3); // old key id differs: both kept
    const twice = await cosignCheckpoint((await openCheckpoint(cosigned, log)).note, alice);
    expect(twice.split('— team.example/alice-witness').length).toBe(2);
  });

  it('refuses to cosign anything but a checkpoint, and malformed timestamps', async () => {
    const cosigner = await createCosigner('w', await newPair());
    await expectCodeAsync(signNote('hello\n', [cosigner]), 'CHECKPOINT_MALFORMED');
    expectCode(() => parseTimestampedSignature(new Uint8Array(71)), 'COSIGNATURE_MALFORMED');
    const ts = new Uint8Array(72);
    ts[0] = 0x80;
    expectCode(() => parseTimestampedSignature(ts), 'COSIGNATURE_MALFORMED');
    const bad = await createCosigner('w', await newPair(), () => -5);
    await expectCodeAsync(signNote(body, [bad]), 'COSIGNATURE_MALFORMED');
  });
});
