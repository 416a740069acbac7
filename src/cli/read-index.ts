/**
 * The read index (DIR/cache/read-index): what log, show and trace need of a ledger (every event as stored, in
 * the order the ledger lists them, and the roster), so that they answer without loading the Automerge document
 * when it is unchanged. It is a cache: never evidence, never sent anywhere, and never trusted over the document.
 * ledger-schema/README.md section 12 ("The read index") specifies it; in short:
 *
 *  - It names the exact set of document chunks it was derived from (doc/snapshot/<sha256>, doc/incr/<sha256>)
 *    and the hash of the device identity file. A reader hashes every stored chunk (each must hash to its own
 *    name, as a full load checks) and uses the index only when that set is exactly the index's: any chunk
 *    added, removed or damaged, by this device or another process, means a full load.
 *  - It is authenticated with HMAC-SHA-256 under a key derived (HKDF) from this device's private key, which
 *    never leaves the directory: a tampered, torn or foreign index fails the check and is not read. (Whoever can
 *    read that key can sign events as this device anyway.) A directory without a device key has no index.
 *  - Only a command that changed the document writes it, at its end, from the ledger it holds in memory, and
 *    only when the chunks on disk are exactly those that ledger was loaded from or wrote (a concurrent writer's
 *    chunk makes it skip). Commands that only read never write it; verify ignores it. It is written atomically
 *    (temp file + rename); deleting it is always safe.
 *
 * PROVENANCE_LEDGER_READ_INDEX=off never reads or writes it; =report says on stderr whether it answered and, if
 * not, why.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { constants, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FsStorage } from '../lib/adapters/storage/fs.ts';
import type { StorageChunk, StorageKey } from '../lib/core/storage.ts';
import type { EventId, LedgerEvent } from '../lib/core/event.ts';
import type { Ledger } from '../lib/core/ledger.ts';
import type { RosterEntry } from '../lib/core/roster.ts';
import { hashesIn, matches, traceFile, type EventFilter } from '../lib/core/query.ts';

export const READ_INDEX_KEY = ['cache', 'read-index'];
export const READ_INDEX_ENV = 'PROVENANCE_LEDGER_READ_INDEX';
const FORMAT = 'provenance-ledger/read-index/v1';
export const IDENTITY_KEY = ['identity', 'device'];
const CHUNK_KEY = /^doc\/(snapshot|incr)\/[0-9a-f]{64}$/;

/** What log, show and trace read of a ledger: a loaded Ledger, or a ReadView of its read index. */
export type LedgerReader = Pick<Ledger, 'id' | 'name' | 'events' | 'query' | 'get' | 'member' | 'trace'>;

interface IndexBody {
  format: typeof FORMAT;
  /** The document chunks (storage keys joined by "/"), sorted. */
  chunks: string[];
  /** SHA-256 (hex) of the stored identity file. */
  identity: string;
  ledger: { id: EventId; name: string };
  roster: RosterEntry[];
  /** The ids of every event that counts, in events() order. */
  ids: EventId[];
  /** Their signed envelopes as stored (canonical JSON, embedded as JSON), read as a full load reads them. */
  envelopes: Array<{ event: LedgerEvent['event']; sig: string }>;
}

