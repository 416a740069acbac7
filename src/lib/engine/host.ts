/**
 * What the ledger worker does for each request, with its I/O passed in (storage, identity, wasm init) so
 * it runs the same under test with memory storage as in the worker with IndexedDB.
 */
import { Ledger } from '../core/ledger.ts';
import type { LedgerEvent } from '../core/event.ts';
import type { VerifyReport } from '../core/verify.ts';
import { commitPrompt } from '../core/commitment.ts';
import { PromptVault } from '../core/vault.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { Signer } from '../core/keys.ts';
import type { StorageAdapter } from '../core/storage.ts';
import { hashFile, type FileRef } from './files.ts';
import { OpenCacheWriter, readCachedEvents, readOpenCache, toJsonl, writeOpenCache } from './open-cache.ts';
import { factsOf, type DashboardFacts } from '../core/dashboard.ts';
import { sha256Hex } from '../core/hash.ts';
import { fromUtf8, utf8 } from '../core/bytes.ts';
import {
  CLASSIFICATIONS,
  EngineErrorCode,
  GENERATION_MODES,
  type ChangeNotice,
  type EngineState,
  type EventsPage,
  type ChecklistInput,
  type GenerationInput,
  type PolicyInput,
  type MemberInfo,
  type Progress
} from './protocol.ts';

export interface DeviceIdentity {
  memberName: string;
  publicKey: string;
  signer: Signer;
}

export interface HostDeps {
  /** Runs once before anything touches Automerge (the wasm). */
  init(): Promise<void>;
  openStorage(): Promise<StorageAdapter>;
  loadIdentity(): Promise<DeviceIdentity | undefined>;
  /** Makes the device key on first use; with a backup passphrase, with its encrypted backup (browser-identity.ts). */
  ensureIdentity(memberName: string, backupPassphrase?: string): Promise<DeviceIdentity>;
  now?: () => Date;
}

const MAX_TEXT = 256;
const MAX_PROMPT = 100_000;
const MAX_FILES = 500;
const MAX_POLICY_TEXT = 5_000_000;

