/**
 * Byte-level storage interface. Every platform (IndexedDB in the browser, a directory on disk for the CLI,
 * memory for tests) implements it; one shared test suite (tests/unit/adapters/storage-suite.ts) runs against
 * each adapter.
 *
 * Keys are arrays of non-empty strings made of [A-Za-z0-9._-]; values are bytes.
 * Guarantees every adapter gives:
 *  - save(key, data) is atomic: after a crash a reader sees the old value (or nothing) or the new one,
 *    never a partial value;
 *  - saveMany(entries, removals) applies every write and removal or none of them is visible as a partial
 *    *value* (each write atomic); adapters that can (IndexedDB) make the whole batch one transaction;
 *  - loadRange(prefix) returns every stored key that starts with prefix, sorted by key.
 */
export type StorageKey = string[];

export interface StorageChunk {
  key: StorageKey;
  data: Uint8Array;
}

export interface StorageAdapter {
  load(key: StorageKey): Promise<Uint8Array | undefined>;
  save(key: StorageKey, data: Uint8Array): Promise<void>;
  remove(key: StorageKey): Promise<void>;
  loadRange(prefix: StorageKey): Promise<StorageChunk[]>;
  /** Keys only, sorted; cheaper than loadRange when values are not needed. */
  listKeys(prefix: StorageKey): Promise<StorageKey[]>;
  removeRange(prefix: StorageKey): Promise<void>;
  /**
   * Applies every write, then every removal (a key both written and removed ends up removed). Each write is
   * atomic; adapters that can (IndexedDB, memory) make the whole batch one atomic step. Others (a directory) make
   * the writes in no set order: a caller whose crash order needs one write before another (the device log's leaves
   * before its state) makes them in separate calls.
   */
  saveMany?(writes: StorageChunk[], removals?: StorageKey[]): Promise<void>;
}

const KEY_PART = /^[A-Za-z0-9._-]+$/;

/** Checks a key at the door; adapters call it so a hostile key never becomes a path or an odd IDB key. */
export function assertKey(key: StorageKey, allowEmpty = false): void {
  if (!Array.isArray(key) || (!allowEmpty && key.length === 0)) {
    throw new TypeError('storage key must be a non-empty array of strings');
  }
  for (const part of key) {
    if (typeof part !== 'string' || !KEY_PART.test(part) || part === '.' || part === '..') {
      throw new TypeError(`invalid storage key part: ${JSON.stringify(part)}`);
    }
  }
}

export function compareKeys(a: StorageKey, b: StorageKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

export function hasPrefix(key: StorageKey, prefix: StorageKey): boolean {
  if (prefix.length > key.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** Checks a value at the door: adapters store Uint8Array bytes only. */
export function assertBytes(data: Uint8Array): void {
  if (!(data instanceof Uint8Array)) throw new TypeError('storage value must be a Uint8Array');
}