const mode = () => process.env[READ_INDEX_ENV] ?? '';
export const readIndexOff = () => mode() === 'off';
function report(message: string): void {
  if (mode() === 'report') process.stderr.write(`read index: ${message}\n`);
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** The device's PKCS#8 private key from its stored identity file; undefined when it cannot be read. */
export function identityPrivateKey(identity: Uint8Array): Buffer | undefined {
  try {
    const record = JSON.parse(Buffer.from(identity).toString('utf8'));
    if (typeof record?.privateKey !== 'string' || !/^[A-Za-z0-9_-]+$/.test(record.privateKey)) return undefined;
    const pkcs8 = Buffer.from(record.privateKey, 'base64url');
    return pkcs8.length < 32 ? undefined : pkcs8;
  } catch {
    return undefined;
  }
}

/** The MAC key: HKDF-SHA-256 of the device's PKCS#8 private key; undefined without a readable identity. */
function macKey(identity: Uint8Array): Buffer | undefined {
  const pkcs8 = identityPrivateKey(identity);
  return pkcs8 && Buffer.from(hkdfSync('sha256', pkcs8, new Uint8Array(0), FORMAT, 32));
}

const mac = (key: Buffer, body: Buffer) => createHmac('sha256', key).update(FORMAT).update('\n').update(body).digest();

/** The chunk set of stored chunks, each checked against the hash in its name; undefined if any fails. */
function checkedChunks(chunks: StorageChunk[]): string[] | string {
  const names: string[] = [];
  for (const c of chunks) {
    const name = c.key.join('/');
    if (!CHUNK_KEY.test(name)) return `${name} is not a document chunk`;
    if (sha256(c.data) !== c.key[2]) return `${name} does not hash to its name`;
    names.push(name);
  }
  return names.length ? names.sort() : 'no document chunks';
}

/**
 * The files of a ledger directory the read index needs, read synchronously: a read answered from the index makes
 * a dozen file system calls, and each asynchronous one would wait for a thread-pool round trip (under load, more
 * than the work). Read as FsStorage reads them (`<key>+` files, no symbolic link followed), and anything that
 * FsStorage might read differently (a symbolic link, a file in another place under doc/) makes it undefined:
 * the caller then opens the ledger through FsStorage, with every check and error.
 */
const NOFOLLOW = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
function readValue(file: string): Buffer | undefined {
  try {
    // Node accepts numeric flags here (stringToFlags passes numbers through); @types/node only lists strings.
    return readFileSync(file, { flag: NOFOLLOW as unknown as string });
  } catch {
    return undefined;
  }
}

/** Every `+` file under doc/ (any depth, symbolic links not followed), as storage chunks; undefined if unsure. */
function readDocChunks(dir: string): StorageChunk[] | string {
  const chunks: StorageChunk[] = [];
  const walk = (parts: string[]): string | undefined => {
    for (const e of readdirSync(path.join(dir, ...parts), { withFileTypes: true })) {
      if (e.isDirectory()) {
        const bad = walk([...parts, e.name]);
        if (bad) return bad;
      } else if (e.isSymbolicLink()) return `${[...parts, e.name].join('/')} is a symbolic link`;
      else if (e.isFile() && e.name.endsWith('+')) {
        const data = readValue(path.join(dir, ...parts, e.name));
        if (!data) return `${[...parts, e.name].join('/')} cannot be read`;
        chunks.push({ key: [...parts, e.name.slice(0, -1)], data });
      }
    }
    return undefined;
  };
  try {
    if (!lstatSync(path.join(dir, 'doc')).isDirectory()) return 'doc is not a directory';
    if (lstatSync(path.join(dir, 'doc+'), { throwIfNoEntry: false })) return 'doc+ is not a document chunk';
    return walk(['doc']) ?? chunks;
  } catch {
    return 'doc cannot be read';
  }
}

/**
 * The ledger in directory `dir` as the read index holds it, when the index is sound and names exactly the stored
 * chunks; undefined (the caller loads the document) otherwise. Synchronous (see readValue); writes nothing.
 */
export function openReadIndex(dir: string): ReadView | undefined {
  if (readIndexOff()) return undefined;
  try {
    if (!statSync(dir).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const stored = readValue(path.join(dir, ...READ_INDEX_KEY.slice(0, -1), `${READ_INDEX_KEY.at(-1)}+`));
  const identity = readValue(path.join(dir, ...IDENTITY_KEY.slice(0, -1), `${IDENTITY_KEY.at(-1)}+`));
  if (!stored) return (report('not used: there is none (a command that changes the document writes it)'), undefined);
  const key = identity && macKey(identity);
  if (!key) return (report('not used: no readable device key in this directory'), undefined);
  const bytes = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  const nl = bytes.indexOf(0x0a);
  const tag = nl === 64 ? Buffer.from(bytes.subarray(0, 64).toString('latin1'), 'hex') : undefined;
  const body = bytes.subarray(nl + 1);
  if (!tag || tag.length !== 32 || !timingSafeEqual(tag, mac(key, body)))
    return (report('not used: it does not authenticate (damaged, torn or not made by this device)'), undefined);
  let index: IndexBody;
  try {
    index = JSON.parse(body.toString('latin1'));
  } catch {
    return (report('not used: it is not JSON'), undefined);
  }
  if (
    index?.format !== FORMAT ||
    !Array.isArray(index.chunks) ||
    !Array.isArray(index.ids) ||
    !Array.isArray(index.envelopes) ||
    index.ids.length !== index.envelopes.length ||
    !Array.isArray(index.roster)
  ) {
    return (report('not used: not a read index of this version'), undefined);
  }
  if (index.identity !== sha256(identity!))
    return (report('not used: the device identity changed since it was written'), undefined);
  const read = readDocChunks(dir);
  const chunks = typeof read === 'string' ? read : checkedChunks(read);
  if (typeof chunks === 'string') return (report(`not used: ${chunks}`), undefined);
  if (chunks.length !== index.chunks.length || chunks.some((c, i) => c !== index.chunks[i])) {
    return (report('not used: the document changed since it was written'), undefined);
  }
  report(`used (${index.ids.length} events)`);
  return new ReadView(index);
}

/** The read commands' view of a ledger from its read index: the same answers as the loaded Ledger's. */
export class ReadView implements LedgerReader {
  readonly #ledger: IndexBody['ledger'];
  readonly #events: LedgerEvent[];
  readonly #byId = new Map<EventId, LedgerEvent>();
  readonly #roster = new Map<string, RosterEntry>();
  #byHash?: Map<string, EventId[]>;

  constructor(index: IndexBody) {
    this.#ledger = index.ledger;
    this.#events = index.ids.map((id, i) => ({ id, event: index.envelopes[i].event, sig: index.envelopes[i].sig }));
    for (const ev of this.#events) this.#byId.set(ev.id, ev);
    for (const m of index.roster) this.#roster.set(m.key, m);
  }

  get id(): EventId {
    return this.#ledger.id;
  }

  get name(): string {
    return this.#ledger.name;
  }

  events(): LedgerEvent[] {
    return this.#events;
  }

  query(filter: EventFilter = {}): LedgerEvent[] {
    return this.events().filter((e) => matches(e, filter));
  }

  get(id: string): LedgerEvent | undefined {
    return this.#byId.get(id as EventId);
  }

  member(key: string): RosterEntry | undefined {
    return this.#roster.get(key);
  }

  trace(sha256: string): LedgerEvent[] {
    if (!this.#byHash) {
      // The same index as the Ledger's, with arrays for sets (each event once per hash: hashesIn gives a set);
      // tens of thousands of hashes for 10k events, and traceFile only iterates them.
      const index = new Map<string, EventId[]>();
      for (const ev of this.#byId.values()) {
        for (const h of hashesIn(ev.event.body)) {
          const ids = index.get(h);
          if (ids) ids.push(ev.id);
          else index.set(h, [ev.id]);
        }
      }
      this.#byHash = index;
    }
    return traceFile(sha256.toLowerCase(), this.#byHash as unknown as Map<string, Set<EventId>>, (id) =>
      this.#byId.get(id)
    );
  }
}

/**
 * A storage that records which document chunks the ledger over it holds: those DocStore loaded (its last
 * loadRange of "doc") and those it saved or removed since. `changed` says whether it wrote any.
 */
export interface TrackedStorage {
  storage: FsStorage;
  /** The chunk keys the ledger's document is made of, if it was loaded or created through this storage. */
  chunks(): Set<string> | undefined;
  changed(): boolean;
}

export function trackDocument(storage: FsStorage, opts: { created?: boolean } = {}): TrackedStorage {
  let chunks: Set<string> | undefined = opts.created ? new Set() : undefined;
  let loaded = !!opts.created;
  let changed = false;
  const isDoc = (k: StorageKey) => Array.isArray(k) && k[0] === 'doc';
  const wrote = (saved: StorageKey[], removed: StorageKey[]) => {
    if (!saved.some(isDoc) && !removed.some(isDoc)) return;
    changed = true;
    for (const k of saved) if (isDoc(k)) chunks?.add(k.join('/'));
    for (const k of removed) if (isDoc(k)) chunks?.delete(k.join('/'));
  };
  const overrides: Partial<FsStorage> = {
    async loadRange(prefix: StorageKey) {
      const got = await storage.loadRange(prefix);
      if (prefix.length === 1 && prefix[0] === 'doc') {
        const seen = new Set(got.map((c) => c.key.join('/')));
        // The first load makes the document; a later one (a reload, a check) that saw other chunks leaves it
        // unknown which of them memory holds.
        if (!loaded) chunks = seen;
        else if (!chunks || seen.size !== chunks.size || [...seen].some((k) => !chunks!.has(k))) chunks = undefined;
        loaded = true;
      }
      return got;
    },
    async save(key: StorageKey, data: Uint8Array) {
      await storage.save(key, data);
      wrote([key], []);
    },
    async remove(key: StorageKey) {
      await storage.remove(key);
      wrote([], [key]);
    },
    async saveMany(writes: StorageChunk[], removals: StorageKey[] = []) {
      try {
        await storage.saveMany(writes, removals);
      } finally {
        // Even a failed saveMany may have written some: the set no longer says what is on disk.
        wrote(
          writes.map((w) => w.key),
          removals
        );
      }
    },
    async removeRange(prefix: StorageKey) {
      await storage.removeRange(prefix);
      if (prefix.length === 0 || prefix[0] === 'doc') {
        changed = true;
        chunks = undefined;
      }
    }
  };
  const proxy = new Proxy(storage, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof FsStorage];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    }
  });
  return { storage: proxy, chunks: () => chunks, changed: () => changed };
}

/**
 * Writes the read index of a ledger held in memory, when the chunks on disk are exactly those it holds (else
 * nothing: the next reader loads the document). Never throws: it is a cache.
 */
export async function writeReadIndex(ledger: Ledger, tracked: TrackedStorage): Promise<boolean> {
  if (readIndexOff()) return false;
  try {
    await ledger.flushed();
    const held = tracked.chunks();
    if (!held || ledger.storageProblems.length > 0) return false;
    const storage = tracked.storage;
    const identity = await storage.load(IDENTITY_KEY);
    const key = identity && macKey(identity);
    if (!key) return false;
    const onDisk = (await storage.listKeys(['doc'])).map((k) => k.join('/')).sort();
    if (onDisk.length !== held.size || onDisk.some((k) => !held.has(k) || !CHUNK_KEY.test(k))) return false;
    const events = ledger.events();
    const envelopes = events.map((e) => ledger.envelopeJson(e.id));
    if (envelopes.some((j) => j === undefined)) return false;
    const head: Omit<IndexBody, 'envelopes'> = {
      format: FORMAT,
      chunks: onDisk,
      identity: sha256(identity),
      ledger: { id: ledger.id, name: ledger.name },
      roster: ledger.roster(),
      ids: events.map((e) => e.id)
    };
    // The envelopes go in as the stored canonical JSON text, so a reader parses exactly what a full load parses.
    // All of it ASCII (every other character as its \u escape: the same JSON values), so that a reader decodes it
    // as Latin-1, several times faster than UTF-8 for the megabytes of a large ledger.
    const text = `${JSON.stringify(head).slice(0, -1)},"envelopes":[${envelopes.join(',')}]}`;
    const body = Buffer.from(
      text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
      'latin1'
    );
    const tag = mac(key, body).toString('hex');
    await storage.save(READ_INDEX_KEY, Buffer.concat([Buffer.from(`${tag}\n`, 'latin1'), body]));
    return true;
  } catch {
    return false;
  }
}
