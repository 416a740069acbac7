/**
 * In-memory storage for tests and ephemeral sessions. Bytes are copied in and out, so a caller that mutates a
 * buffer after save(), or mutates what load() returned, never changes what is stored.
 */
import {
  assertBytes,
  assertKey,
  compareKeys,
  hasPrefix,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey
} from '../../core/storage.ts';

interface Entry {
  key: StorageKey;
  data: Uint8Array;
}

export class MemoryStorage implements StorageAdapter {
  #entries = new Map<string, Entry>();

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    assertKey(key);
    const entry = this.#entries.get(key.join('/'));
    return entry && new Uint8Array(entry.data);
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    assertKey(key);
    assertBytes(data);
    this.#put(key, data);
  }

  async remove(key: StorageKey): Promise<void> {
    assertKey(key);
    this.#entries.delete(key.join('/'));
  }

  async loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    assertKey(prefix, true);
    return this.#matching(prefix).map((e) => ({ key: [...e.key], data: new Uint8Array(e.data) }));
  }

  async listKeys(prefix: StorageKey): Promise<StorageKey[]> {
    assertKey(prefix, true);
    return this.#matching(prefix).map((e) => [...e.key]);
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    assertKey(prefix, true);
    for (const e of this.#matching(prefix)) this.#entries.delete(e.key.join('/'));
  }

  /** Checks everything first, then applies the whole batch in one synchronous step. */
  async saveMany(writes: StorageChunk[], removals: StorageKey[] = []): Promise<void> {
    for (const w of writes) {
      assertKey(w?.key);
      assertBytes(w.data);
    }
    for (const k of removals) assertKey(k);
    for (const w of writes) this.#put(w.key, w.data);
    for (const k of removals) this.#entries.delete(k.join('/'));
  }

  #put(key: StorageKey, data: Uint8Array): void {
    this.#entries.set(key.join('/'), { key: [...key], data: new Uint8Array(data) });
  }

  #matching(prefix: StorageKey): Entry[] {
    const out: Entry[] = [];
    for (const e of this.#entries.values()) if (hasPrefix(e.key, prefix)) out.push(e);
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }
}
