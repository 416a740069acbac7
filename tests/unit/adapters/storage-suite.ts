/**
 * The contract every StorageAdapter meets, written once (after automerge-repo's runStorageAdapterTests).
 * Each adapter's test file calls runStorageAdapterTests with a setup that makes a fresh, empty adapter.
 * No node: imports, so the suite could also run in a browser.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fc from 'fast-check';
import type { StorageAdapter, StorageChunk, StorageKey } from '../../../src/lib/core/storage.ts';

export interface StorageAdapterFixture {
  adapter: StorageAdapter;
  teardown: () => Promise<void> | void;
}

const bytes = (...values: number[]) => new Uint8Array(values);

/** Deterministic pseudo-random bytes (xorshift32): large values without crypto.getRandomValues' 64 KiB limit. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Index of the first differing byte, or -1; keeps failure messages short for megabyte values. */
function firstDifference(a: Uint8Array | undefined, b: Uint8Array): number {
  if (!a) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual!.length).toBe(expected.length);
  expect(firstDifference(actual, expected)).toBe(-1);
}

/** Plain arrays compare cleanly whatever Uint8Array flavour an adapter returns. */
const plain = (chunks: StorageChunk[]) => chunks.map((c) => ({ key: c.key, data: Array.from(c.data) }));

const HOSTILE_KEYS: unknown[] = [
  [],
  [''],
  ['..'],
  ['.'],
  ['a', '..', 'b'],
  ['..', 'etc', 'passwd'],
  ['a/b'],
  ['a\\b'],
  ['/abs'],
  ['a', ''],
  ['a\u0000b'],
  ['a b'],
  ['é'],
  [1],
  ['a', null],
  [undefined],
  'a',
  null,
  undefined,
  { 0: 'a', length: 1 }
];

