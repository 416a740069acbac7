import { describe, expect, it } from 'vitest';
import { DocStore } from '../../../src/lib/core/docstore.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { initHash } from '../../../src/lib/core/hash.ts';

const entry = (i: number): [string, string] => [i.toString(16).padStart(64, '0'), JSON.stringify({ n: i, pad: 'x'.repeat(200) })];

describe('DocStore', () => {
  it('loads a snapshot with many incremental chunks on it, and folds them into one snapshot', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const { store } = await DocStore.load(storage, { compactAfter: 100_000 });
    await store.commit(Array.from({ length: 500 }, (_, i) => entry(i)));
    await store.compact();
    for (let k = 0; k < 40; k++) await store.commit([entry(1000 + k)]);
    expect((await storage.listKeys(['doc', 'incr'])).length).toBe(40);

    const { store: again, problems } = await DocStore.load(storage);
    expect(problems).toEqual([]);
    expect(Object.keys(again.doc)).toHaveLength(540);
    expect((again.doc as any)[entry(1039)[0]].val).toBe(entry(1039)[1]);
    // Folded: one snapshot, no incrementals.
    expect(await storage.listKeys(['doc', 'incr'])).toEqual([]);
    expect(await storage.listKeys(['doc', 'snapshot'])).toHaveLength(1);
    const { store: third } = await DocStore.load(storage);
    expect(Object.keys(third.doc)).toHaveLength(540);
  });

  it('leaves a store with a few chunks on its snapshot as it is, and never rewrites when asked not to', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const { store } = await DocStore.load(storage);
    await store.commit([entry(1)]);
    await store.compact();
    for (let k = 0; k < 20; k++) await store.commit([entry(100 + k)]);
    const before = await storage.listKeys([]);
    const { store: ro } = await DocStore.load(storage, { compactOnLoad: false });
    expect(Object.keys(ro.doc)).toHaveLength(21);
    expect(await storage.listKeys([])).toEqual(before);
  });
});
