/**
 * The open cache: what a page load needs to show a ledger at once, without waiting for Automerge to load the
 * document (why: tests/bench/README.md, "What the anchors showed"). Two entries beside the ledger, written by
 * the worker after appends or received events are stored, and right after an open that found them stale:
 *
 *   cache/open   = UTF-8( JSON { v: 2, chunks: ["doc/incr/<sha256>", ...] (sorted), ledger: { id, name }, events: N, facts } )
 *   cache/events = UTF-8( JSON { v: 2, chunks } ) "\n" UTF-8( JSON lines: one LedgerEvent a line, oldest first )
 *
 * `facts` are the dashboard's (core/dashboard.ts); cache/events is read only when a page asks for events before
 * the ledger has loaded. Chunks are named by the SHA-256 of their bytes (docstore.ts), so an entry whose chunk
 * list equals the stored one describes the same document; any other entry is ignored (the slow path). They hold
 * nothing the chunks do not (prompts are in the vault).
 */
import type { Ledger } from '../core/ledger.ts';
import type { StorageAdapter } from '../core/storage.ts';
import type { LedgerInfo } from './protocol.ts';
import { factsOf, isDashboardFacts, type DashboardFacts } from '../core/dashboard.ts';

export const OPEN_CACHE_KEY = ['cache', 'open'];
export const EVENTS_CACHE_KEY = ['cache', 'events'];
const VERSION = 2;

interface Header {
  v: number;
  chunks: string[];
}

interface OpenHeader extends Header {
  ledger: LedgerInfo;
  events: number;
  facts: DashboardFacts;
}

export interface OpenCache {
  ledger: LedgerInfo;
  /** How many events the ledger holds. */
  events: number;
  facts: DashboardFacts;
}

/** Events as JSON lines (JSON.stringify never leaves a raw newline in its output). */
export const toJsonl = (events: readonly unknown[]): string => events.map((e) => JSON.stringify(e)).join('\n');

const chunkNames = async (storage: StorageAdapter): Promise<string[]> =>
  (await storage.listKeys(['doc'])).map((k) => k.join('/')).sort();

const sameChunks = (head: Header | null | undefined, chunks: string[]): boolean =>
  head?.v === VERSION &&
  Array.isArray(head.chunks) &&
  head.chunks.length === chunks.length &&
  head.chunks.every((c, i) => c === chunks[i]);

/** The open entry when it describes exactly the stored chunks; undefined otherwise (or on any read problem). */
export async function readOpenCache(storage: StorageAdapter): Promise<OpenCache | undefined> {
  try {
    const [bytes, chunks] = await Promise.all([storage.load(OPEN_CACHE_KEY), chunkNames(storage)]);
    if (!bytes) return undefined;
    const head = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as OpenHeader;
    if (!sameChunks(head, chunks)) return undefined;
    if (
      typeof head.ledger?.id !== 'string' ||
      typeof head.ledger?.name !== 'string' ||
      !Number.isSafeInteger(head.events)
    )
      return undefined;
    if (!isDashboardFacts(head.facts)) return undefined;
    return { ledger: { id: head.ledger.id, name: head.ledger.name }, events: head.events, facts: head.facts };
  } catch {
    return undefined;
  }
}

/** The cached event list as JSON lines, one event each, when it describes exactly the stored chunks. */
export async function readCachedEvents(storage: StorageAdapter): Promise<string[] | undefined> {
  try {
    const [bytes, chunks] = await Promise.all([storage.load(EVENTS_CACHE_KEY), chunkNames(storage)]);
    if (!bytes) return undefined;
    const nl = bytes.indexOf(10);
    if (nl < 0) return undefined;
    const dec = new TextDecoder('utf-8', { fatal: true });
    if (!sameChunks(JSON.parse(dec.decode(bytes.subarray(0, nl))) as Header, chunks)) return undefined;
    const text = dec.decode(bytes.subarray(nl + 1));
    if (text.length === 0) return [];
    if (text[0] !== '{') return undefined;
    return text.split('\n');
  } catch {
    return undefined;
  }
}

/**
 * Writes both entries for the ledger as stored now. Waits for appends being written; gives up (false) when the
 * ledger changes meanwhile, so an entry never names chunks its contents do not match.
 */
export async function writeOpenCache(storage: StorageAdapter, ledger: Ledger): Promise<boolean> {
  await ledger.flushed();
  const events = ledger.events();
  const chunks = await chunkNames(storage);
  if (ledger.events() !== events) return false;
  const enc = new TextEncoder();
  const eventsBytes = enc.encode(`${JSON.stringify({ v: VERSION, chunks } satisfies Header)}\n${toJsonl(events)}`);
  const head: OpenHeader = {
    v: VERSION,
    chunks,
    ledger: { id: ledger.id, name: ledger.name },
    events: events.length,
    facts: factsOf(events)
  };
  const openBytes = enc.encode(JSON.stringify(head));
  if (ledger.events() !== events) return false;
  await storage.save(EVENTS_CACHE_KEY, eventsBytes);
  await storage.save(OPEN_CACHE_KEY, openBytes);
  return true;
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
          if (!done) this.schedule();
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
