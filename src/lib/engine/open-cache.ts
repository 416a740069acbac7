/**
 * The open cache: what the dashboard needs to show a ledger at once, without waiting for Automerge.
 *
 * Loading the Automerge document of a 10,000-event ledger takes seconds in a browser (A.load of ~10 MB of
 * event and signature strings), and that used to stand between a page load and the dashboard. The worker keeps
 * the event list (JSON lines, exactly as `Ledger.events()` gives it) under `cache/open`, together with the names of
 * the stored chunks it was made from. Chunks are named by the SHA-256 of their bytes (docstore.ts), so when the
 * names listed in storage are exactly those in the cache, the cache describes the same document. At open the
 * worker answers from the cache (one IndexedDB read, handed to the page as one string: no structured clone of
 * 10,000 objects) and loads the ledger itself meanwhile; every other request waits for that load.
 *
 * The cache is written behind the ledger (off the page's thread) once appends or received events are stored,
 * and right after an open that found it stale. It holds nothing the chunks do not: events are not confidential
 * (prompts are in the vault). A cache that does not match, or cannot be read, is ignored (the slow path).
 *
 *   bytes = UTF-8( JSON header ) "\n" UTF-8( JSON lines: one LedgerEvent a line, oldest first )
 *   header = { v: 1, chunks: ["doc/incr/<sha256>", ...] (sorted), ledger: { id, name }, events: N }
 */
import type { Ledger } from '../core/ledger.ts';
import type { StorageAdapter } from '../core/storage.ts';
import type { LedgerInfo } from './protocol.ts';

export const OPEN_CACHE_KEY = ['cache', 'open'];
const VERSION = 1;

interface Header {
  v: number;
  chunks: string[];
  ledger: LedgerInfo;
  events: number;
}

export interface OpenCache {
  ledger: LedgerInfo;
  /** The event list as JSON lines (one LedgerEvent a line), for the page to parse. */
  eventsJsonl: string;
  events: number;
}

/** Events as JSON lines (JSON.stringify never leaves a raw newline in its output). */
export const toJsonl = (events: readonly unknown[]): string => events.map((e) => JSON.stringify(e)).join('\n');

const chunkNames = async (storage: StorageAdapter): Promise<string[]> =>
  (await storage.listKeys(['doc'])).map((k) => k.join('/')).sort();

/** The cache when it describes exactly the stored chunks; undefined otherwise (or on any read problem). */
export async function readOpenCache(storage: StorageAdapter): Promise<OpenCache | undefined> {
  try {
    const [bytes, chunks] = await Promise.all([storage.load(OPEN_CACHE_KEY), chunkNames(storage)]);
    if (!bytes) return undefined;
    const nl = bytes.indexOf(10);
    if (nl < 0) return undefined;
    const dec = new TextDecoder('utf-8', { fatal: true });
    const head = JSON.parse(dec.decode(bytes.subarray(0, nl))) as Header;
    if (head?.v !== VERSION || !Array.isArray(head.chunks) || head.chunks.length !== chunks.length) return undefined;
    if (!head.chunks.every((c, i) => c === chunks[i])) return undefined;
    if (typeof head.ledger?.id !== 'string' || typeof head.ledger?.name !== 'string' || !Number.isSafeInteger(head.events)) return undefined;
    const eventsJsonl = dec.decode(bytes.subarray(nl + 1));
    if (head.events > 0 && eventsJsonl[0] !== '{') return undefined;
    return { ledger: { id: head.ledger.id, name: head.ledger.name }, eventsJsonl, events: head.events };
  } catch {
    return undefined;
  }
}

/**
 * Writes the cache for the ledger as stored now, and returns its event lines. Waits for appends being written; gives up (undefined)
 * when the ledger changes while the chunk names are read, so a cache never names chunks its events do not
 * match.
 */
export async function writeOpenCache(storage: StorageAdapter, ledger: Ledger): Promise<string | undefined> {
  await ledger.flushed();
  const events = ledger.events();
  const chunks = await chunkNames(storage);
  if (ledger.events() !== events) return undefined;
  const head: Header = { v: VERSION, chunks, ledger: { id: ledger.id, name: ledger.name }, events: events.length };
  const jsonl = toJsonl(events);
  const bytes = new TextEncoder().encode(`${JSON.stringify(head)}\n${jsonl}`);
  if (ledger.events() !== events) return undefined;
  await storage.save(OPEN_CACHE_KEY, bytes);
  return jsonl;
}

/** Keeps the cache of one ledger in step: rewritten `delayMs` after the last append, at once after a receive. */
export class OpenCacheWriter {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #stopObserving: () => void;

  readonly #storage: StorageAdapter;
  readonly #ledger: Ledger;
  readonly #delayMs: number;

  constructor(storage: StorageAdapter, ledger: Ledger, delayMs = 500) {
    this.#storage = storage;
    this.#ledger = ledger;
    this.#delayMs = delayMs;
    // After a receive (an import, a sync) at once: a page reload may follow; appends come in bursts.
    this.#stopObserving = ledger.observe((_events, origin) => this.schedule(origin === 'receive' ? 0 : this.#delayMs));
  }

  schedule(delayMs = this.#delayMs): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      writeOpenCache(this.#storage, this.#ledger).then(
        (done) => {
          if (done === undefined) this.schedule();
        },
        () => {
          /* a cache that could not be written is only a slower next open */
        }
      );
    }, delayMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#stopObserving();
  }
}