export function runStorageAdapterTests(name: string, setup: () => Promise<StorageAdapterFixture>): void {
  describe(`StorageAdapter contract: ${name}`, () => {
    let adapter: StorageAdapter;
    let teardown: StorageAdapterFixture['teardown'];

    beforeEach(async () => {
      ({ adapter, teardown } = await setup());
    });
    afterEach(async () => {
      await teardown();
    });

    describe('load and save', () => {
      it('returns undefined for a missing key', async () => {
        expect(await adapter.load(['missing'])).toBeUndefined();
        expect(await adapter.load(['missing', 'nested', 'key'])).toBeUndefined();
      });

      it('round-trips an empty value', async () => {
        await adapter.save(['empty'], new Uint8Array(0));
        expectBytes(await adapter.load(['empty']), new Uint8Array(0));
        expect(await adapter.listKeys([])).toEqual([['empty']]);
      });

      it('round-trips a small value under a composite key', async () => {
        await adapter.save(['doc', 'snapshot', 'h1'], bytes(0, 1, 127, 128, 255));
        expectBytes(await adapter.load(['doc', 'snapshot', 'h1']), bytes(0, 1, 127, 128, 255));
      });

      it('round-trips a 5 MiB value', async () => {
        const big = pseudoRandomBytes(5 * 1024 * 1024, 7);
        await adapter.save(['big', 'value'], big);
        expectBytes(await adapter.load(['big', 'value']), big);
        const range = await adapter.loadRange(['big']);
        expect(range.map((c) => c.key)).toEqual([['big', 'value']]);
        expectBytes(range[0].data, big);
      });

      it('stores only the bytes of a view, not its whole underlying buffer', async () => {
        const backing = pseudoRandomBytes(1000, 3);
        const view = backing.subarray(100, 110);
        await adapter.save(['view'], view);
        expectBytes(await adapter.load(['view']), backing.slice(100, 110));
      });

      it('overwrites, including with a shorter value', async () => {
        await adapter.save(['k'], pseudoRandomBytes(4096, 1));
        await adapter.save(['k'], bytes(9, 8, 7));
        expectBytes(await adapter.load(['k']), bytes(9, 8, 7));
        await adapter.save(['k'], new Uint8Array(0));
        expectBytes(await adapter.load(['k']), new Uint8Array(0));
        expect(await adapter.listKeys([])).toEqual([['k']]);
      });

      it('keeps concurrent saves to different keys, and one whole value of concurrent saves to one key', async () => {
        const keys = Array.from({ length: 40 }, (_, i) => ['c', String(i % 4), `k${i}`]);
        await Promise.all(keys.map((k, i) => adapter.save(k, bytes(i))));
        const values = Array.from({ length: 8 }, (_, i) => pseudoRandomBytes(1000 + i, i + 1));
        await Promise.all(values.map((v) => adapter.save(['same'], v)));
        expect((await adapter.listKeys(['c'])).length).toBe(40);
        const got = await adapter.load(['same']);
        expect(values.some((v) => firstDifference(got, v) === -1)).toBe(true);
      });
    });

    describe('remove', () => {
      it('removes a key and leaves its neighbours', async () => {
        await adapter.save(['a', 'x'], bytes(1));
        await adapter.save(['a', 'y'], bytes(2));
        await adapter.remove(['a', 'x']);
        expect(await adapter.load(['a', 'x'])).toBeUndefined();
        expectBytes(await adapter.load(['a', 'y']), bytes(2));
        expect(await adapter.listKeys([])).toEqual([['a', 'y']]);
      });

      it('accepts removing a missing key', async () => {
        await adapter.remove(['never', 'saved']);
        await adapter.save(['x'], bytes(1));
        await adapter.remove(['x']);
        await adapter.remove(['x']);
        expect(await adapter.listKeys([])).toEqual([]);
      });

      it('can save again under a prefix whose last key was removed', async () => {
        await adapter.save(['p', 'q', 'r'], bytes(1));
        await adapter.remove(['p', 'q', 'r']);
        await adapter.save(['p', 'q', 's'], bytes(2));
        expect(await adapter.listKeys(['p'])).toEqual([['p', 'q', 's']]);
      });
    });

    describe('loadRange and listKeys', () => {
      // Inserted out of order; ["a", "b"] sorts before ["a-b"] although "a/b" > "a-b" as strings.
      const entries: [StorageKey, number][] = [
        [['b'], 1],
        [['ab', 'c'], 2],
        [['a', 'e'], 3],
        [['a-b'], 4],
        [['a', 'b', 'd'], 5],
        [['a'], 6],
        [['ab'], 7],
        [['a', 'b', 'c'], 8],
        [['a.b'], 9],
        [['a', 'b'], 10],
        [['A'], 11]
      ];
      const sorted: StorageKey[] = [
        ['A'],
        ['a'],
        ['a', 'b'],
        ['a', 'b', 'c'],
        ['a', 'b', 'd'],
        ['a', 'e'],
        ['a-b'],
        ['a.b'],
        ['ab'],
        ['ab', 'c'],
        ['b']
      ];
      const valueOf = (key: StorageKey) => entries.find(([k]) => k.join('/') === key.join('/'))![1];
      const expected = (keys: StorageKey[]) => keys.map((key) => ({ key, data: [valueOf(key)] }));

      beforeEach(async () => {
        for (const [key, v] of entries) await adapter.save(key, bytes(v));
      });

      it('returns everything, sorted, for the empty prefix', async () => {
        expect(plain(await adapter.loadRange([]))).toEqual(expected(sorted));
        expect(await adapter.listKeys([])).toEqual(sorted);
      });

      it('returns the prefix itself and the keys below it, not a longer sibling name', async () => {
        const underA = [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'd'], ['a', 'e']];
        expect(plain(await adapter.loadRange(['a']))).toEqual(expected(underA));
        expect(await adapter.listKeys(['a'])).toEqual(underA);
        expect(await adapter.listKeys(['ab'])).toEqual([['ab'], ['ab', 'c']]);
      });

      it('narrows with nested prefixes', async () => {
        const underAB = [
          ['a', 'b'],
          ['a', 'b', 'c'],
          ['a', 'b', 'd']
        ];
        expect(plain(await adapter.loadRange(['a', 'b']))).toEqual(expected(underAB));
        expect(await adapter.listKeys(['a', 'b', 'c'])).toEqual([['a', 'b', 'c']]);
        expect(await adapter.listKeys(['a', 'e'])).toEqual([['a', 'e']]);
      });

      it('returns nothing for a prefix with no keys', async () => {
        expect(await adapter.loadRange(['zzz'])).toEqual([]);
        expect(await adapter.listKeys(['a', 'zzz'])).toEqual([]);
        expect(await adapter.listKeys(['a', 'b', 'c', 'd'])).toEqual([]);
        expect(await adapter.listKeys(['b', 'x'])).toEqual([]);
      });
    });

    describe('removeRange', () => {
      beforeEach(async () => {
        for (const key of [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'e'], ['ab'], ['ab', 'c'], ['a-b'], ['b']]) {
          await adapter.save(key, bytes(key.length));
        }
      });

      it('removes the prefix and everything below it, and nothing else', async () => {
        await adapter.removeRange(['a']);
        expect(await adapter.listKeys([])).toEqual([['a-b'], ['ab'], ['ab', 'c'], ['b']]);
        expect(await adapter.load(['a'])).toBeUndefined();
      });

      it('removes a nested range only', async () => {
        await adapter.removeRange(['a', 'b']);
        expect(await adapter.listKeys(['a'])).toEqual([['a'], ['a', 'e']]);
      });

      it('removes everything for the empty prefix, and the adapter stays usable', async () => {
        await adapter.removeRange([]);
        expect(await adapter.listKeys([])).toEqual([]);
        await adapter.save(['a', 'b', 'c'], bytes(1));
        expect(await adapter.listKeys([])).toEqual([['a', 'b', 'c']]);
      });

      it('accepts a prefix with nothing under it', async () => {
        await adapter.removeRange(['nothing', 'here']);
        expect((await adapter.listKeys([])).length).toBe(8);
      });
    });

    describe('saveMany', () => {
      it('applies writes, then removals', async (ctx) => {
        if (!adapter.saveMany) return ctx.skip();
        await adapter.save(['old', '1'], bytes(1));
        await adapter.save(['old', '2'], bytes(2));
        await adapter.saveMany(
          [
            { key: ['new', '1'], data: bytes(10) },
            { key: ['old', '1'], data: bytes(11) },
            { key: ['dup'], data: bytes(1) },
            { key: ['dup'], data: bytes(2) },
            { key: ['gone'], data: bytes(3) }
          ],
          [['old', '2'], ['gone'], ['never']]
        );
        expect(plain(await adapter.loadRange([]))).toEqual([
          { key: ['dup'], data: [2] },
          { key: ['new', '1'], data: [10] },
          { key: ['old', '1'], data: [11] }
        ]);
      });

      it('accepts an empty batch and omitted removals', async (ctx) => {
        if (!adapter.saveMany) return ctx.skip();
        await adapter.saveMany([]);
        await adapter.saveMany([{ key: ['x'], data: bytes(1) }]);
        expect(await adapter.listKeys([])).toEqual([['x']]);
      });

      it('rejects a batch with a bad key or value before applying any of it', async (ctx) => {
        if (!adapter.saveMany) return ctx.skip();
        await expect(
          adapter.saveMany([
            { key: ['ok'], data: bytes(1) },
            { key: ['..'], data: bytes(2) }
          ])
        ).rejects.toThrow(TypeError);
        await expect(adapter.saveMany([{ key: ['ok'], data: [1] as unknown as Uint8Array }])).rejects.toThrow(
          TypeError
        );
        await expect(adapter.saveMany([{ key: ['ok'], data: bytes(1) }], [['a/b']])).rejects.toThrow(TypeError);
        expect(await adapter.listKeys([])).toEqual([]);
      });
    });

    describe('hostile input', () => {
      it.each(HOSTILE_KEYS.map((k) => [JSON.stringify(k) ?? String(k), k]))(
        'rejects key %s with a TypeError in every operation',
        async (_, key) => {
          const k = key as StorageKey;
          const isEmpty = Array.isArray(key) && key.length === 0;
          await expect(adapter.load(k)).rejects.toThrow(TypeError);
          await expect(adapter.save(k, bytes(1))).rejects.toThrow(TypeError);
          await expect(adapter.remove(k)).rejects.toThrow(TypeError);
          if (!isEmpty) {
            // [] is the valid "everything" prefix for the range operations.
            await expect(adapter.loadRange(k)).rejects.toThrow(TypeError);
            await expect(adapter.listKeys(k)).rejects.toThrow(TypeError);
            await expect(adapter.removeRange(k)).rejects.toThrow(TypeError);
          }
          if (adapter.saveMany) {
            await expect(adapter.saveMany([{ key: k, data: bytes(1) }])).rejects.toThrow(TypeError);
            await expect(adapter.saveMany([], [k])).rejects.toThrow(TypeError);
          }
          expect(await adapter.listKeys([])).toEqual([]);
        }
      );

      it('rejects values that are not Uint8Array with a TypeError', async () => {
        for (const data of ['text', [1, 2], new ArrayBuffer(2), null, undefined, 42]) {
          await expect(adapter.save(['k'], data as unknown as Uint8Array)).rejects.toThrow(TypeError);
        }
        expect(await adapter.listKeys([])).toEqual([]);
      });
    });

    describe('copies', () => {
      it('is not affected by mutating the saved buffer or a returned one', async () => {
        const data = bytes(1, 2, 3);
        await adapter.save(['k'], data);
        data[0] = 99;
        const first = (await adapter.load(['k']))!;
        expectBytes(first, bytes(1, 2, 3));
        first[1] = 99;
        const [chunk] = await adapter.loadRange(['k']);
        expectBytes(chunk.data, bytes(1, 2, 3));
        chunk.data[2] = 99;
        chunk.key[0] = 'changed';
        expectBytes(await adapter.load(['k']), bytes(1, 2, 3));
        expect(await adapter.listKeys([])).toEqual([['k']]);
      });

      it('is not affected by mutating a batch after saveMany', async (ctx) => {
        if (!adapter.saveMany) return ctx.skip();
        const data = bytes(4, 5);
        const key = ['m'];
        await adapter.saveMany([{ key, data }]);
        data[0] = 0;
        key[0] = 'other';
        expectBytes(await adapter.load(['m']), bytes(4, 5));
      });
    });

    it('behaves like a Map over random operation sequences', async () => {
      const part = fc.constantFrom('a', 'b', 'ab', 'a-b', 'a.b', 'B');
      const key = fc.array(part, { minLength: 1, maxLength: 3 });
      const prefix = fc.array(part, { minLength: 0, maxLength: 2 });
      const value = fc.uint8Array({ maxLength: 24 });
      const op = fc.oneof(
        fc.record({ type: fc.constant('save' as const), key, value }),
        fc.record({ type: fc.constant('save' as const), key, value }),
        fc.record({ type: fc.constant('remove' as const), key }),
        fc.record({ type: fc.constant('load' as const), key }),
        fc.record({ type: fc.constant('loadRange' as const), prefix }),
        fc.record({ type: fc.constant('listKeys' as const), prefix }),
        fc.record({ type: fc.constant('removeRange' as const), prefix }),
        fc.record({
          type: fc.constant('saveMany' as const),
          writes: fc.array(fc.record({ key, value }), { maxLength: 4 }),
          removals: fc.array(key, { maxLength: 3 })
        })
      );

      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          await adapter.removeRange([]);
          const model = new ModelStorage();
          for (const o of ops) {
            switch (o.type) {
              case 'save':
                await adapter.save(o.key, o.value);
                model.save(o.key, o.value);
                break;
              case 'remove':
                await adapter.remove(o.key);
                model.remove(o.key);
                break;
              case 'load':
                expect(toArray(await adapter.load(o.key))).toEqual(toArray(model.load(o.key)));
                break;
              case 'loadRange':
                expect(plain(await adapter.loadRange(o.prefix))).toEqual(plain(model.range(o.prefix)));
                break;
              case 'listKeys':
                expect(await adapter.listKeys(o.prefix)).toEqual(model.range(o.prefix).map((c) => c.key));
                break;
              case 'removeRange':
                await adapter.removeRange(o.prefix);
                for (const c of model.range(o.prefix)) model.remove(c.key);
                break;
              case 'saveMany': {
                const writes = o.writes.map((w) => ({ key: w.key, data: w.value }));
                if (adapter.saveMany) await adapter.saveMany(writes, o.removals);
                else {
                  for (const w of writes) await adapter.save(w.key, w.data);
                  for (const k of o.removals) await adapter.remove(k);
                }
                for (const w of writes) model.save(w.key, w.data);
                for (const k of o.removals) model.remove(k);
                break;
              }
            }
          }
          expect(plain(await adapter.loadRange([]))).toEqual(plain(model.range([])));
        }),
        { numRuns: 40 }
      );
    });
  });
}

const toArray = (b: Uint8Array | undefined) => (b === undefined ? undefined : Array.from(b));

/** A deliberately naive reference: a Map from the JSON of the key, filtered and sorted on every query. */
class ModelStorage {
  #map = new Map<string, Uint8Array>();

  save(key: StorageKey, data: Uint8Array): void {
    this.#map.set(JSON.stringify(key), data.slice());
  }
  remove(key: StorageKey): void {
    this.#map.delete(JSON.stringify(key));
  }
  load(key: StorageKey): Uint8Array | undefined {
    return this.#map.get(JSON.stringify(key));
  }
  range(prefix: StorageKey): StorageChunk[] {
    return [...this.#map]
      .map(([k, data]) => ({ key: JSON.parse(k) as StorageKey, data }))
      .filter((c) => prefix.every((p, i) => c.key[i] === p))
      .sort((x, y) => {
        for (let i = 0; i < Math.min(x.key.length, y.key.length); i++) {
          if (x.key[i] !== y.key[i]) return x.key[i] < y.key[i] ? -1 : 1;
        }
        return x.key.length - y.key.length;
      });
  }
}
