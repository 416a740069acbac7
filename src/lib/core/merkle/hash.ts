/**
 * RFC 9162 section 2.1.1 tree hashing with SHA-256:
 *   leaf hash  = SHA-256(0x00 || data)
 *   node hash  = SHA-256(0x01 || left || right)
 *   empty root = SHA-256("")
 *
 * WebCrypto's digest is asynchronous, far too slow for millions of 65-byte inputs; hash-wasm's SHA-256 is
 * synchronous once instantiated, so a TreeHasher is created once (async) and then hashes without promises.
 * A TreeHasher is not reentrant, which is safe because every call runs to completion synchronously.
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import { MerkleError } from './errors.ts';
import { nativeSha256, type NativeHash } from '../hash.ts';

export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
const SMALL_LEAF = 1024;

/** SHA-256 of the empty string (hex e3b0c442…b855), the root of the empty tree. */
const EMPTY = new Uint8Array([
  0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
  0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
]);

/** The root hash of the empty tree, SHA-256(""). Returns a fresh copy. */
export function emptyRoot(): Uint8Array {
  return EMPTY.slice();
}

export interface TreeHasher {
  /** SHA-256(0x00 || data). */
  hashLeaf(data: Uint8Array): Uint8Array;
  /** SHA-256(0x01 || left || right); both must be 32 bytes. */
  hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array;
  /** SHA-256(""), a fresh copy. */
  emptyRoot(): Uint8Array;
}

/** Wraps a hash-wasm SHA-256 instance. The instance must not be used elsewhere meanwhile. */
export function treeHasherFrom(sha256: IHasher): TreeHasher {
  const leafPrefix = new Uint8Array([LEAF_PREFIX]);
  const leaf = new Uint8Array(1 + SMALL_LEAF); // small leaves go to the hasher in one update
  leaf[0] = LEAF_PREFIX;
  const node = new Uint8Array(1 + 2 * HASH_SIZE);
  node[0] = NODE_PREFIX;
  return {
    hashLeaf(data) {
      sha256.init();
      if (data.length <= SMALL_LEAF) {
        leaf.set(data, 1);
        sha256.update(leaf.subarray(0, 1 + data.length));
      } else {
        sha256.update(leafPrefix);
        sha256.update(data);
      }
      return sha256.digest('binary');
    },
    hashChildren(left, right) {
      if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
        throw new MerkleError('HASH_WRONG_LENGTH', `node children must be ${HASH_SIZE} bytes`, {
          detail: { left: left.length, right: right.length }
        });
      }
      node.set(left, 1);
      node.set(right, 1 + HASH_SIZE);
      sha256.init();
      sha256.update(node);
      return sha256.digest('binary');
    },
    emptyRoot
  };
}

/** Leaves at least this long go to the platform's SHA-256 when it has one (its per-call cost is higher). */
const NATIVE_LEAF = 256;

/**
 * A TreeHasher that hashes large leaves with the platform's SHA-256 (`native`) and everything else with the
 * hash-wasm instance: the same SHA-256, several times faster over the kilobytes of an event's envelope.
 */
export function treeHasherWithNative(sha256: IHasher, native: NativeHash): TreeHasher {
  const base = treeHasherFrom(sha256);
  let buf = new Uint8Array(1 << 12);
  return {
    ...base,
    hashLeaf(data) {
      if (data.length < NATIVE_LEAF) return base.hashLeaf(data);
      if (data.length + 1 > buf.length) buf = new Uint8Array(2 * (data.length + 1));
      buf[0] = LEAF_PREFIX;
      buf.set(data, 1);
      return native(buf.subarray(0, data.length + 1));
    }
  };
}

let shared: Promise<TreeHasher> | undefined;

/** The process-wide TreeHasher, instantiated on first use and reused afterwards. */
export function createTreeHasher(): Promise<TreeHasher> {
  shared ??= createSHA256().then(
    (h) => {
      const n = nativeSha256();
      return n ? treeHasherWithNative(h, n) : treeHasherFrom(h);
    },
    (e: unknown) => {
      shared = undefined; // let a later call retry
      throw e;
    }
  );
  return shared;
}
