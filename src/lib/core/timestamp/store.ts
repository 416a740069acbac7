/**
 * Where a device keeps its RFC 3161 time-stamp tokens, beside its log (the device's StorageAdapter, never synced):
 *
 *   log/timestamps/<size, 16 decimal digits>          {"tokens":[{"token":"<base64 DER>","tsa":"<url>",
 *                                                      "via"?:"<relay url>","received":"<RFC 3339>"}]}
 *                                                      one entry per TSA URL, for this device's checkpoint of that size
 *   log/timestamps-pending/<size, 16 decimal digits>  {"tsas":[url…],"attempts":n,"lastError":"…","lastTry":"…"}
 *                                                      requests that failed (or were made offline), tried again later
 *   settings/tsa                                      {"tsas":[url…]}: the TSAs this ledger directory uses
 *   log/timestamps-held                               {"tokens":{"<size>":[url…]}}: every token stored, written
 *                                                      after the token itself (verify says when one is gone)
 *
 * Every file is read as untrusted: a damaged one (not JSON, wrong shape, a bad URL, a token that is not base64)
 * fails with STORAGE_CORRUPT naming its key, and is never written over: it stays as evidence until removed.
 * Tokens are stored as they came; whoever relies on one verifies it (verify.ts).
 */
import { fromBase64, fromUtf8, utf8 } from '../bytes.ts';
import { ErrorCode, LedgerError } from '../errors.ts';
import type { StorageAdapter, StorageKey } from '../storage.ts';

export const MAX_TSAS = 8;
export const MAX_TSA_URL = 2048;
/** Tokens kept per checkpoint size (one per TSA, one-shot TSAs included). */
export const MAX_TOKENS_PER_SIZE = 32;
const MAX_FILE_BYTES = 4 << 20;
const MAX_ERROR_CHARS = 500;

const TOKENS = ['log', 'timestamps'];
const PENDING = ['log', 'timestamps-pending'];
const SETTINGS = ['settings', 'tsa'];
/** Which tokens were stored, by size: {"tokens": {"<size>": [tsa…]}} (so that a token file gone is noticed). */
const HELD = ['log', 'timestamps-held'];
const SIZE_NAME = /^[0-9]{16}$/;

export interface TokenEntry {
  /** The TimeStampToken (a CMS SignedData), DER, in standard base64. */
  token: string;
  tsa: string;
  via?: string;
  /** When this device received it (RFC 3339). */
  received: string;
}

export interface PendingRequest {
  size: number;
  tsas: string[];
  attempts: number;
  lastError: string;
  lastTry: string;
}

export interface StoreProblem {
  code: string;
  key: string;
  message: string;
}

export const sizeName = (size: number): string => {
  if (!Number.isSafeInteger(size) || size < 1)
    throw new LedgerError(ErrorCode.BAD_INPUT, `checkpoint size ${size} is not a positive whole number`);
  return String(size).padStart(16, '0');
};

/**
 * A TSA's URL as kept: http(s), no user name or password (they would be stored and printed), no #fragment, at
 * most 2048 characters; normalized (new URL(u).href) so that one TSA is one entry. BAD_INPUT otherwise.
 */
export function normalizeTsaUrl(text: unknown, what = 'TSA URL'): string {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TSA_URL) {
    throw new LedgerError(ErrorCode.BAD_INPUT, `${what}: want an http(s) URL of at most ${MAX_TSA_URL} characters`);
  }
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new LedgerError(ErrorCode.BAD_INPUT, `${what} ${JSON.stringify(text.slice(0, 100))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new LedgerError(ErrorCode.BAD_INPUT, `${what} ${JSON.stringify(text.slice(0, 100))} is not an http(s) URL`);
  if (url.username || url.password)
    throw new LedgerError(ErrorCode.BAD_INPUT, `${what} must not carry a user name or password`);
  if (url.hash) throw new LedgerError(ErrorCode.BAD_INPUT, `${what} must not carry a #fragment`);
  if (url.href.length > MAX_TSA_URL)
    throw new LedgerError(ErrorCode.BAD_INPUT, `${what} is longer than ${MAX_TSA_URL} characters`);
  return url.href;
}

