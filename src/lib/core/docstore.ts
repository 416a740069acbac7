/**
 * The ledger's Automerge document and its persistence (ledger-schema/README.md, "Storage layout").
 *
 * The root map holds one list, `records`; each element is one ImmutableString of `<key> <value>` lines: an event
 * (key = its id, value = its envelope's canonical JSON), usually with its journal signature (key `<id>.git`). A
 * list, not a key per event: why in tests/bench/README.md, "What the anchors showed". The list comes from the
 * *layout change* (actor = ledger id, time 0), byte-identical on every device, so copies merge into one list;
 * duplicate records keep the first. Documents of the first layout (root keys) are still read.
 *
 * Storage under "doc": doc/snapshot/<sha256> (A.save()) and doc/incr/<sha256> (one A.saveSince() per batch),
 * named by the SHA-256 of their bytes, added or removed whole, each save atomic. Compaction writes the new
 * snapshot before removing what it covers; duplicates left by a crash load idempotently.
 */
import * as A from '@automerge/automerge/slim';
import type { StorageAdapter, StorageChunk, StorageKey } from './storage.ts';
import { concatAll } from './bytes.ts';
import { initHash, sha256HexSync } from './hash.ts';
import { ErrorCode, LedgerError } from './errors.ts';

export const RECORDS = 'records';
export type LedgerDoc = { [RECORDS]?: A.ImmutableString[] } & Record<string, unknown>;

export interface StorageProblem {
  code: typeof ErrorCode.STORAGE_CORRUPT | typeof ErrorCode.DOC_CORRUPT;
  message: string;
  location: string;
}

const SNAPSHOT = ['doc', 'snapshot'];
const INCR = ['doc', 'incr'];
const HASH_RE = /^[0-9a-f]{64}$/;

/** The Automerge object id of a ledger's `records` list: made by the first operation of its layout change. */
export const recordsObjectId = (ledgerId: string): string => `1@${ledgerId}`;

/** Records per Automerge list push (its items are arguments: a spread of 100k overflows the stack). */
const PUSH_SLICE = 10_000;

const layouts = new Map<string, { change: Uint8Array; hash: string }>();
/** The ledger's layout change (see above): its bytes and hash, the same on every device. */
export function layoutChange(ledgerId: string): { change: Uint8Array; hash: string } {
  let l = layouts.get(ledgerId);
  if (!l) {
    if (!HASH_RE.test(ledgerId)) throw new TypeError('a ledger id is 64 hex digits');
    const doc = A.change(A.init<LedgerDoc>({ actor: ledgerId }), { time: 0 }, (d) => {
      d[RECORDS] = [];
    });
    l = { change: A.getLastLocalChange(doc)!, hash: A.getHeads(doc)[0] };
    layouts.set(ledgerId, l);
  }
  return l;
}

/** One record: entries `<key> <value>` joined by newlines (keys hold no space; values no newline). */
export function encodeRecord(entries: Array<[string, string]>): string {
  for (const [k, v] of entries) {
    if (k.length === 0 || /[\s]/.test(k) || v.includes('\n'))
      throw new TypeError(`an entry that a record cannot hold: ${k.slice(0, 80)}`);
  }
  return entries.map(([k, v]) => `${k} ${v}`).join('\n');
}

/** The entries of a record, or why it is not one. */
export function decodeRecord(record: string): { entries: Array<[string, string]>; problem?: string } {
  const entries: Array<[string, string]> = [];
  for (const line of record.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0)
      return { entries: [], problem: `a record line without "<key> <value>": ${JSON.stringify(line.slice(0, 80))}` };
    entries.push([line.slice(0, sp), line.slice(sp + 1)]);
  }
  return { entries };
}

/** Every entry a document holds, in document order, duplicates included; and what could not be read. */
export interface DocScan {
  entries: Array<[string, string]>;
  malformed: Array<{ location: string; message: string }>;
}

