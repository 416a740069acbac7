/**
 * The ledger's Automerge document and its persistence.
 *
 * The document's root map holds one entry per event: key = event id, value = ONE ImmutableString holding the
 * signed envelope's canonical JSON (ARCHITECTURE.md: 100x faster to load than plain objects). Keys at the root,
 * never under a nested map, so documents created on different devices merge without a conflicting container.
 *
 * Storage layout (keys under "doc"):
 *   doc/snapshot/<sha256 of bytes>   a full A.save() of the document
 *   doc/incr/<sha256 of bytes>       one A.saveSince() chunk per committed batch of appends
 * Each chunk is named by the SHA-256 of its bytes, so a changed byte anywhere is detected at load and located
 * by its key. Every save is atomic (StorageAdapter contract), and a chunk is only ever added or removed whole:
 * a crash leaves the set of chunks as before or as after a commit. Compaction writes the new snapshot first,
 * then removes what it covers; a crash in between leaves duplicates, which Automerge loads idempotently.
 */
import * as A from '@automerge/automerge/slim';
import type { StorageAdapter, StorageChunk, StorageKey } from './storage.ts';
import { concatBytes } from './bytes.ts';
import { initHash, sha256HexSync } from './hash.ts';
import { ErrorCode } from './errors.ts';

export type LedgerDoc = Record<string, A.ImmutableString>;

export interface StorageProblem {
  code: typeof ErrorCode.STORAGE_CORRUPT | typeof ErrorCode.DOC_CORRUPT;
  message: string;
  location: string;
}

const SNAPSHOT = ['doc', 'snapshot'];
const INCR = ['doc', 'incr'];
const HASH_RE = /^[0-9a-f]{64}$/;

export interface DocStoreOptions {
  /** Compact when the incremental chunks hold more than this many batches (default 256). */
  compactAfter?: number;
  /** Rewrite a snapshot with many incremental chunks on it as one snapshot after loading it (default true). */
  compactOnLoad?: boolean;
}

export class DocStore {
  #doc: A.Doc<LedgerDoc>;
  #savedHeads: A.Heads;
  #storage: StorageAdapter;
  #chunks: StorageKey[];
  #compactAfter: number;

  private constructor(storage: StorageAdapter, doc: A.Doc<LedgerDoc>, chunks: StorageKey[], opts: DocStoreOptions) {
    this.#storage = storage;
    this.#doc = doc;
    this.#savedHeads = A.getHeads(doc);
    this.#chunks = chunks;
    this.#compactAfter = opts.compactAfter ?? 256;
  }

  get storage(): StorageAdapter {
    return this.#storage;
  }

  get doc(): A.Doc<LedgerDoc> {
    return this.#doc;
  }

  /** Number of stored chunks (snapshots and incrementals). */
  get chunkCount(): number {
    return this.#chunks.length;
  }

  static async isEmpty(storage: StorageAdapter): Promise<boolean> {
    return (await storage.listKeys(['doc'])).length === 0;
  }

  /**
   * Loads every chunk, checking each against the hash in its name. Corrupt chunks are reported and left out;
   * the caller decides whether a ledger with problems may be opened (verify does, append does not).
   */
  static async load(storage: StorageAdapter, opts: DocStoreOptions = {}): Promise<{ store: DocStore; problems: StorageProblem[] }> {
    await initHash();
    const problems: StorageProblem[] = [];
    const chunks = await storage.loadRange(['doc']);
    const good: StorageChunk[] = [];
    for (const c of chunks) {
      const where = c.key.join('/');
      const isSnap = c.key.length === 3 && c.key[1] === 'snapshot';
      const isIncr = c.key.length === 3 && c.key[1] === 'incr';
      if ((!isSnap && !isIncr) || !HASH_RE.test(c.key[2])) {
        problems.push({ code: ErrorCode.STORAGE_CORRUPT, message: 'unexpected file in the ledger store', location: where });
        continue;
      }
      const actual = sha256HexSync(c.data);
      if (actual !== c.key[2]) {
        problems.push({
          code: ErrorCode.STORAGE_CORRUPT,
          message: `chunk content hashes to ${actual.slice(0, 16)}…, not to its name: the stored bytes were changed`,
          location: where
        });
        continue;
      }
      good.push(c);
    }
    // Snapshots first, then incrementals: Automerge accepts the concatenation of chunks.
    good.sort((a, b) => (a.key[1] === b.key[1] ? 0 : a.key[1] === 'snapshot' ? -1 : 1));
    let doc: A.Doc<LedgerDoc>;
    const snapshots = good.filter((c) => c.key[1] === 'snapshot');
    const mixed = snapshots.length > 0 && snapshots.length < good.length;
    try {
      if (mixed) {
        // Automerge needs far more time and memory to apply change chunks on top of a loaded document snapshot
        // than to load the same changes in change form (measured at 10k events: 10 chunks on the snapshot took
        // 1.5 s and 800 MB, 80 ran the wasm out of memory; in change form 100 chunks load in about 1 s and
        // 270 MB). So the snapshot is turned into its changes first, and the store is compacted after loading.
        const base = A.load<LedgerDoc>(concatBytes(...snapshots.map((c) => c.data)));
        const rest = good.filter((c) => c.key[1] !== 'snapshot').map((c) => c.data);
        doc = A.load<LedgerDoc>(concatBytes(A.saveSince(base, []), ...rest));
      } else {
        doc = good.length ? A.load<LedgerDoc>(concatBytes(...good.map((c) => c.data))) : A.init<LedgerDoc>();
      }
    } catch {
      // Locate the chunk Automerge cannot read, keep the rest.
      doc = A.init<LedgerDoc>();
      for (const c of good) {
        try {
          doc = A.loadIncremental(doc, c.data);
        } catch (e) {
          problems.push({ code: ErrorCode.DOC_CORRUPT, message: `Automerge cannot read this chunk: ${(e as Error).message}`, location: c.key.join('/') });
        }
      }
    }
    if (A.getMissingDeps(doc, A.getHeads(doc)).length > 0) {
      problems.push({ code: ErrorCode.DOC_CORRUPT, message: 'changes are missing: a chunk was removed', location: 'doc' });
    }
    const store = new DocStore(storage, doc, good.map((c) => c.key), opts);
    for (const c of good) {
      if (c.key[1] === 'snapshot') store.#snapshotBytes += c.data.length;
      else store.#incrBytes += c.data.length;
    }
    // Many chunks on a snapshot make every load pay the conversion above: fold them into the snapshot now.
    const incrementals = good.length - snapshots.length;
    if (mixed && incrementals > 16 && problems.length === 0 && opts.compactOnLoad !== false) await store.compact();
    return { store, problems };
  }