/** Checks a list of TSA URLs for the setting: at most 8, each valid; duplicates dropped. BAD_INPUT otherwise. */
export function checkTsaList(urls: readonly unknown[]): string[] {
  if (!Array.isArray(urls)) throw new LedgerError(ErrorCode.BAD_INPUT, 'the TSA setting must be a list of URLs');
  const out = [...new Set(urls.map((u) => normalizeTsaUrl(u)))];
  if (out.length > MAX_TSAS)
    throw new LedgerError(ErrorCode.BAD_INPUT, `at most ${MAX_TSAS} TSAs can be configured (${out.length} given)`);
  return out;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export class TimestampStore {
  readonly storage: StorageAdapter;

  constructor(storage: StorageAdapter) {
    this.storage = storage;
  }

  // ------------------------------------------------------------------------------------------ the setting

  /** The configured TSAs ([] when none). */
  async tsas(): Promise<string[]> {
    const doc = await this.#read(SETTINGS);
    if (doc === undefined) return [];
    return this.#parse(SETTINGS, () => {
      if (!isObject(doc) || !Array.isArray(doc.tsas)) throw new Error('want {"tsas": [url…]}');
      return checkTsaList(doc.tsas);
    });
  }

  /** Replaces the configured TSAs (validated first: nothing is written when one is refused). */
  async setTsas(urls: readonly string[]): Promise<string[]> {
    const list = checkTsaList(urls);
    await this.storage.save(SETTINGS, utf8(JSON.stringify({ tsas: list }) + '\n'));
    return list;
  }

  // ------------------------------------------------------------------------------------------ tokens

  /** The tokens held for this device's checkpoint of `size` ([] when none). */
  async tokens(size: number): Promise<TokenEntry[]> {
    const key = [...TOKENS, sizeName(size)];
    const doc = await this.#read(key);
    if (doc === undefined) return [];
    return this.#parse(key, () => {
      if (!isObject(doc) || !Array.isArray(doc.tokens)) throw new Error('want {"tokens": [...]}');
      if (doc.tokens.length > MAX_TOKENS_PER_SIZE) throw new Error(`more than ${MAX_TOKENS_PER_SIZE} tokens`);
      const seen = new Set<string>();
      return doc.tokens.map((t, i) => {
        const e = tokenEntry(t, `token ${i}`);
        if (seen.has(e.tsa)) throw new Error(`two tokens from ${e.tsa}`);
        seen.add(e.tsa);
        return e;
      });
    });
  }

  /** Checkpoint sizes that hold tokens, ascending. */
  async sizes(): Promise<number[]> {
    return (await this.storage.listKeys(TOKENS))
      .filter((k) => k.length === 3 && SIZE_NAME.test(k[2]))
      .map((k) => Number(k[2]))
      .filter((n) => n > 0)
      .sort((a, b) => a - b);
  }

  /** Adds a token for `size`; a TSA that already gave one for this size keeps its first. Returns whether it was added. */
  async addToken(size: number, entry: TokenEntry): Promise<boolean> {
    const fresh = tokenEntry(entry, 'the token', ErrorCode.BAD_INPUT);
    const have = await this.tokens(size);
    if (have.some((t) => t.tsa === fresh.tsa)) return false;
    if (have.length >= MAX_TOKENS_PER_SIZE)
      throw new LedgerError(ErrorCode.BAD_INPUT, `checkpoint ${size} already holds ${MAX_TOKENS_PER_SIZE} tokens`);
    await this.storage.save([...TOKENS, sizeName(size)], utf8(JSON.stringify({ tokens: [...have, fresh] }) + '\n'));
    try {
      const held = await this.held();
      held.set(size, [...(held.get(size) ?? []), fresh.tsa]);
      const doc = Object.fromEntries(
        [...held].sort(([a], [b]) => a - b).map(([n, tsas]) => [sizeName(n), [...new Set(tsas)]])
      );
      await this.storage.save(HELD, utf8(JSON.stringify({ tokens: doc }) + '\n'));
    } catch (e) {
      if ((e as LedgerError).code !== ErrorCode.STORAGE_CORRUPT) throw e; // a damaged record is left as it is (problems() names it)
    }
    return true;
  }

  /** The tokens stored (log/timestamps-held): TSAs by checkpoint size. Tokens stored before it was kept are not in it. */
  async held(): Promise<Map<number, string[]>> {
    const doc = await this.#read(HELD);
    if (doc === undefined) return new Map();
    return this.#parse(HELD, () => {
      if (!isObject(doc) || !isObject(doc.tokens)) throw new Error('want {"tokens": {"<size>": [url…]}}');
      const out = new Map<number, string[]>();
      for (const [name, tsas] of Object.entries(doc.tokens)) {
        if (!SIZE_NAME.test(name) || Number(name) < 1)
          throw new Error(`${JSON.stringify(name.slice(0, 20))} is not a checkpoint size`);
        if (!Array.isArray(tsas) || tsas.length > MAX_TOKENS_PER_SIZE)
          throw new Error(`the TSAs of size ${Number(name)} are not a list`);
        out.set(
          Number(name),
          tsas.map((u) => normalizeTsaUrl(u))
        );
      }
      return out;
    });
  }

  /** Tokens held that the record lacks (stored before it was kept, or a write cut short between the two). */
  async unrecorded(): Promise<Array<{ size: number; tsa: string }>> {
    const held = await this.held();
    const out: Array<{ size: number; tsa: string }> = [];
    for (const size of await this.sizes()) {
      const have = await this.tokens(size).catch(() => [] as TokenEntry[]);
      for (const t of have) if (!held.get(size)?.includes(t.tsa)) out.push({ size, tsa: t.tsa });
    }
    return out;
  }

  /** Adds every token held to the record (verify --repair); entries of tokens that are gone stay, as evidence of the loss. */
  async recordHeld(): Promise<number> {
    const add = await this.unrecorded();
    if (add.length === 0) return 0;
    const held = await this.held();
    for (const { size, tsa } of add) held.set(size, [...(held.get(size) ?? []), tsa]);
    const doc = Object.fromEntries(
      [...held].sort(([a], [b]) => a - b).map(([n, tsas]) => [sizeName(n), [...new Set(tsas)]])
    );
    await this.storage.save(HELD, utf8(JSON.stringify({ tokens: doc }) + '\n'));
    return add.length;
  }

  /** Tokens the record says were stored and that are gone (their file removed, or the TSA's entry dropped from it). */
  async missing(): Promise<Array<{ size: number; tsa: string }>> {
    const out: Array<{ size: number; tsa: string }> = [];
    for (const [size, tsas] of await this.held()) {
      const have = await this.tokens(size).catch(() => undefined); // a damaged file is named by problems()
      if (!have) continue;
      for (const tsa of tsas) if (!have.some((t) => t.tsa === tsa)) out.push({ size, tsa });
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------ pending requests

  /** Every pending request, by ascending size. Throws STORAGE_CORRUPT on the first damaged file (see problems()). */
  async pending(): Promise<PendingRequest[]> {
    const out: PendingRequest[] = [];
    for (const size of await this.pendingSizes()) out.push((await this.pendingAt(size))!);
    return out;
  }

  /** Sizes with a pending-request file, ascending. */
  async pendingSizes(): Promise<number[]> {
    return (await this.storage.listKeys(PENDING))
      .filter((k) => k.length === 3 && SIZE_NAME.test(k[2]))
      .map((k) => Number(k[2]))
      .filter((n) => n > 0)
      .sort((a, b) => a - b);
  }

  /** The pending request for `size`, or undefined. */
  async pendingAt(size: number): Promise<PendingRequest | undefined> {
    const key = [...PENDING, sizeName(size)];
    const doc = await this.#read(key);
    if (doc === undefined) return undefined;
    return this.#parse(key, () => {
      if (!isObject(doc) || !Array.isArray(doc.tsas)) throw new Error('want {"tsas": [url…], "attempts": n, …}');
      if (doc.tsas.length > MAX_TOKENS_PER_SIZE) throw new Error(`more than ${MAX_TOKENS_PER_SIZE} TSAs`);
      const tsas = [...new Set(doc.tsas.map((u) => normalizeTsaUrl(u)))];
      const attempts = doc.attempts;
      if (!Number.isSafeInteger(attempts) || (attempts as number) < 0)
        throw new Error('attempts is not a whole number');
      if (typeof doc.lastError !== 'string' || doc.lastError.length > MAX_ERROR_CHARS * 2)
        throw new Error('lastError is not a short string');
      if (typeof doc.lastTry !== 'string' || !RFC3339.test(doc.lastTry))
        throw new Error('lastTry is not an RFC 3339 time');
      return { size, tsas, attempts: attempts as number, lastError: doc.lastError, lastTry: doc.lastTry };
    });
  }

  /** Records that a request to `tsa` for the checkpoint of `size` failed (or could not be made): tried again later. */
  async markPending(size: number, tsa: string, error: string, now = new Date()): Promise<void> {
    const url = normalizeTsaUrl(tsa);
    const prev = await this.pendingAt(size);
    const tsas = prev?.tsas.includes(url) ? prev.tsas : [...(prev?.tsas ?? []), url];
    if (tsas.length > MAX_TOKENS_PER_SIZE)
      throw new LedgerError(ErrorCode.BAD_INPUT, `checkpoint ${size} already has ${MAX_TOKENS_PER_SIZE} pending TSAs`);
    const doc = {
      tsas,
      attempts: (prev?.attempts ?? 0) + 1,
      lastError: error.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, MAX_ERROR_CHARS),
      lastTry: now.toISOString()
    };
    await this.storage.save([...PENDING, sizeName(size)], utf8(JSON.stringify(doc) + '\n'));
  }

  /** `tsa` answered (or is no longer wanted) for `size`: drops it from the pending request, and the file once empty. */
  async clearPending(size: number, tsa: string): Promise<void> {
    const url = normalizeTsaUrl(tsa);
    const prev = await this.pendingAt(size);
    if (!prev || !prev.tsas.includes(url)) return;
    const tsas = prev.tsas.filter((u) => u !== url);
    const key = [...PENDING, sizeName(size)];
    if (tsas.length === 0) await this.storage.remove(key);
    else
      await this.storage.save(
        key,
        utf8(JSON.stringify({ tsas, attempts: prev.attempts, lastError: prev.lastError, lastTry: prev.lastTry }) + '\n')
      );
  }

  // ------------------------------------------------------------------------------------------ checking

  /** Every damaged file under the three kinds of key, without throwing (for `tsa list` and reports). */
  async problems(): Promise<StoreProblem[]> {
    const problems: StoreProblem[] = [];
    const attempt = async (key: StorageKey, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        problems.push({
          code: (e as LedgerError).code ?? 'STORAGE_CORRUPT',
          key: key.join('/'),
          message: (e as Error).message
        });
      }
    };
    await attempt(SETTINGS, () => this.tsas());
    await attempt(HELD, () => this.held());
    for (const [prefix, read] of [
      [TOKENS, (n: number) => this.tokens(n)],
      [PENDING, (n: number) => this.pendingAt(n)]
    ] as const) {
      for (const k of await this.storage.listKeys(prefix)) {
        if (k.length !== 3 || !SIZE_NAME.test(k[2]) || Number(k[2]) < 1) {
          problems.push({
            code: ErrorCode.STORAGE_CORRUPT,
            key: k.join('/'),
            message: `${k.join('/')}: not named by a checkpoint size (16 decimal digits)`
          });
        } else await attempt(k, () => read(Number(k[2])));
      }
    }
    return problems;
  }

  async #read(key: StorageKey): Promise<unknown> {
    const bytes = await this.storage.load(key);
    if (bytes === undefined) return undefined;
    return this.#parse(key, () => {
      if (bytes.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES >> 20} MiB`);
      return JSON.parse(fromUtf8(bytes)) as unknown;
    });
  }

  #parse<T>(key: StorageKey, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const where = key.join('/');
      const why = (e as Error).message.replace(/^[A-Z_]+: /, '');
      throw new LedgerError(
        ErrorCode.STORAGE_CORRUPT,
        `${where} is damaged (${why}): left as it is; remove it to start that record afresh`,
        { detail: { key: where }, cause: e }
      );
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks one token entry (from storage: Error, turned into STORAGE_CORRUPT; from a caller: BAD_INPUT). */
function tokenEntry(v: unknown, what: string, code?: ErrorCode): TokenEntry {
  const fail = (m: string) => (code ? new LedgerError(code, `${what}: ${m}`) : new Error(`${what}: ${m}`));
  if (!isObject(v)) throw fail('not an object');
  if (typeof v.token !== 'string' || v.token.length === 0 || v.token.length > MAX_FILE_BYTES)
    throw fail('token is not a base64 string');
  try {
    fromBase64(v.token);
  } catch {
    throw fail('token is not canonical base64');
  }
  let tsa: string;
  let via: string | undefined;
  try {
    tsa = normalizeTsaUrl(v.tsa, 'tsa');
    via = v.via === undefined ? undefined : normalizeTsaUrl(v.via, 'via');
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (typeof v.received !== 'string' || !RFC3339.test(v.received)) throw fail('received is not an RFC 3339 time');
  return { token: v.token, tsa, ...(via ? { via } : {}), received: v.received };
}
