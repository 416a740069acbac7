/**
 * The device log: every valid event this device holds, in the order it learned it, as the leaves of an RFC 9162
 * Merkle tree (leaf data = the envelope's canonical bytes). ledger-schema/README.md section 13.
 *
 * Storage (through the StorageAdapter, beside the ledger's document):
 *   log/state               the tree state: 0x01, uint64 BE size, the frontier hashes (MerkleTree.serialize)
 *   log/leaves/<nnnnnnnn>   chunk n (8 decimal digits) of CHUNK entries, each 64 bytes: event id (32 raw bytes)
 *                           || leaf hash; append-only, only the last chunk is ever rewritten (with more entries)
 *   log/checkpoints/<size>  signed checkpoint notes (size in 16 decimal digits), cosignatures merged in
 *
 * Crash order: the leaf chunks are written (and their writes finished) before the state, which is the commit
 * point: after a kill the chunks hold at least `size` entries; entries past `size` are ignored (and written over
 * by the next append), and the reconciliation on the next attach appends again whatever the ledger holds that the
 * log lacks. Opening for writing (attach) also recovers what an older writer, which wrote both at once, could
 * leave: a state ahead of its leaves is rolled back to the entries the leaves hold (and persisted), and with no
 * state at all the head is recomputed from the complete entries stored; the events then lacking are appended
 * again from the document, which is the truth. The tree head is kept incrementally (the frontier), never
 * recomputed from events; proofs rebuild the interior nodes from the stored leaf hashes on first use, checking
 * that they give the persisted head.
 */
import { canonicalJson } from '../canonical.ts';
import { bytesEqual, fromHex, fromUtf8, toHex, utf8 } from '../bytes.ts';
import type { EventId, LedgerEvent } from '../event.ts';
import type { Ledger } from '../ledger.ts';
import type { Signer } from '../keys.ts';
import { topoOrder } from '../roster.ts';
import type { StorageAdapter, StorageChunk } from '../storage.ts';
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from '../merkle/checkpoint.ts';
import { createTreeHasher, HASH_SIZE, type TreeHasher } from '../merkle/hash.ts';
import { MemoryHashStore, MerkleTree } from '../merkle/tree.ts';
import { createEd25519Verifier, parseNote, signNote, formatNote, type NoteSignature } from '../merkle/note.ts';
import { ProofCode, ProofError } from './errors.ts';
import { logNoteSigner, logOrigin, logVerifierKey, witnessVerifierKey } from './keys.ts';
import { createCosignatureVerifier } from '../merkle/cosignature.ts';
import { assertLogMatches } from './log-check.ts';

export const CHUNK = 1024;
const ENTRY = 2 * HASH_SIZE;
const STATE_KEY = ['log', 'state'];
const LEAVES = ['log', 'leaves'];
const CHECKPOINTS = ['log', 'checkpoints'];

const chunkName = (n: number) => String(n).padStart(8, '0');
const checkpointName = (size: number) => String(size).padStart(16, '0');

/** The leaf data of an event: the canonical bytes of its signed envelope. */
export function leafData(ev: Pick<LedgerEvent, 'event' | 'sig'>): Uint8Array {
  return utf8(canonicalJson({ event: ev.event, sig: ev.sig }));
}

export interface LogProblem {
  code: ProofCode;
  message: string;
  location: string;
}

export class DeviceLog {
  readonly storage: StorageAdapter;
  readonly hasher: TreeHasher;
  #tree: MerkleTree;
  /** True once #tree keeps every interior node (built on the first proof). */
  #full = false;
  /** Leaf entries, 64 bytes each, for indices [0, size). */
  #entries: Uint8Array;
  #index = new Map<string, number>();
  #chain: Promise<unknown> = Promise.resolve();
  #detach?: () => void;
  #lastError?: unknown;

  private constructor(storage: StorageAdapter, hasher: TreeHasher, tree: MerkleTree, entries: Uint8Array) {
    this.storage = storage;
    this.hasher = hasher;
    this.#tree = tree;
    this.#entries = entries;
    for (let i = 0; i < tree.size; i++) this.#index.set(toHex(entries.subarray(i * ENTRY, i * ENTRY + HASH_SIZE)), i);
  }

