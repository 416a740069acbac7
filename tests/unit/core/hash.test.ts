/**
 * SHA-256 in the core: hash-wasm everywhere, and the platform's own SHA-256 for large inputs where it has a
 * synchronous one (Node). Both must give the same digests, at every size around the switch-over and across it.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createSHA256 } from 'hash-wasm';
import { initHash, nativeSha256, sha256Sync } from '../../../src/lib/core/hash.ts';
import { createTreeHasher, treeHasherFrom, treeHasherWithNative } from '../../../src/lib/core/merkle/hash.ts';

const sizes = [0, 1, 31, 32, 55, 56, 63, 64, 65, 200, 254, 255, 256, 257, 1023, 1024, 1025, 1800, 4096, 70_000];
const nodeSha = (d: Uint8Array) => new Uint8Array(createHash('sha256').update(d).digest());

describe('SHA-256 backends', () => {
  it("under Node the platform's SHA-256 is found, and it is SHA-256", () => {
    const n = nativeSha256();
    expect(n).toBeDefined();
    expect(Buffer.from(n!(new TextEncoder().encode('abc'))).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    );
  });

  it('sha256Sync gives the same digest as node:crypto at every size, on either side of the switch-over', async () => {
    await initHash();
    for (const size of sizes) {
      const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65_536)));
      const got = sha256Sync(data);
      expect(got, `${size}`).toEqual(nodeSha(data));
      expect(got).toBeInstanceOf(Uint8Array);
      expect(got.length).toBe(32);
    }
  });

  it('the tree hasher with the native leaf hash gives the leaves and nodes of the hash-wasm one', async () => {
    const wasm = treeHasherFrom(await createSHA256());
    const mixed = treeHasherWithNative(await createSHA256(), nativeSha256()!);
    const shared = await createTreeHasher();
    for (const size of sizes) {
      const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65_536)));
      const want = wasm.hashLeaf(data);
      const prefixed = new Uint8Array(data.length + 1);
      prefixed.set(data, 1);
      expect(want, `${size}`).toEqual(nodeSha(prefixed));
      expect(mixed.hashLeaf(data), `${size}`).toEqual(want);
      expect(shared.hashLeaf(data), `${size}`).toEqual(want);
    }
    // A large leaf after a larger one: the reused buffer holds no stale byte.
    const big = crypto.getRandomValues(new Uint8Array(9000));
    const small = big.slice(0, 300);
    mixed.hashLeaf(big);
    expect(mixed.hashLeaf(small)).toEqual(wasm.hashLeaf(small));
    const [l, r] = [wasm.hashLeaf(big), wasm.hashLeaf(small)];
    expect(mixed.hashChildren(l, r)).toEqual(wasm.hashChildren(l, r));
    expect(mixed.emptyRoot()).toEqual(wasm.emptyRoot());
  });
});