  /**
   * Applies one batch of new entries and persists it as one chunk. On a storage failure the in-memory document
   * is reloaded from storage, so memory and disk never disagree, and the error is rethrown.
   */
  commit(entries: Array<[id: string, json: string]>): Promise<void> {
    return this.#serial(() => this.#commit(entries));
  }

  /** Mutations run one at a time: a document and its chunk list change together or not at all. */
  #lock: Promise<unknown> = Promise.resolve();
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #commit(entries: Array<[id: string, json: string]>): Promise<void> {
    if (entries.length === 0) return;
    const before = this.#savedHeads;
    this.#doc = A.change(this.#doc, (d) => {
      for (const [id, json] of entries) d[id] = new A.ImmutableString(json);
    });
    const bytes = A.saveSince(this.#doc, before);
    const key = [...INCR, sha256HexSync(bytes)];
    try {
      await this.#storage.save(key, bytes);
    } catch (e) {
      await this.#reload();
      throw e;
    }
    await this.#afterSave(key, bytes.length);
  }

  /**
   * Records a saved incremental chunk and compacts when the incrementals outgrow the snapshot (so the total
   * compaction work stays proportional to what was written) or when there are too many of them.
   */
  async #afterSave(key: StorageKey, size: number): Promise<void> {
    this.#savedHeads = A.getHeads(this.#doc);
    this.#chunks.push(key);
    this.#incrBytes += size;
    if (this.#chunks.length > this.#compactAfter && this.#incrBytes > this.#snapshotBytes) await this.#compact();
    else if (this.#chunks.length > 8 * this.#compactAfter) await this.#compact();
  }

  #incrBytes = 0;
  #snapshotBytes = 0;

  /** Merges changes from elsewhere (another document's bytes) and persists what is new. */
  merge(other: A.Doc<LedgerDoc>): Promise<void> {
    return this.#serial(() => this.#merge(other));
  }

  async #merge(other: A.Doc<LedgerDoc>): Promise<void> {
    const before = this.#savedHeads;
    this.#doc = A.merge(this.#doc, other);
    const bytes = A.saveSince(this.#doc, before);
    if (bytes.length === 0) return;
    const key = [...INCR, sha256HexSync(bytes)];
    await this.#storage.save(key, bytes);
    await this.#afterSave(key, bytes.length);
  }

  /**
   * Applies Automerge changes that were verified elsewhere (Ledger.applyVerifiedChanges: a peer's changes whose
   * every event counts) and persists what is new as one chunk; on a storage failure memory is reloaded.
   * Keeping the peer's original changes keeps both devices' Automerge histories identical.
   */
  applyChanges(changes: Uint8Array[]): Promise<void> {
    return this.#serial(() => this.#applyChanges(changes));
  }

  async #applyChanges(changes: Uint8Array[]): Promise<void> {
    if (changes.length === 0) return;
    const before = this.#savedHeads;
    [this.#doc] = A.applyChanges(this.#doc, changes);
    const bytes = A.saveSince(this.#doc, before);
    if (bytes.length === 0) return;
    const key = [...INCR, sha256HexSync(bytes)];
    try {
      await this.#storage.save(key, bytes);
    } catch (e) {
      await this.#reload();
      throw e;
    }
    await this.#afterSave(key, bytes.length);
  }

  /** Rewrites the stored document as one snapshot and removes the chunks it covers. */
  compact(): Promise<void> {
    return this.#serial(() => this.#compact());
  }

  async #compact(): Promise<void> {
    const bytes = A.save(this.#doc);
    const key = [...SNAPSHOT, sha256HexSync(bytes)];
    const old = this.#chunks.filter((k) => k.join('/') !== key.join('/'));
    if (this.#storage.saveMany) {
      await this.#storage.saveMany([{ key, data: bytes }], old);
    } else {
      await this.#storage.save(key, bytes);
      for (const k of old) await this.#storage.remove(k);
    }
    this.#chunks = [key];
    this.#snapshotBytes = bytes.length;
    this.#incrBytes = 0;
  }

  async #reload(): Promise<void> {
    const { store } = await DocStore.load(this.#storage, { compactAfter: this.#compactAfter });
    this.#doc = store.#doc;
    this.#savedHeads = store.#savedHeads;
    this.#chunks = store.#chunks;
    this.#snapshotBytes = store.#snapshotBytes;
    this.#incrBytes = store.#incrBytes;
  }
}
