/**
 * An append-only RFC 9162 Merkle tree.
 *
 * The tree keeps its compact range ("frontier"): the roots of the perfect subtrees that cover leaves [0, size),
 * largest (leftmost) first, one per set bit of size. Appending a leaf merges equal-height subtrees, so it costs
 * O(1) hashes amortized and O(log n) at worst; the root folds the frontier right to left. The frontier plus the
 * size is the whole state needed to keep appending, and serializes in 9 + 32·popcount(size) bytes.
 *
 * Proofs need interior hashes, so every completed perfect subtree is written to a HashStore at (level, index):
 * level 0 holds leaf hashes, level l index i is the root of leaves [i·2^l, (i+1)·2^l). Only complete subtrees are
 * stored; the ragged right border of any tree size is recomputed from them. Without a store (null) the tree
 * still appends and gives its root, but proofs and historical roots throw NODE_MISSING.
 *
 * Sizes and indices are plain numbers, limited to Number.MAX_SAFE_INTEGER.
 */
import { bytesEqual } from '../bytes.ts';
import { MerkleError } from './errors.ts';
import { HASH_SIZE, type TreeHasher } from './hash.ts';

/** Random access to the hashes of complete perfect subtrees. Levels are written in append order. */
export interface HashStore {
  /** The root of leaves [index·2^level, (index+1)·2^level), or undefined when not stored. */
  get(level: number, index: number): Uint8Array | undefined;
  /** Stores that root; called in increasing index order per level, possibly again with the same hash. */
  set(level: number, index: number, hash: Uint8Array): void;
}

const INITIAL_CAPACITY = 256; // hashes per level before the first growth

/** HashStore in memory: one growable flat buffer per level (32 bytes per hash, no per-hash objects). */
export class MemoryHashStore implements HashStore {
  #levels: Uint8Array[] = [];
  #counts: number[] = [];

  /** Number of hashes stored at a level. */
  count(level: number): number {
    return this.#counts[level] ?? 0;
  }

  get(level: number, index: number): Uint8Array | undefined {
    const n = this.#counts[level];
    if (n === undefined || !Number.isInteger(index) || index < 0 || index >= n) return undefined;
    const o = index * HASH_SIZE;
    return this.#levels[level].slice(o, o + HASH_SIZE);
  }

  set(level: number, index: number, hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) {
      throw new MerkleError('HASH_WRONG_LENGTH', `stored hashes must be ${HASH_SIZE} bytes`);
    }
    if (!Number.isInteger(level) || level < 0 || level > 63) {
      throw new MerkleError('SIZE_OUT_OF_RANGE', `invalid level ${level}`);
    }
    while (this.#levels.length <= level) {
      this.#levels.push(new Uint8Array(INITIAL_CAPACITY * HASH_SIZE));
      this.#counts.push(0);
    }
    const n = this.#counts[level];
    let buf = this.#levels[level];
    const o = index * HASH_SIZE;
    if (Number.isInteger(index) && index >= 0 && index < n) {
      if (!bytesEqual(buf.subarray(o, o + HASH_SIZE), hash)) {
        throw new MerkleError('STORE_CONFLICT', `a different hash is already stored at level ${level} index ${index}`);
      }
      return;
    }
    if (index !== n) {
      throw new MerkleError('NODE_MISSING', `level ${level} holds ${n} hashes; cannot store index ${index}`);
    }
    if (o + HASH_SIZE > buf.length) {
      const grown = new Uint8Array(buf.length * 2);
      grown.set(buf);
      this.#levels[level] = buf = grown;
    }
    buf.set(hash, o);
    this.#counts[level] = n + 1;
  }
}

const STATE_VERSION = 1;
const STATE_HEADER = 9; // version byte + uint64 big-endian size

export class MerkleTree {
  readonly #hasher: TreeHasher;
  readonly #store: HashStore | null;
  #size = 0;
  /** Roots of the perfect subtrees covering [0, size), largest first. */
  #frontier: Uint8Array[] = [];
  #root: Uint8Array | undefined;