  /**
   * Loads the log kept in storage (an empty log when there is none). Throws LOG_CORRUPT when it is damaged.
   * With `recover` (attach: a writer opening it), the states a cut-short write leaves are recovered instead (see
   * the file comment): a state ahead of its leaves is rolled back to them, a missing state is recomputed from the leaves;
   * the recovered state is persisted by the next reconcile.
   */
  static async load(storage: StorageAdapter, opts: { recover?: boolean } = {}): Promise<DeviceLog> {
    const hasher = await createTreeHasher();
    const state = await storage.load(STATE_KEY);
    const chunks = await storage.loadRange(LEAVES);
    let tree: MerkleTree;
    try {
      tree = state ? MerkleTree.fromState(hasher, state, null) : new MerkleTree(hasher, null);
    } catch (e) {
      throw new ProofError(ProofCode.LOG_CORRUPT, `log/state is damaged: ${(e as Error).message}`, { cause: e });
    }
    let stored = 0;
    chunks.forEach((c, n) => {
      const where = c.key.join('/');
      if (c.key.length !== 3 || c.key[2] !== chunkName(n))
        throw new ProofError(ProofCode.LOG_CORRUPT, `${where}: unexpected chunk (want ${chunkName(n)})`);
      if (c.data.length % ENTRY !== 0 || c.data.length > CHUNK * ENTRY)
        throw new ProofError(
          ProofCode.LOG_CORRUPT,
          `${where}: length ${c.data.length} is not a whole number of entries`
        );
      if (stored % CHUNK !== 0)
        throw new ProofError(ProofCode.LOG_CORRUPT, `${where}: follows a chunk that is not full`);
      stored += c.data.length / ENTRY;
    });
    let size = tree.size;
    let recovered: string | undefined;
    if (opts.recover && !state && stored > 0) {
      size = stored;
      recovered = `log/state was missing: recomputed from the ${stored} entries of log/leaves`;
    } else if (opts.recover && stored < size) {
      recovered = `log/state said ${size} entries, log/leaves holds ${stored}: rolled back to the leaves`;
      size = stored;
    }
    const entries = new Uint8Array(Math.max(size, 1) * ENTRY);
    let have = 0;
    for (const c of chunks) {
      const take = Math.max(0, Math.min(c.data.length / ENTRY, size - have));
      if (take > 0) entries.set(c.data.subarray(0, take * ENTRY), have * ENTRY);
      have += take;
    }
    if (have < size)
      throw new ProofError(ProofCode.LOG_CORRUPT, `log/leaves holds ${have} entries, the state says ${size}`);
    if (recovered) {
      tree = new MerkleTree(hasher, null);
      for (let i = 0; i < size; i++) tree.append(entries.subarray(i * ENTRY + HASH_SIZE, (i + 1) * ENTRY));
    }
    const log = new DeviceLog(storage, hasher, tree, entries);
    log.#recovered = recovered;
    return log;
  }

  /** What load() recovered from a cut-short write (until the recovered state is persisted). */
  #recovered?: string;
  get recovered(): string | undefined {
    return this.#recovered;
  }