export function scanDoc(doc: A.Doc<LedgerDoc>): DocScan {
  const entries: Array<[string, string]> = [];
  const malformed: DocScan['malformed'] = [];
  for (const key of Object.keys(doc)) {
    if (key === RECORDS) continue;
    // The first layout: one root key per entry.
    const v = doc[key];
    if (A.isImmutableString(v)) entries.push([key, v.val]);
    else malformed.push({ location: `root key ${key.slice(0, 80)}`, message: 'not stored as one immutable string' });
  }
  const records = doc[RECORDS];
  if (records !== undefined && !Array.isArray(records)) {
    malformed.push({ location: RECORDS, message: 'the records of the document are not a list' });
  } else if (records) {
    for (let i = 0; i < records.length; i++) {
      const v = records[i] as unknown;
      if (!A.isImmutableString(v)) {
        malformed.push({ location: `record ${i}`, message: 'not stored as one immutable string' });
        continue;
      }
      const r = decodeRecord(v.val);
      if (r.problem) malformed.push({ location: `record ${i}`, message: r.problem });
      else for (const e of r.entries) entries.push(e);
    }
  }
  return { entries, malformed };
}

/** Groups entries into records: an event's journal signature (`<id>.git`) joins the record of its event. */
function toRecords(entries: Array<[string, string]>): string[] {
  const groups = new Map<string, Array<[string, string]>>();
  for (const e of entries) {
    const dot = e[0].indexOf('.');
    const owner = dot > 0 ? e[0].slice(0, dot) : e[0];
    const g = groups.get(owner);
    if (g) g.push(e);
    else groups.set(owner, [e]);
  }
  return [...groups.values()].map(encodeRecord);
}

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
  /** Entries by key (the first record holding a key wins), kept up to date with the document. */
  #map?: Map<string, string>;
  /** The loaded document's entries, indexed into #map when it is first needed (verify reads only the scan). */
  #pending?: Array<[string, string]>;
  #ledgerId?: string;

  get #entries(): Map<string, string> {
    if (!this.#map) {
      this.#map = new Map();
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending) this.#index(pending);
    }
    return this.#map;
  }

  set #entries(map: Map<string, string>) {
    this.#map = map;
    this.#pending = undefined;
  }

  private constructor(storage: StorageAdapter, doc: A.Doc<LedgerDoc>, chunks: StorageKey[], opts: DocStoreOptions) {
    this.#storage = storage;
    this.#doc = doc;
    this.#savedHeads = A.getHeads(doc);
    this.#chunks = chunks;
    this.#compactAfter = opts.compactAfter ?? 256;
    this.#scanned = { doc, scan: scanDoc(doc) };
    this.#pending = this.#scanned.scan.entries;
  }

  /** The scan of the document as loaded, kept for scan() (verify reads it right after loading). */
  #scanned?: { doc: A.Doc<LedgerDoc>; scan: DocScan };

  #index(entries: Iterable<[string, string]>): void {
    for (const [k, v] of entries) if (!this.#entries.has(k)) this.#entries.set(k, v);
  }

  /** The value stored under a key (an event id or `<id>.git`). */
  get(key: string): string | undefined {
    return this.#entries.get(key);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Every stored entry, one per key. */
  entries(): IterableIterator<[string, string]> {
    return this.#entries.entries();
  }

  /** Every entry as stored, duplicates included, and the records that could not be read (for verify). */
  scan(): DocScan {
    if (this.#scanned?.doc !== this.#doc) this.#scanned = { doc: this.#doc, scan: scanDoc(this.#doc) };
    return this.#scanned.scan;
  }

  /** The ledger this document holds: needed before the first write to a document without its records list. */
  bindLedger(ledgerId: string): void {
    this.#ledgerId = ledgerId;
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
  static async load(
    storage: StorageAdapter,
    opts: DocStoreOptions = {}
  ): Promise<{ store: DocStore; problems: StorageProblem[] }> {
    await initHash();
    const problems: StorageProblem[] = [];
    const chunks = await storage.loadRange(['doc']);
    const good: StorageChunk[] = [];
    for (const c of chunks) {
      const where = c.key.join('/');
      const isSnap = c.key.length === 3 && c.key[1] === 'snapshot';
      const isIncr = c.key.length === 3 && c.key[1] === 'incr';
      if ((!isSnap && !isIncr) || !HASH_RE.test(c.key[2])) {
        problems.push({
          code: ErrorCode.STORAGE_CORRUPT,
          message: 'unexpected file in the ledger store',
          location: where
        });
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
        const base = A.load<LedgerDoc>(concatAll(snapshots.map((c) => c.data)));
        const rest = good.filter((c) => c.key[1] !== 'snapshot').map((c) => c.data);
        doc = A.load<LedgerDoc>(concatAll([A.saveSince(base, []), ...rest]));
      } else {
        doc = good.length ? A.load<LedgerDoc>(concatAll(good.map((c) => c.data))) : A.init<LedgerDoc>();
      }
    } catch {
      // Locate the chunk Automerge cannot read, keep the rest.
      doc = A.init<LedgerDoc>();
      for (const c of good) {
        try {
          doc = A.loadIncremental(doc, c.data);
        } catch (e) {
          problems.push({
            code: ErrorCode.DOC_CORRUPT,
            message: `Automerge cannot read this chunk: ${(e as Error).message}`,
            location: c.key.join('/')
          });
        }
      }
    }
    if (A.getMissingDeps(doc, A.getHeads(doc)).length > 0) {
      problems.push({
        code: ErrorCode.DOC_CORRUPT,
        message: 'changes are missing: a chunk was removed',
        location: 'doc'
      });
    }
    const store = new DocStore(
      storage,
      doc,
      good.map((c) => c.key),
      opts
    );
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
  commit(entries: Array<[key: string, value: string]>, ledgerId?: string): Promise<void> {
    if (ledgerId) this.bindLedger(ledgerId);
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
    const records = toRecords(entries);
    let doc = this.#doc;
    if (!Array.isArray(doc[RECORDS])) {
      // An empty document's first entry is the genesis event, whose id is the ledger id.
      if (!this.#ledgerId && this.#entries.size === 0 && HASH_RE.test(entries[0][0])) this.#ledgerId = entries[0][0];
      if (!this.#ledgerId)
        throw new LedgerError(
          ErrorCode.NOT_INITIALIZED,
          'the document has no records list and no ledger is named to create it'
        );
      [doc] = A.applyChanges(doc, [layoutChange(this.#ledgerId).change]);
    }
    // Few pushes for the whole group: each push asks Automerge for the list's length, which walks the list; a push
    // takes its items as arguments, so a clone's 100k records go in slices (one spread of them overflows the stack).
    this.#doc = A.change(doc, (d) => {
      for (let i = 0; i < records.length; i += PUSH_SLICE)
        d[RECORDS]!.push(...records.slice(i, i + PUSH_SLICE).map((r) => new A.ImmutableString(r)));
    });
    const bytes = A.saveSince(this.#doc, before);
    const key = [...INCR, sha256HexSync(bytes)];
    try {
      await this.#storage.save(key, bytes);
    } catch (e) {
      await this.#reload();
      throw e;
    }
    this.#index(entries);
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
    this.#entries = new Map();
    this.#index(scanDoc(this.#doc).entries);
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
  applyChanges(changes: Uint8Array[], entries: Array<[string, string]>): Promise<void> {
    return this.#serial(() => this.#applyChanges(changes, entries));
  }

  /** `entries`: what the changes insert (sync/changes.ts decodes them), indexed once they are stored. */
  async #applyChanges(changes: Uint8Array[], entries: Array<[string, string]>): Promise<void> {
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
    this.#index(entries);
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
    this.#entries = store.#entries;
    this.#savedHeads = store.#savedHeads;
    this.#chunks = store.#chunks;
    this.#snapshotBytes = store.#snapshotBytes;
    this.#incrBytes = store.#incrBytes;
  }
}
