/**
 * IdbStorage against fake-indexeddb: a fast unit check of the adapter logic. Real IndexedDB in Chromium is
 * exercised by the e2e tests.
 */
import 'fake-indexeddb/auto';
import { deleteDB, openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { IdbStorage } from '../../../src/lib/adapters/storage/idb.ts';
import { ErrorCode } from '../../../src/lib/core/errors.ts';
import { runStorageAdapterTests } from './storage-suite.ts';

let counter = 0;
const freshName = () => `storage-test-${++counter}`;

runStorageAdapterTests('IdbStorage (fake-indexeddb)', async () => {
  const name = freshName();
  const adapter = await IdbStorage.open(name);
  return {
    adapter,
    teardown: async () => {
      adapter.close();
      await deleteDB(name);
    }
  };
});

describe('IdbStorage', () => {
  it('keeps data across connections, in one "chunks" store keyed by the joined key', async () => {
    const name = freshName();
    const first = await IdbStorage.open(name);
    await first.save(['doc', 'snapshot', 'h1'], new Uint8Array([1, 2, 3]));
    first.close();
    const raw = await openDB(name);
    expect([...raw.objectStoreNames]).toEqual(['chunks']);
    expect(await raw.getAllKeys('chunks')).toEqual(['doc/snapshot/h1']);
    raw.close();
    const second = await IdbStorage.open(name);
    expect(Array.from((await second.load(['doc', 'snapshot', 'h1']))!)).toEqual([1, 2, 3]);
    second.close();
    await deleteDB(name);
  });

  it('reports a value that is not bytes as STORAGE_CORRUPT', async () => {
    const name = freshName();
    const storage = await IdbStorage.open(name, { durability: 'strict' });
    await storage.save(['ok'], new Uint8Array([1]));
    storage.close();
    const raw = await openDB(name);
    await raw.put('chunks', 'not bytes', 'bad');
    raw.close();
    const reopened = await IdbStorage.open(name);
    await expect(reopened.load(['bad'])).rejects.toMatchObject({ code: ErrorCode.STORAGE_CORRUPT });
    await expect(reopened.loadRange([])).rejects.toMatchObject({ code: ErrorCode.STORAGE_CORRUPT });
    expect(await reopened.listKeys([])).toEqual([['bad'], ['ok']]);
    reopened.close();
    await deleteDB(name);
  });

  it('closes its connection when another one wants to delete the database', async () => {
    const name = freshName();
    const storage = await IdbStorage.open(name);
    await storage.save(['k'], new Uint8Array([1]));
    await deleteDB(name, { blocked: () => expect.unreachable('delete was blocked') });
    await expect(storage.load(['k'])).rejects.toThrow();
  });

  it('rejects a missing database name', async () => {
    await expect(IdbStorage.open('')).rejects.toThrow(TypeError);
  });
});