  /**
   * Loads the log and keeps it in step with the ledger: first every event the ledger holds and the log lacks is
   * appended (in the ledger's deterministic topological order: parents first, then time, then id), then every
   * batch the ledger accepts (Ledger.observe). With a signer, a checkpoint is signed after each batch.
   */
  static async attach(ledger: Ledger, storage: StorageAdapter, opts: { signer?: Signer } = {}): Promise<DeviceLog> {
    const log = await DeviceLog.load(storage, { recover: true });
    // Nothing is appended, signed or proved over a log that does not match the ledger (log-check.ts).
    assertLogMatches(log, ledger);
    await log.reconcile(ledger);
    log.#detach = ledger.observe((events) =>
      log.#enqueue(async () => {
        // The stored envelopes are the leaf data as is (checked canonical when stored): not serialized again.
        await log.#append(events, (id) => ledger.envelopeJson(id));
        if (opts.signer) await log.#checkpoint(ledger.id, opts.signer);
      })
    );
    if (opts.signer) await log.checkpoint(ledger.id, opts.signer);
    return log;
  }

  detach(): void {
    this.#detach?.();
  }

  /** The last failure of an observed append (repaired by the next reconcile). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Waits for pending observed appends. */
  async settled(): Promise<void> {
    await this.#chain;
  }

  /** Appends the ledger's events the log lacks, in a deterministic order. Returns how many were appended. */
  reconcile(ledger: Ledger): Promise<number> {
    return this.#enqueue(async () => {
      const lacking = ledger.events().filter((e) => !this.#index.has(e.id));
      if (lacking.length === 0) {
        if (this.#recovered) await this.storage.save(STATE_KEY, this.#tree.serialize());
        this.#recovered = undefined;
        return 0;
      }
      const all = new Map(lacking.map((e) => [e.id, e] as [EventId, LedgerEvent]));
      await this.#append(topoOrder(all).map((id) => all.get(id)!));
      return lacking.length;
    });
  }

  /** Appends events (skipping those already logged) and persists them. */
  append(events: readonly LedgerEvent[]): Promise<number> {
    return this.#enqueue(() => this.#append(events));
  }

  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch((e) => {
      this.#lastError = e;
    });
    return run;
  }

  async #append(events: readonly LedgerEvent[], stored?: (id: string) => string | undefined): Promise<number> {
    const start = this.#tree.size;
    const fresh: Array<{ id: string; leaf: Uint8Array }> = [];
    const seen = new Set<string>();
    for (const ev of events) {
      if (this.#index.has(ev.id) || seen.has(ev.id)) continue;
      seen.add(ev.id);
      const json = stored?.(ev.id);
      fresh.push({ id: ev.id, leaf: this.hasher.hashLeaf(json === undefined ? leafData(ev) : utf8(json)) });
    }
    if (fresh.length === 0) return 0;
    // Build the new state on a copy first: nothing in memory changes unless storage took it.
    const tree = MerkleTree.fromState(this.hasher, this.#tree.serialize(), null);
    const entries = new Uint8Array((start + fresh.length) * ENTRY);
    entries.set(this.#entries.subarray(0, start * ENTRY));
    fresh.forEach((f, j) => {
      entries.set(fromHex(f.id), (start + j) * ENTRY);
      entries.set(f.leaf, (start + j) * ENTRY + HASH_SIZE);
      tree.append(f.leaf);
    });
    const size = start + fresh.length;
    const writes: StorageChunk[] = [];
    for (let n = Math.floor(start / CHUNK); n * CHUNK < size; n++) {
      const end = Math.min(size, (n + 1) * CHUNK);
      writes.push({ key: [...LEAVES, chunkName(n)], data: entries.slice(n * CHUNK * ENTRY, end * ENTRY) });
    }
    // Leaves first, then the state (the commit point): every prefix of these writes is a log load() reads.
    if (this.storage.saveMany) await this.storage.saveMany(writes);
    else for (const w of writes) await this.storage.save(w.key, w.data);
    await this.storage.save(STATE_KEY, tree.serialize());
    this.#recovered = undefined;
    this.#entries = entries;
    fresh.forEach((f, j) => this.#index.set(f.id, start + j));
    if (this.#full) for (const f of fresh) this.#tree.append(f.leaf);
    else this.#tree = tree;
    return fresh.length;
  }

  get size(): number {
    return this.#tree.size;
  }

  root(): Uint8Array {
    return this.#tree.root();
  }

  /** The leaf index of an event, or undefined when the log does not hold it. */
  indexOf(eventId: string): number | undefined {
    return this.#index.get(eventId);
  }

  eventIdAt(index: number): string {
    this.#checkIndex(index);
    return toHex(this.#entries.subarray(index * ENTRY, index * ENTRY + HASH_SIZE));
  }

  leafHash(index: number): Uint8Array {
    this.#checkIndex(index);
    return this.#entries.slice(index * ENTRY + HASH_SIZE, (index + 1) * ENTRY);
  }

  #checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size)
      throw new ProofError(ProofCode.NOT_IN_LOG, `no leaf ${index} in a log of ${this.size}`);
  }

  /** The tree with every interior node, rebuilt from the stored leaf hashes once and checked against the state. */
  #prover(): MerkleTree {
    if (!this.#full) {
      const full = new MerkleTree(this.hasher, new MemoryHashStore());
      for (let i = 0; i < this.size; i++) full.append(this.#entries.subarray(i * ENTRY + HASH_SIZE, (i + 1) * ENTRY));
      if (!bytesEqual(full.root(), this.#tree.root())) {
        throw new ProofError(
          ProofCode.LOG_CORRUPT,
          'the stored leaf hashes do not give the stored tree head (log/leaves or log/state was altered)'
        );
      }
      this.#tree = full;
      this.#full = true;
    }
    return this.#tree;
  }

  rootAt(size: number): Uint8Array {
    return size === this.size ? this.root() : this.#prover().rootAt(size);
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    return this.#prover().inclusionProof(index, size);
  }

  consistencyProof(size1: number, size2 = this.size): Uint8Array[] {
    return this.#prover().consistencyProof(size1, size2);
  }

  // ------------------------------------------------------------------------------------------------ checkpoints

  /** Signs a checkpoint of the current tree (unless the newest stored one already has this size); returns the note. */
  checkpoint(ledgerId: string, signer: Signer): Promise<string> {
    return this.#enqueue(() => this.#checkpoint(ledgerId, signer));
  }

  async #checkpoint(ledgerId: string, signer: Signer): Promise<string> {
    const size = this.size;
    if (size === 0) throw new ProofError(ProofCode.NO_CHECKPOINT, 'the log is empty');
    const existing = await this.storage.load([...CHECKPOINTS, checkpointName(size)]);
    const origin = await logOrigin(ledgerId, signer.publicKey);
    if (existing) {
      // A stored checkpoint is never written over: the same one is returned once its signature verifies.
      const where = `log/checkpoints/${checkpointName(size)}`;
      let note: string;
      let text: string;
      try {
        note = fromUtf8(existing);
        text = (
          await openCheckpoint(note, await createEd25519Verifier(await logVerifierKey(ledgerId, signer.publicKey)))
        ).note.text;
      } catch (e) {
        throw new ProofError(
          ProofCode.CHECKPOINT_INVALID,
          `${where} is damaged (${(e as Error).message}): left as it is; \`provenance-ledger verify --repair\` keeps it aside and signs it again`
        );
      }
      if (text === formatCheckpoint({ origin, size, rootHash: this.root(), extensions: [] })) return note;
      throw new ProofError(
        ProofCode.CHECKPOINT_INVALID,
        `${where} was signed over another root than this log's at size ${size}: left as it is; \`provenance-ledger verify\` says which is wrong, \`verify --repair\` keeps it aside and signs again`
      );
    }
    const note = await signNote(formatCheckpoint({ origin, size, rootHash: this.root(), extensions: [] }), [
      await logNoteSigner(ledgerId, signer)
    ]);
    await this.storage.save([...CHECKPOINTS, checkpointName(size)], utf8(note));
    return note;
  }

  /** Sizes of the stored checkpoints, ascending. */
  async checkpointSizes(): Promise<number[]> {
    const keys = await this.storage.listKeys(CHECKPOINTS);
    return keys
      .map((k) => Number(k[2]))
      .filter((n) => Number.isSafeInteger(n) && n > 0)
      .sort((a, b) => a - b);
  }

  /** The stored note of the checkpoint at a size (with any cosignatures), or undefined. */
  async checkpointNote(size: number): Promise<string | undefined> {
    const b = await this.storage.load([...CHECKPOINTS, checkpointName(size)]);
    return b ? fromUtf8(b) : undefined;
  }

  /**
   * Merges cosignatures into the stored checkpoint with the same text (one per key name and id: a key that
   * already signed it keeps its first signature). The signatures are kept as they come;
   * whoever reads them verifies them against the keys they trust (bundle.ts, against the roster).
   */
  async addCosignatures(note: string): Promise<void> {
    await this.#enqueue(async () => {
      const incoming = parseNote(note);
      const { size } = parseCheckpoint(incoming.text);
      const stored = await this.checkpointNote(size);
      if (!stored) throw new ProofError(ProofCode.NO_CHECKPOINT, `this log signed no checkpoint of size ${size}`);
      const mine = parseNote(stored);
      if (mine.text !== incoming.text)
        throw new ProofError(
          ProofCode.CHECKPOINT_INVALID,
          `the cosigned checkpoint of size ${size} is not the one this log signed`
        );
      // One signature per key: a witness that cosigned this checkpoint before keeps its first (earliest) one.
      const key = (s: NoteSignature) => `${s.name} ${s.keyId}`;
      const have = new Set(mine.signatures.map(key));
      const fresh = incoming.signatures.filter((s) => !have.has(key(s)) && (have.add(key(s)), true));
      if (fresh.length === 0) return;
      const sigs = [...mine.signatures, ...fresh];
      await this.storage.save(
        [...CHECKPOINTS, checkpointName(size)],
        utf8(formatNote({ text: mine.text, signatures: sigs }))
      );
    });
  }

  /**
   * Checks the stored log against itself and against the ledger: the leaves give the stored head, every ledger
   * event is a leaf whose hash is that of its envelope, no leaf names an event the ledger lacks, and every stored
   * checkpoint is signed by `publicKey` over this log's root at its size, every other signature on it being a valid
   * cosignature by a member's witness key. Each problem names its storage key.
   */
  static async verifyStorage(
    storage: StorageAdapter,
    ledger: Pick<Ledger, 'id' | 'events' | 'get' | 'roster'>,
    publicKey?: string
  ): Promise<LogProblem[]> {
    const problems: LogProblem[] = [];
    let log: DeviceLog;
    try {
      log = await DeviceLog.load(storage);
    } catch (e) {
      return [
        {
          code: ProofCode.LOG_CORRUPT,
          message: (e as Error).message,
          location: (e as Error).message.match(/log\/[a-z0-9/]+/)?.[0] ?? 'log'
        }
      ];
    }
    const where = (i: number) => `log/leaves/${chunkName(Math.floor(i / CHUNK))} entry ${i % CHUNK} (leaf ${i})`;
    const seen = new Set<string>();
    for (let i = 0; i < log.size; i++) {
      const id = log.eventIdAt(i);
      if (seen.has(id))
        problems.push({ code: ProofCode.LOG_CORRUPT, message: `event ${id} is logged twice`, location: where(i) });
      seen.add(id);
      const ev = ledger.get(id);
      if (!ev) {
        problems.push({
          code: ProofCode.LOG_MISMATCH,
          message: `names event ${id}, which the ledger does not hold`,
          location: where(i)
        });
      } else if (!bytesEqual(log.hasher.hashLeaf(leafData(ev)), log.leafHash(i))) {
        problems.push({
          code: ProofCode.LOG_MISMATCH,
          message: `the leaf hash is not that of event ${id}'s envelope`,
          location: where(i)
        });
      }
    }
    for (const ev of ledger.events()) {
      if (!seen.has(ev.id))
        problems.push({
          code: ProofCode.LOG_MISMATCH,
          message: `event ${ev.id} is not in the log`,
          location: 'log/leaves'
        });
    }
    try {
      log.#prover();
    } catch (e) {
      // With every leaf matching its event, only the stored head (log/state) can be wrong.
      if (problems.length === 0)
        problems.push({ code: ProofCode.LOG_CORRUPT, message: (e as Error).message, location: 'log/state' });
      return problems;
    }
    if (publicKey) {
      const verifier = await createEd25519Verifier(await logVerifierKey(ledger.id, publicKey));
      const witnesses = await Promise.all(
        ledger
          .roster()
          .filter((m) => m.key !== publicKey)
          .map(async (m) => createCosignatureVerifier(await witnessVerifierKey(ledger.id, m.key)))
      );
      const keys = await storage.listKeys(CHECKPOINTS);
      for (const k of keys) {
        const location = k.join('/');
        try {
          const note = fromUtf8((await storage.load(k))!);
          const { checkpoint, note: opened } = await openCheckpoint(note, verifier, witnesses);
          if (opened.unverified.length)
            throw new Error(
              `carries ${opened.unverified.length} signature(s) no member key verifies (${opened.unverified.map((x) => x.name).join(', ')})`
            );
          if (checkpointName(checkpoint.size) !== k[2])
            throw new Error(`stored under ${k[2]} but its size is ${checkpoint.size}`);
          if (checkpoint.size > log.size || !bytesEqual(checkpoint.rootHash, log.rootAt(checkpoint.size))) {
            throw new Error(`its root is not this log's root at size ${checkpoint.size}`);
          }
        } catch (e) {
          problems.push({ code: ProofCode.CHECKPOINT_INVALID, message: (e as Error).message, location });
        }
      }
    }
    return problems;
  }
}
