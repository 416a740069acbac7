import { describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import {
  DocStore,
  decodeRecord,
  encodeRecord,
  layoutChange,
  recordsObjectId,
  scanDoc
} from '../../../src/lib/core/docstore.ts';
import { sha256HexSync } from '../../../src/lib/core/hash.ts';
import { MemoryStorage } from '../../../src/lib/adapters/storage/memory.ts';
import { initHash } from '../../../src/lib/core/hash.ts';

const entry = (i: number): [string, string] => [
  i.toString(16).padStart(64, '0'),
  JSON.stringify({ n: i, pad: 'x'.repeat(200) })
];
const LEDGER = 'ab'.repeat(32);
const keys = (store: DocStore): string[] => [...store.entries()].map(([k]) => k);

describe('DocStore', () => {
  it('takes one batch of more entries than a call can have arguments (a clone of a large ledger), and loads it back', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const { store } = await DocStore.load(storage);
    const n = 130_000; // records are pairs of entries: 65k records; a spread of this many arguments overflows
    const small = (i: number): [string, string] => [i.toString(16).padStart(64, '0'), String(i)];
    await store.commit(
      Array.from({ length: n }, (_, i) => small(i)),
      LEDGER
    );
    const { store: again, problems } = await DocStore.load(storage);
    expect(problems).toEqual([]);
    expect(keys(again)).toHaveLength(n);
    expect(again.get(small(n - 1)[0])).toBe(String(n - 1));
  }, 120_000);

  it('loads a snapshot with many incremental chunks on it, and folds them into one snapshot', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const { store } = await DocStore.load(storage, { compactAfter: 100_000 });
    await store.commit(
      Array.from({ length: 500 }, (_, i) => entry(i)),
      LEDGER
    );
    await store.compact();
    for (let k = 0; k < 40; k++) await store.commit([entry(1000 + k)]);
    expect((await storage.listKeys(['doc', 'incr'])).length).toBe(40);

    const { store: again, problems } = await DocStore.load(storage);
    expect(problems).toEqual([]);
    expect(keys(again)).toHaveLength(540);
    expect(again.get(entry(1039)[0])).toBe(entry(1039)[1]);
    // Folded: one snapshot, no incrementals.
    expect(await storage.listKeys(['doc', 'incr'])).toEqual([]);
    expect(await storage.listKeys(['doc', 'snapshot'])).toHaveLength(1);
    const { store: third } = await DocStore.load(storage);
    expect(keys(third)).toHaveLength(540);
  });

  it('leaves a store with a few chunks on its snapshot as it is, and never rewrites when asked not to', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const { store } = await DocStore.load(storage);
    await store.commit([entry(1)], LEDGER);
    await store.compact();
    for (let k = 0; k < 20; k++) await store.commit([entry(100 + k)]);
    const before = await storage.listKeys([]);
    const { store: ro } = await DocStore.load(storage, { compactOnLoad: false });
    expect(keys(ro)).toHaveLength(21);
    expect(await storage.listKeys([])).toEqual(before);
  });
});

describe("DocStore layout (a records list made by the ledger's layout change)", () => {
  it('gives every device that starts a copy of a ledger the same records list, so their documents merge whole', async () => {
    await initHash();
    const a = (await DocStore.load(new MemoryStorage())).store;
    const b = (await DocStore.load(new MemoryStorage())).store;
    // Both start from the same first entry by themselves (create on one, clone from Git on the other).
    await a.commit([entry(0), [`${entry(0)[0]}.git`, 'sig-a']], LEDGER);
    await b.commit([entry(0), [`${entry(0)[0]}.git`, 'sig-a']], LEDGER);
    await a.commit([entry(1)]);
    await b.commit([entry(2)]);
    expect(A.getObjectId(a.doc.records!)).toBe(recordsObjectId(LEDGER));
    expect(A.getObjectId(b.doc.records!)).toBe(recordsObjectId(LEDGER));
    await a.merge(b.doc);
    expect(A.getConflicts(a.doc, 'records')).toBeUndefined();
    expect(keys(a).sort()).toEqual([entry(0)[0], `${entry(0)[0]}.git`, entry(1)[0], entry(2)[0]].sort());
    // The entry both inserted is two equal records; readers see it once, verify sees both.
    expect(a.scan().entries.filter(([k]) => k === entry(0)[0])).toHaveLength(2);
    expect(a.get(`${entry(0)[0]}.git`)).toBe('sig-a');
    const { store: again } = await DocStore.load(a.storage);
    expect(keys(again).sort()).toEqual(keys(a).sort());
  });

  it('keeps an event and its journal signature in one record; an empty store takes its first entry as the genesis', async () => {
    await initHash();
    const s = (await DocStore.load(new MemoryStorage())).store;
    await expect(s.commit([['not-an-id', 'x']])).rejects.toThrow(/no records list/);
    expect(await DocStore.isEmpty(s.storage)).toBe(true);
    await s.commit([entry(5), entry(6), [`${entry(5)[0]}.git`, 'x']]);
    expect(A.getObjectId(s.doc.records!)).toBe(recordsObjectId(entry(5)[0]));
    expect(s.doc.records!.map((r) => r.val)).toEqual([
      `${entry(5)[0]} ${entry(5)[1]}\n${entry(5)[0]}.git x`,
      `${entry(6)[0]} ${entry(6)[1]}`
    ]);
  });

  it('reads a document of the first layout (one root key per entry) and adds the records list on its next write', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const legacy = A.change(A.init<any>(), (d) => {
      d[entry(1)[0]] = new A.ImmutableString(entry(1)[1]);
    });
    const bytes = A.save(legacy);
    await storage.save(['doc', 'snapshot', sha256HexSync(bytes)], bytes);
    const { store } = await DocStore.load(storage);
    expect(store.get(entry(1)[0])).toBe(entry(1)[1]);
    store.bindLedger(LEDGER);
    await store.commit([entry(2)]);
    const { store: again } = await DocStore.load(storage);
    expect(keys(again).sort()).toEqual([entry(1)[0], entry(2)[0]]);
    expect(A.getObjectId(again.doc.records!)).toBe(recordsObjectId(LEDGER));
  });

  it('reports records it cannot read instead of throwing', async () => {
    await initHash();
    const storage = new MemoryStorage();
    const { store } = await DocStore.load(storage);
    await store.commit([entry(1)], LEDGER);
    const doc = A.change(A.clone(store.doc), (d) => {
      d.records!.push('plain text' as any);
      d.records!.push(new A.ImmutableString('no-space-here'));
    });
    expect(scanDoc(doc).malformed.map((m) => m.location)).toEqual(['record 1', 'record 2']);
    expect(scanDoc(doc).entries).toEqual([entry(1)]);
  });

  it('encodes records that decode to the same entries, and refuses entries a record cannot hold', () => {
    const entries: Array<[string, string]> = [
      ['k1', '{"a":"b c"}'],
      ['k1.git', 'sig']
    ];
    expect(decodeRecord(encodeRecord(entries))).toEqual({ entries });
    expect(() => encodeRecord([['a b', 'v']])).toThrow(TypeError);
    expect(() => encodeRecord([['k', 'line\nbreak']])).toThrow(TypeError);
    expect(decodeRecord('k v\n').problem).toMatch(/without/);
    expect(layoutChange(LEDGER).hash).toBe(layoutChange(LEDGER).hash);
    expect(() => layoutChange('not-an-id')).toThrow(TypeError);
  });
});