  /** An empty tree. Pass store = null for a frontier-only tree (root, no proofs). */
  constructor(hasher: TreeHasher, store: HashStore | null = new MemoryHashStore()) {
    this.#hasher = hasher;
    this.#store = store;
  }

  /**
   * Reloads a tree from serialize() output without rehashing. A store, if given, must already hold the levels
   * of this tree (its frontier nodes are checked against it); without one the tree can append but not prove.
   */
  static fromState(hasher: TreeHasher, state: Uint8Array, store: HashStore | null = null): MerkleTree {
    const { size, frontier } = decodeState(state);
    const tree = new MerkleTree(hasher, store);
    if (store) {
      coverNodes(0, size).forEach(([level, index], i) => {
        const stored = store.get(level, index);
        if (!stored || !bytesEqual(stored, frontier[i])) {
          throw new MerkleError('TREE_STATE_INVALID', `the store does not match the state at level ${level}`);
        }
      });
    }
    tree.#size = size;
    tree.#frontier = frontier;
    return tree;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends a 32-byte leaf hash (see hashLeaf); returns its index. */
  append(leafHash: Uint8Array): number {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) {
      throw new MerkleError('HASH_WRONG_LENGTH', `a leaf hash must be ${HASH_SIZE} bytes`);
    }
    return this.#push(leafHash.slice());
  }

  /** Hashes data as a leaf (SHA-256(0x00 || data)) and appends it; returns its index. */
  appendData(data: Uint8Array): number {
    return this.#push(this.#hasher.hashLeaf(data));
  }