function text(value: unknown, field: string, { required = true, max = MAX_TEXT } = {}): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw new LedgerError(ErrorCode.BAD_INPUT, `${field} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new LedgerError(ErrorCode.BAD_INPUT, `${field} must be text`);
  const s = value.trim();
  if (s.length === 0) {
    if (required) throw new LedgerError(ErrorCode.BAD_INPUT, `${field} is required`);
    return undefined;
  }
  if (s.length > max) throw new LedgerError(ErrorCode.BAD_INPUT, `${field} is longer than ${max} characters`);
  if (!s.isWellFormed()) throw new LedgerError(ErrorCode.BAD_INPUT, `${field} is not valid Unicode text`);
  return s;
}

function files(value: unknown, field: string): File[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((f) => f instanceof Blob && typeof (f as File).name === 'string')) {
    throw new LedgerError(ErrorCode.BAD_INPUT, `${field} must be a list of files`);
  }
  if (value.length > MAX_FILES) throw new LedgerError(ErrorCode.BAD_INPUT, `${field}: at most ${MAX_FILES} files`);
  return value as File[];
}

/** How long the host gathers accepted events before it tells the page (one notice per burst of a sync). */
const NOTICE_DELAY_MS = 30;
/** Beyond this many new events a notice carries none: the page reloads the list in pages. */
const NOTICE_MAX_EVENTS = 2000;
const MAX_PAGE = 5000;

export class LedgerHost {
  readonly #deps: HostDeps;
  #storage?: StorageAdapter;
  #storageOpening?: Promise<StorageAdapter>;
  #initialized?: Promise<void>;
  #ledger?: Ledger;
  #identity?: DeviceIdentity;
  /** The ledger being loaded behind an open answered from the open cache (open-cache.ts). */
  #loading?: Promise<Ledger>;
  #cacheWriter?: OpenCacheWriter;
  /** While the ledger loads behind a fast open: what the open cache says of it. */
  #cached?: { count: number; facts: DashboardFacts; lines?: Promise<string[] | undefined> };
  /** Counts changes of the event list (events stored, another ledger opened): see EventsPage.version. */
  #version = 0;
  #stopNotices?: () => void;
  #listeners = new Set<(n: ChangeNotice) => void>();
  #pendingAdded: LedgerEvent[] | null = [];
  #noticeTimer?: ReturnType<typeof setTimeout>;

  constructor(deps: HostDeps) {
    this.#deps = deps;
  }

  /** The device storage; with `init` (the default), Automerge's wasm is ready too. */
  async #openStorage(init = true): Promise<StorageAdapter> {
    if (init) await (this.#initialized ??= this.#deps.init());
    this.#storage ??= await (this.#storageOpening ??= this.#deps.openStorage());
    return this.#storage;
  }

  #member(): MemberInfo | null {
    return this.#identity ? { name: this.#identity.memberName, publicKey: this.#identity.publicKey } : null;
  }

  #ready(ledger: Ledger): EngineState {
    return {
      state: 'ready',
      ledger: { id: ledger.id, name: ledger.name },
      member: this.#member(),
      events: ledger.events()
    };
  }

  /**
   * Opens the device's ledger. With `fast` (the page's first open), a valid open cache answers at once (count
   * and dashboard facts, no events) while the ledger loads behind it; `settled()` waits for that load. With
   * `withEvents` the answer carries every event as JSON lines too (from the cache while the ledger loads).
   */
  async open(opts: { fast?: boolean; withEvents?: boolean } = {}): Promise<EngineState> {
    if (this.#ledger) return this.#ready(this.#ledger);
    if (this.#loading) return this.#ready(await this.#loading);
    // The cache is read before Automerge's wasm is even compiled: nothing on the fast path needs it.
    const storage = await this.#openStorage(!opts.fast);
    // The fast path's reads all at once: is there a ledger, the device identity, the open cache.
    const [exists, identity, cached, jsonl] = await Promise.all([
      Ledger.exists(storage),
      this.#deps.loadIdentity(),
      opts.fast ? readOpenCache(storage) : undefined,
      opts.fast && opts.withEvents ? readCachedEvents(storage) : undefined
    ]);
    if (!exists) return { state: 'empty' };
    this.#identity = identity;
    if (cached)
      this.#cached = {
        count: cached.events,
        facts: cached.facts,
        lines: jsonl !== undefined ? Promise.resolve(jsonl) : undefined
      };
    const loading = this.#openStorage()
      .then(() => Ledger.open({ storage, signer: this.#identity?.signer }))
      .then((ledger) => {
        // The same events as the open cache served meanwhile: the pages read from it stay valid (no new version).
        const sameAsCache = cached !== undefined && cached !== null && ledger.events().length === cached.events;
        if (this.#loading === loading) this.#adopt(ledger, storage, !cached && !opts.fast, sameAsCache);
        return ledger;
      });
    this.#loading = loading;
    const done = () => {
      if (this.#loading === loading) {
        this.#loading = undefined;
        this.#cached = undefined;
      }
    };
    loading.then(done, done);
    if (cached) {
      loading.catch(() => undefined); // the next request reports it (settled())
      return {
        state: 'ready',
        ledger: cached.ledger,
        member: this.#member(),
        events: [],
        count: cached.events,
        facts: cached.facts,
        version: this.#version,
        ...(jsonl !== undefined ? { eventsJsonl: jsonl.join('\n') } : {})
      };
    }
    const ledger = await loading;
    // The cache was stale: written now (a page reload right after would otherwise find it stale again).
    if (opts.fast) await this.saveOpenCache().catch(() => undefined);
    return this.#ready(ledger);
  }

  /**
   * A state as the page gets it: no events, their count and the dashboard's facts instead (and the events as
   * JSON lines when `withEvents`).
   */
  pageState(s: EngineState, opts: { withEvents?: boolean } = {}): EngineState {
    if (s.state !== 'ready' || s.facts) return s;
    const withEvents = opts.withEvents && s.eventsJsonl === undefined ? { eventsJsonl: toJsonl(s.events) } : {};
    return {
      ...s,
      events: [],
      count: s.events.length,
      facts: factsOf(s.events),
      version: this.#version,
      ...withEvents
    };
  }

  /**
   * A page of the event list, oldest first. While the ledger loads behind a fast open it comes from the open
   * cache (same list), so a page that needs events does not wait for Automerge.
   */
  async eventsPage(offset: unknown, limit: unknown): Promise<EventsPage> {
    if (
      !Number.isSafeInteger(offset) ||
      (offset as number) < 0 ||
      !Number.isSafeInteger(limit) ||
      (limit as number) < 1
    ) {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'offset and limit must be whole numbers');
    }
    const from = offset as number;
    const to = from + Math.min(limit as number, MAX_PAGE);
    if (!this.#ledger && this.#cached) {
      const c = this.#cached;
      c.lines ??= this.#openStorage(false).then(readCachedEvents);
      const lines = await c.lines;
      if (lines && !this.#ledger && this.#cached === c) {
        return { total: lines.length, version: this.#version, offset: from, jsonl: lines.slice(from, to).join('\n') };
      }
    }
    await this.settled();
    const events = this.#requireLedger().events();
    return { total: events.length, version: this.#version, offset: from, jsonl: toJsonl(events.slice(from, to)) };
  }

  /**
   * Calls `fn` after events were stored (appended, received, imported): at most one notice per
   * NOTICE_DELAY_MS, with the count and dashboard facts of the ledger then. Returns the unsubscribe function.
   */
  onChange(fn: (n: ChangeNotice) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #changed(events: LedgerEvent[]): void {
    this.#version++;
    if (this.#pendingAdded) {
      for (const e of events) this.#pendingAdded.push(e);
      if (this.#pendingAdded.length > NOTICE_MAX_EVENTS) this.#pendingAdded = null;
    }
    if (this.#noticeTimer !== undefined) return;
    this.#noticeTimer = setTimeout(() => {
      this.#noticeTimer = undefined;
      const added = this.#pendingAdded;
      this.#pendingAdded = [];
      const ledger = this.#ledger;
      if (!ledger || this.#listeners.size === 0) return;
      const all = ledger.events();
      const notice: ChangeNotice = { version: this.#version, count: all.length, facts: factsOf(all), added };
      for (const fn of [...this.#listeners]) fn(notice);
    }, NOTICE_DELAY_MS);
  }

  /** Writes the open cache of the open ledger now (after an import). */
  async saveOpenCache(): Promise<boolean> {
    if (!this.#ledger || !this.#storage) return false;
    return writeOpenCache(this.#storage, this.#ledger);
  }

  /** Waits until the ledger opened behind a fast open is loaded; rethrows its failure. */
  async settled(): Promise<void> {
    if (this.#loading) await this.#loading;
  }

  /** Takes a newly opened or created ledger, with its open cache and the page's change notices kept in step. */
  #adopt(ledger: Ledger, storage: StorageAdapter, cacheStale: boolean, sameAsCache = false): void {
    this.#cacheWriter?.stop();
    this.#stopNotices?.();
    this.#ledger = ledger;
    if (!sameAsCache) this.#version++;
    this.#cacheWriter = new OpenCacheWriter(storage, ledger);
    this.#stopNotices = ledger.observe((events) => this.#changed(events));
    if (cacheStale) this.#cacheWriter.schedule(0);
  }

  async create(memberName: unknown, ledgerName: unknown, backupPassphrase?: unknown): Promise<EngineState> {
    const member = text(memberName, 'Your name') as string;
    const name = text(ledgerName, 'Ledger name') as string;
    if (
      backupPassphrase !== undefined &&
      backupPassphrase !== '' &&
      (typeof backupPassphrase !== 'string' || backupPassphrase.length < 8)
    ) {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'The backup passphrase must be at least 8 characters');
    }
    const storage = await this.#openStorage();
    if (this.#ledger || (await Ledger.exists(storage))) {
      throw new LedgerError(ErrorCode.ALREADY_INITIALIZED, 'this device already holds a ledger');
    }
    this.#identity = await this.#deps.ensureIdentity(member, (backupPassphrase as string | undefined) || undefined);
    const ledger = await Ledger.create({
      storage,
      signer: this.#identity.signer,
      memberName: member,
      ledgerName: name,
      now: this.#deps.now
    });
    this.#adopt(ledger, storage, true);
    return this.#ready(ledger);
  }

  #requireLedger(): Ledger {
    if (!this.#ledger) throw new LedgerError(ErrorCode.NOT_INITIALIZED, 'no ledger is open on this device');
    return this.#ledger;
  }

  // For the request handlers kept in their own files (custody.ts, transfer.ts, worker.ts).

  /** The open ledger; NOT_INITIALIZED when there is none. */
  ledger(): Ledger {
    return this.#requireLedger();
  }

  /** The open ledger, checked to have this device's signing key. */
  writableLedger(): Ledger {
    const ledger = this.#requireLedger();
    this.#requireSigner();
    return ledger;
  }

  storage(): Promise<StorageAdapter> {
    return this.#openStorage();
  }

  /** This device's signing identity for the open ledger, if it has one (team sync signs with it). */
  deviceIdentity(): DeviceIdentity | undefined {
    return this.#identity;
  }

  /** Forgets the open ledger and identity and opens both again (after an import or a key restore). */
  /**
   * Reads the device identity again after its member name changed in its store (a device that joined as another
   * device of a member takes the member's name). The key is the same: the open ledger stays open.
   */
  async reloadIdentity(): Promise<EngineState> {
    const id = await this.#deps.loadIdentity();
    if (id && id.publicKey === this.#identity?.publicKey) this.#identity = id;
    return this.open();
  }

  async reopen(): Promise<EngineState> {
    await this.settled().catch(() => undefined);
    this.#cacheWriter?.stop();
    this.#cacheWriter = undefined;
    this.#stopNotices?.();
    this.#stopNotices = undefined;
    this.#ledger = undefined;
    this.#identity = undefined;
    return this.open();
  }

  async recordGeneration(input: GenerationInput, progress?: (p: Progress) => void): Promise<LedgerEvent> {
    const ledger = this.#requireLedger();
    if (!this.#identity) {
      throw Object.assign(new Error('this device has no signing key for this ledger'), {
        code: EngineErrorCode.NO_IDENTITY
      });
    }
    if (typeof input !== 'object' || input === null) throw new LedgerError(ErrorCode.BAD_INPUT, 'no generation given');

    const platform = text(input.platform, 'Platform') as string;
    const modelVersion = text(input.modelVersion, 'Model version', { required: false });
    const project = text(input.project, 'Project') as string;
    const seed = text(input.seed, 'Seed', { required: false });
    const prompt = text(input.prompt, 'Prompt', { required: false, max: MAX_PROMPT });
    if (!(GENERATION_MODES as readonly unknown[]).includes(input.mode)) {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'Mode is not one the ledger knows');
    }
    if (!(CLASSIFICATIONS as readonly unknown[]).includes(input.classification)) {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'Classification must be public, personal, confidential or client');
    }
    const outputFiles = files(input.outputs, 'Output files');
    const inputFiles = files(input.inputs, 'Reference inputs');
    if (outputFiles.length === 0) throw new LedgerError(ErrorCode.BAD_INPUT, 'Choose at least one output file');

    const all = [...inputFiles, ...outputFiles];
    const total = all.reduce((n, f) => n + f.size, 0);
    let before = 0;
    const refs: FileRef[] = [];
    for (const f of all) {
      const ref = await hashFile(f, (done) => progress?.({ label: `Hashing ${f.name}`, done: before + done, total }));
      before += f.size;
      refs.push(ref);
    }
    const inputs = refs.slice(0, inputFiles.length);
    const outputs: (FileRef & { set?: string; role?: string })[] = refs.slice(inputFiles.length);
    const meta = Array.isArray(input.outputMeta) ? input.outputMeta : [];
    outputs.forEach((ref, i) => {
      const m = meta[i];
      const set = text(m?.set, 'File set', { required: false });
      const role = text(m?.role, 'File role', { required: false, max: 32 });
      if (set) ref.set = set;
      if (role) ref.role = role;
    });
    const checklist = text(input.checklist, 'Checklist', { required: false, max: 64 });
    const policySnapshots = Array.isArray(input.policySnapshots) ? input.policySnapshots : [];

    let commitment: { alg: string; commitment: string } | undefined;
    if (prompt !== undefined) {
      const c = await commitPrompt(prompt);
      // The opening goes to the vault first: an event whose prompt this device cannot reveal is worse than
      // a vault entry no event refers to.
      await new PromptVault(await this.#openStorage()).put(c.opening);
      commitment = c.commitment;
    }

    const body = {
      platform: { name: platform, ...(modelVersion ? { modelVersion } : {}) },
      mode: input.mode,
      ...(commitment ? { prompt: commitment } : {}),
      inputs,
      outputs,
      settings: {
        ...(typeof input.trainingOptOut === 'boolean' ? { trainingOptOut: input.trainingOptOut } : {}),
        ...(typeof input.privacyMode === 'boolean' ? { privacyMode: input.privacyMode } : {}),
        ...(seed ? { seed } : {})
      },
      project,
      classification: input.classification,
      ...(checklist ? { checklist } : {}),
      policySnapshots
    };
    return ledger.append('generation', body);
  }

  #requireSigner(): void {
    if (!this.#identity) {
      throw Object.assign(new Error('this device has no signing key for this ledger'), {
        code: EngineErrorCode.NO_IDENTITY
      });
    }
  }

  /** A checklist event; the core checks the body against its schema. */
  async recordChecklist(input: ChecklistInput): Promise<LedgerEvent> {
    const ledger = this.#requireLedger();
    this.#requireSigner();
    if (typeof input !== 'object' || input === null) throw new LedgerError(ErrorCode.BAD_INPUT, 'no checklist given');
    return ledger.append('checklist', input);
  }

  /** A policy snapshot: the text is kept on this device under texts/<sha256>; the event holds its hash. */
  async recordPolicy(input: PolicyInput): Promise<LedgerEvent> {
    const ledger = this.#requireLedger();
    this.#requireSigner();
    if (typeof input !== 'object' || input === null) throw new LedgerError(ErrorCode.BAD_INPUT, 'no policy given');
    if (typeof input.text !== 'string' || input.text.trim().length === 0) {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'The policy text is empty');
    }
    if (input.text.length > MAX_POLICY_TEXT)
      throw new LedgerError(ErrorCode.BAD_INPUT, 'The policy text is longer than 5 MB');
    if (input.mediaType !== 'text/plain' && input.mediaType !== 'text/html') {
      throw new LedgerError(ErrorCode.BAD_INPUT, 'The policy text must be plain text or HTML');
    }
    if (typeof input.body !== 'object' || input.body === null)
      throw new LedgerError(ErrorCode.BAD_INPUT, 'no policy details given');
    const bytes = utf8(input.text);
    const sha256 = await sha256Hex(bytes);
    // The text first: an event whose text this device cannot show is worse than a text no event names.
    await (await this.#openStorage()).save(['texts', sha256], bytes);
    return ledger.append('policy-snapshot', {
      ...input.body,
      text: { sha256, size: bytes.length, mediaType: input.mediaType }
    });
  }

  /** The text of a policy snapshot kept on this device, or null. */
  async policyText(sha256: unknown): Promise<string | null> {
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      throw new LedgerError(ErrorCode.BAD_INPUT, 'not a SHA-256 hash');
    const bytes = await (await this.#openStorage()).load(['texts', sha256]);
    // A text whose bytes no longer hash to its name is damaged: treated as missing (never diffed or shown as it).
    return bytes && (await sha256Hex(bytes)) === sha256 ? fromUtf8(bytes) : null;
  }

  async verify(): Promise<VerifyReport> {
    return this.#requireLedger().verify();
  }
}
