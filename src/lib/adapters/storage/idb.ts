/**
 * IndexedDB storage for the browser, through `idb`. One object store, `chunks`, maps the key's parts joined
 * with '/' to a Uint8Array ('/' is not a key character, so the join is unambiguous). Every operation runs in
 * its own transaction; saveMany() runs in one readwrite transaction, so the batch lands whole or not at all.
 *
 * A prefix ["a"] covers the key "a" itself and the range "a/" .. "a/\uffff" (never "ab"). IndexedDB orders
 * joined strings ('-' < '.' < '/' < digits), which differs from compareKeys, so results are sorted here.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { ErrorCode, LedgerError } from '../../core/errors.ts';
import {
  assertBytes,
  assertKey,
  compareKeys,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey
} from '../../core/storage.ts';

interface ChunkSchema extends DBSchema {
  chunks: { key: string; value: Uint8Array };
}

export interface IdbStorageOptions {
  /**
   * Durability hint for readwrite transactions. 'strict' waits for the data to reach the disk; 'default'
   * (the default) lets the browser choose; 'relaxed' resolves once the OS has the data.
   */
  durability?: IDBTransactionDurability;
}

const STORE = 'chunks';

export class IdbStorage implements StorageAdapter {
  readonly #db: IDBPDatabase<ChunkSchema>;
  readonly #durability: IDBTransactionDurability;

  private constructor(db: IDBPDatabase<ChunkSchema>, durability: IDBTransactionDurability) {
    this.#db = db;
    this.#durability = durability;
  }

  /** Opens (creating if needed) the database; the connection closes itself if another tab upgrades it. */
  static async open(dbName: string, options: IdbStorageOptions = {}): Promise<IdbStorage> {
    if (typeof dbName !== 'string' || dbName === '') throw new TypeError('IdbStorage needs a database name');
    const db: IDBPDatabase<ChunkSchema> = await openDB<ChunkSchema>(dbName, 1, {
      upgrade(upgrading) {
        upgrading.createObjectStore(STORE);
      },
      blocking() {
        db.close();
      }
    });
    return new IdbStorage(db, options.durability ?? 'default');
  }

  close(): void {
    this.#db.close();
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    assertKey(key);
    const value = await this.#db.get(STORE, key.join('/'));
    return value === undefined ? undefined : toBytes(value, key.join('/'));
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    assertKey(key);
    assertBytes(data);
    const tx = this.#db.transaction(STORE, 'readwrite', { durability: this.#durability });
    await Promise.all([tx.store.put(storable(data), key.join('/')), tx.done]);
  }

  async remove(key: StorageKey): Promise<void> {
    assertKey(key);
    const tx = this.#db.transaction(STORE, 'readwrite', { durability: this.#durability });
    await Promise.all([tx.store.delete(key.join('/')), tx.done]);
  }

  async loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    assertKey(prefix, true);
    const tx = this.#db.transaction(STORE, 'readonly');
    const range = rangeOf(prefix);
    const exact = prefix.length > 0 ? tx.store.get(prefix.join('/')) : undefined;
    const [keys, values, own] = await Promise.all([tx.store.getAllKeys(range), tx.store.getAll(range), exact, tx.done]);
    const chunks = keys.map((k, i) => ({ key: k.split('/'), data: toBytes(values[i], k) }));
    if (own !== undefined) chunks.push({ key: [...prefix], data: toBytes(own, prefix.join('/')) });
    return chunks.sort((a, b) => compareKeys(a.key, b.key));
  }

  async listKeys(prefix: StorageKey): Promise<StorageKey[]> {
    assertKey(prefix, true);
    const tx = this.#db.transaction(STORE, 'readonly');
    const exact = prefix.length > 0 ? tx.store.getKey(prefix.join('/')) : undefined;
    const [keys, own] = await Promise.all([tx.store.getAllKeys(rangeOf(prefix)), exact, tx.done]);
    const out = keys.map((k) => k.split('/'));
    if (own !== undefined) out.push([...prefix]);
    return out.sort(compareKeys);
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    assertKey(prefix, true);
    const tx = this.#db.transaction(STORE, 'readwrite', { durability: this.#durability });
    const ops =
      prefix.length === 0 ? [tx.store.clear()] : [tx.store.delete(rangeOf(prefix)!), tx.store.delete(prefix.join('/'))];
    await Promise.all([...ops, tx.done]);
  }

  /** All writes, then all removals, in one readwrite transaction. */
  async saveMany(writes: StorageChunk[], removals: StorageKey[] = []): Promise<void> {
    for (const w of writes) {
      assertKey(w?.key);
      assertBytes(w.data);
    }
    for (const k of removals) assertKey(k);
    const tx = this.#db.transaction(STORE, 'readwrite', { durability: this.#durability });
    const ops: Promise<unknown>[] = [];
    for (const w of writes) ops.push(tx.store.put(storable(w.data), w.key.join('/')));
    for (const k of removals) ops.push(tx.store.delete(k.join('/')));
    await Promise.all([...ops, tx.done]);
  }
}

/** Keys strictly below prefix: "p/" up to "p/\uffff" (key characters are ASCII); everything for []. */
function rangeOf(prefix: StorageKey): IDBKeyRange | undefined {
  if (prefix.length === 0) return undefined;
  const p = prefix.join('/');
  return IDBKeyRange.bound(p + '/', p + '/\uffff');
}

/**
 * Structured clone stores a view's whole underlying buffer: store a tight copy unless data already is one.
 * The clone itself copies, so callers mutating data afterwards change nothing stored.
 */
function storable(data: Uint8Array): Uint8Array {
  const tight =
    data.constructor === Uint8Array &&
    data.buffer instanceof ArrayBuffer &&
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength;
  return tight ? data : new Uint8Array(data);
}

/** Values come back as fresh clones; anything but bytes means another writer touched the store. */
function toBytes(value: unknown, key: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new LedgerError(ErrorCode.STORAGE_CORRUPT, `IndexedDB value for ${key} is not bytes`, { detail: { key } });
}