  #push(leaf: Uint8Array): number {
    const index = this.#size;
    if (index >= Number.MAX_SAFE_INTEGER) throw new MerkleError('SIZE_OUT_OF_RANGE', 'the tree is full');
    const store = this.#store;
    store?.set(0, index, leaf);
    // Each trailing 1 bit of index is a complete left sibling in the frontier to merge with.
    let node = leaf;
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      node = this.#hasher.hashChildren(this.#frontier.pop()!, node);
      level++;
      i = (i - 1) / 2;
      store?.set(level, i, node);
    }
    this.#frontier.push(node);
    this.#size = index + 1;
    this.#root = undefined;
    return index;
  }

  /** The root hash at the current size (SHA-256("") when empty). */
  root(): Uint8Array {
    this.#root ??= this.#fold(this.#frontier);
    return this.#root.slice();
  }

  /** The root hash the tree had at an earlier size, from the store. */
  rootAt(size: number): Uint8Array {
    checkSize(size, 0, this.#size, 'size');
    if (size === this.#size) return this.root();
    return this.#rangeRoot(0, size).slice();
  }

  /** The compact range: roots of the perfect subtrees covering [0, size), largest first (copies). */
  frontier(): Uint8Array[] {
    return this.#frontier.map((h) => h.slice());
  }

  /** RFC 9162 2.1.3.1 inclusion proof of leaf index in the tree of the given size (default: current). */
  inclusionProof(index: number, size: number = this.#size): Uint8Array[] {
    checkSize(size, 1, this.#size, 'size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new MerkleError('INDEX_OUT_OF_RANGE', `leaf index ${index} is not below tree size ${size}`);
    }
    return this.#path(0, index, size);
  }

  /** RFC 9162 2.1.4.1 consistency proof from size1 to size2 (default: current); 0 < size1 <= size2. */
  consistencyProof(size1: number, size2: number = this.#size): Uint8Array[] {
    checkSize(size2, 1, this.#size, 'size2');
    checkSize(size1, 1, size2, 'size1');
    if (size1 === size2) return [];
    // The old tree's rightmost perfect subtree is node (level, index); the proof is that node (unless it is the
    // whole old tree, which the verifier already has as root1) followed by its inclusion path in the new tree.
    const level = trailingZeros(size1);
    const index = size1 / 2 ** level - 1;
    const proof = this.#path(level, index, size2);
    if (index !== 0) proof.unshift(this.#node(level, index));
    return proof;
  }

  /** The state to persist: version byte 0x01, uint64 big-endian size, then the frontier hashes. */
  serialize(): Uint8Array {
    const out = new Uint8Array(STATE_HEADER + HASH_SIZE * this.#frontier.length);
    out[0] = STATE_VERSION;
    const view = new DataView(out.buffer);
    view.setUint32(1, Math.floor(this.#size / 2 ** 32));
    view.setUint32(5, this.#size >>> 0);
    this.#frontier.forEach((h, i) => out.set(h, STATE_HEADER + i * HASH_SIZE));
    return out;
  }

  /** Sibling hashes from node (level, index) up to the root of the tree of the given size, bottom first. */
  #path(level: number, index: number, size: number): Uint8Array[] {
    const proof: Uint8Array[] = [];
    const last = size - 1;
    for (let l = level, i = index; Math.floor(last / 2 ** l) > 0; l++, i = Math.floor(i / 2)) {
      const sibling = i % 2 === 0 ? i + 1 : i - 1;
      const start = sibling * 2 ** l;
      if (start >= size) continue; // on the right border with nothing to the right at this level
      const end = Math.min(start + 2 ** l, size);
      proof.push(end - start === 2 ** l ? this.#node(l, sibling) : this.#rangeRoot(start, end));
    }
    return proof;
  }

  /** MTH of leaves [start, end) where start is aligned to the largest power of two in end - start. */
  #rangeRoot(start: number, end: number): Uint8Array {
    return this.#fold(coverNodes(start, end - start).map(([l, i]) => this.#node(l, i)));
  }

  /** Root of consecutive perfect subtrees (largest first), combined right to left as RFC 9162 MTH does. */
  #fold(nodes: Uint8Array[]): Uint8Array {
    if (nodes.length === 0) return this.#hasher.emptyRoot();
    let r = nodes[nodes.length - 1];
    for (let j = nodes.length - 2; j >= 0; j--) r = this.#hasher.hashChildren(nodes[j], r);
    return r;
  }

  #node(level: number, index: number): Uint8Array {
    if (!this.#store) throw new MerkleError('NODE_MISSING', 'this tree keeps no hash store');
    const h = this.#store.get(level, index);
    if (!h || h.length !== HASH_SIZE) {
      throw new MerkleError('NODE_MISSING', `no hash stored at level ${level} index ${index}`);
    }
    return h;
  }
}

/**
 * The perfect subtrees covering [start, start + count), largest first, as [level, index] pairs. start must be
 * aligned to the largest power of two in count (true for start = 0 and for a right-border sibling).
 */
function coverNodes(start: number, count: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let pos = start;
  let rest = count;
  for (let l = 53; l >= 0 && rest > 0; l--) {
    const w = 2 ** l;
    if (rest >= w) {
      out.push([l, pos / w]);
      pos += w;
      rest -= w;
    }
  }
  return out;
}

function trailingZeros(n: number): number {
  let z = 0;
  while (n % 2 === 0) {
    n /= 2;
    z++;
  }
  return z;
}

function checkSize(size: number, min: number, max: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < min || size > max) {
    throw new MerkleError('SIZE_OUT_OF_RANGE', `${what} ${size} is outside [${min}, ${max}]`);
  }
}

function decodeState(state: Uint8Array): { size: number; frontier: Uint8Array[] } {
  const bad = (why: string) => new MerkleError('TREE_STATE_INVALID', `invalid tree state: ${why}`);
  if (!(state instanceof Uint8Array) || state.length < STATE_HEADER) throw bad('too short');
  if (state[0] !== STATE_VERSION) throw bad(`unknown version ${state[0]}`);
  const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
  const size = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  if (!Number.isSafeInteger(size)) throw bad('size exceeds 2^53 - 1');
  const nodes = coverNodes(0, size).length;
  if (state.length !== STATE_HEADER + nodes * HASH_SIZE) throw bad(`expected ${nodes} frontier hashes`);
  const frontier: Uint8Array[] = [];
  for (let i = 0; i < nodes; i++) {
    const o = STATE_HEADER + i * HASH_SIZE;
    frontier.push(state.slice(o, o + HASH_SIZE));
  }
  return { size, frontier };
}
