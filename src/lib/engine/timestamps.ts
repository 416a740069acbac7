/**
 * Trusted time in the ledger worker: RFC 3161 tokens for this device's log checkpoints (ledger-schema/README.md
 * sections 13-14) from the TSAs listed in Settings. Only SHA-256 of the checkpoint's signed text leaves the
 * device, through a relay that forwards time-stamp requests (src/relay/timestamp-forward.ts; the team relay by
 * default, or `settings/tsa-relay`), since public TSAs send no CORS headers.
 *
 * With TSAs configured, the device log is attached to the open ledger and signs a checkpoint after each batch; a
 * run (at most one every MIN_GAP_MS) asks each TSA lacking a token for the newest checkpoint and retries pending
 * requests (queued under `log/timestamps-pending/`, never dropped) with a growing delay, at once when back online.
 * Requests: `timestamp-status`, `timestamp-settings`, `timestamp-now`.
 *
 * TSA and relay replies are hostile: tokens are read by core verifyTimestampToken (never throws); the browser
 * holds no TSA roots, so trusting a TSA is a verifier's decision (verify-bundle with its root).
 */
import { fromBase64, fromUtf8, utf8 } from '../core/bytes.ts';
import { ErrorCode, LedgerError } from '../core/errors.ts';
import type { Ledger } from '../core/ledger.ts';
import type { StorageAdapter } from '../core/storage.ts';
import type { DeviceLog } from '../core/proofs/log.ts';
import { TimestampStore, normalizeTsaUrl, sizeName, MAX_TSAS } from '../core/timestamp/store.ts';
import type { StampResult } from '../core/timestamp/stamp.ts';
import type { LedgerHost } from './host.ts';

export type TimestampRequest =
  | { type: 'timestamp-status' }
  /** One change at a time: add a TSA, remove one, or set the relay (null or '' for the team relay). */
  | { type: 'timestamp-settings'; addTsa?: string; removeTsa?: string; relay?: string | null }
  | { type: 'timestamp-now' };

export interface TimestampTokenView {
  tsa: string;
  /** The relay it came through. */
  via?: string;
  /** When this device received it. */
  received: string;
  /** What the token says (read from it): the time and the subject of the certificate that signed it. */
  genTime?: string;
  tsaName?: string;
  /** Sound, over this checkpoint's imprint (the signature verifies, the certificate may time-stamp). */
  ok: boolean;
  /** Why not, when not. */
  problem?: string;
}

export interface TimestampCheckpointView {
  size: number;
  tokens: TimestampTokenView[];
}

export interface TimestampPendingView {
  size: number;
  tsas: string[];
  attempts: number;
  lastError: string;
  lastTry: string;
}

export interface TimestampRunView {
  at: string;
  /** What started it. */
  trigger: 'change' | 'open' | 'retry' | 'online' | 'settings' | 'now';
  results: Array<Pick<StampResult, 'tsa' | 'size' | 'ok' | 'held' | 'genTime' | 'tsaName' | 'code' | 'error'>>;
  /** The run failed as a whole (no log, a damaged file): why. */
  error?: string;
}

export interface TimestampStatus {
  tsas: string[];
  /** The relay's http(s) base URL the requests go through. */
  relay: string;
  /** The relay is the team relay's (not one set here). */
  relayFromTeam: boolean;
  /** What the relay says it forwards to (GET /timestamp), or why it could not be asked; null before it was asked. */
  relayTsas: { tsas: string[] } | { error: string } | null;
  /** The newest checkpoint of this device's log, or null before there is one. */
  newest: number | null;
  /** Checkpoints with tokens, and the newest one, newest first (at most MAX_SHOWN). */
  checkpoints: TimestampCheckpointView[];
  pending: TimestampPendingView[];
  /** Damaged time-stamp files (left as they are): their keys and what is wrong. */
  problems: Array<{ key: string; message: string }>;
  running: boolean;
  online: boolean;
  lastRun: TimestampRunView | null;
  /** When pending requests are asked again (RFC 3339), or null. */
  nextRetry: string | null;
}

export interface TimestampResults {
  'timestamp-status': TimestampStatus;
  'timestamp-settings': TimestampStatus;
  'timestamp-now': TimestampStatus;
}

export const TIMESTAMP_REQUESTS: ReadonlySet<string> = new Set([
  'timestamp-status',
  'timestamp-settings',
  'timestamp-now'
]);
export const isTimestampRequest = (r: { type: string }): r is TimestampRequest => TIMESTAMP_REQUESTS.has(r.type);

const RELAY_KEY = ['settings', 'tsa-relay'];
const CHECKPOINTS = ['log', 'checkpoints'];
const MAX_SHOWN = 20;
/** After a change, a run waits this long (events come in bursts), and runs are at least MIN_GAP_MS apart. */
const CHANGE_DELAY_MS = 1_000;
const MIN_GAP_MS = 10_000;
const OPEN_DELAY_MS = 2_000;
const RETRY_FIRST_MS = 30_000;
const RETRY_MAX_MS = 15 * 60_000;
const RELAY_LIST_TTL_MS = 60_000;

/** The http(s) form of a relay's ws(s) URL (same host, port and path). */
export function relayHttpUrl(ws: string): string {
  const url = new URL(ws.trim());
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  return url.href.replace(/\/+$/, '');
}

/** A relay given in Settings: ws(s) or http(s), no credentials; its http(s) base URL (BAD_INPUT otherwise). */
function checkRelay(value: unknown): string {
  if (typeof value !== 'string' || !value.trim())
    throw new LedgerError(ErrorCode.BAD_INPUT, 'Give the relay as an http(s) or ws(s) address');
  let http: string;
  try {
    http = relayHttpUrl(value);
  } catch {
    throw new LedgerError(ErrorCode.BAD_INPUT, 'The relay is not a URL');
  }
  return normalizeTsaUrl(http, 'The relay').replace(/\/+$/, '');
}

const oneLine = (s: string, max = 300) =>
  s
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .trim()
    .slice(0, max);

export interface TimestampDeps {
  host: LedgerHost;
  /** The team relay's ws(s) URL (the Team page's setting). */
  teamRelay(): Promise<string>;
  /** The device log attached to the open ledger (bundle-requests.ts attachedDeviceLog). */
  deviceLog(ledger: Ledger): Promise<DeviceLog>;
  fetch?: typeof fetch;
  online?: () => boolean;
  /** The waits, in ms (tests shorten them): after a change, between runs, after an open, before the first retry. */
  delays?: Partial<{ change: number; minGap: number; open: number; retryFirst: number; retryMax: number }>;
}

export class TimestampService {
  readonly #d: TimestampDeps;
  #ledger?: Ledger;
  #running?: Promise<void>;
  #again?: TimestampRunView['trigger'];
  #timer?: ReturnType<typeof setTimeout>;
  #timerAt = 0;
  #lastStart = 0;
  readonly #delays: { change: number; minGap: number; open: number; retryFirst: number; retryMax: number };
  #retryDelay: number;
  #nextRetry: number | null = null;
  #lastRun: TimestampRunView | null = null;
  #relayList?: { at: number; relay: string; value: TimestampStatus['relayTsas'] };
  /** What each token says, by its base64 and checkpoint size (verification is not free; tokens never change). */
  #views = new Map<string, Pick<TimestampTokenView, 'genTime' | 'tsaName' | 'ok' | 'problem'>>();

  constructor(d: TimestampDeps) {
    this.#d = d;
    this.#delays = {
      change: CHANGE_DELAY_MS,
      minGap: MIN_GAP_MS,
      open: OPEN_DELAY_MS,
      retryFirst: RETRY_FIRST_MS,
      retryMax: RETRY_MAX_MS,
      ...d.delays
    };
    this.#retryDelay = this.#delays.retryFirst;
    // A batch of events stored: the log signs a checkpoint; time-stamp it soon after.
    d.host.onChange(() => {
      if (this.#ledger) this.#schedule(this.#delays.change, 'change');
    });
  }

  #online(): boolean {
    return this.#d.online ? this.#d.online() : (globalThis.navigator?.onLine ?? true);
  }

  #openLedger(): Ledger | undefined {
    try {
      return this.#d.host.ledger();
    } catch {
      return undefined;
    }
  }

  async #store(): Promise<TimestampStore> {
    return new TimestampStore(await this.#d.host.storage());
  }

  /** Called after each request: follows the open ledger; with TSAs or requests pending, attaches its log and runs. */
  follow(): void {
    const ledger = this.#openLedger();
    if (!ledger || ledger === this.#ledger) return;
    this.#ledger = ledger;
    this.#views.clear();
    void this.#wanted().then(
      (wanted) => {
        if (wanted && this.#ledger === ledger) this.#schedule(this.#delays.open, 'open');
      },
      () => undefined
    );
  }

  /** The browser is back online: pending requests are asked now. */
  wake(): void {
    if (this.#ledger) this.#schedule(0, 'online');
  }

  /** TSAs are configured or requests are pending (a damaged setting counts: the run reports it). */
  async #wanted(): Promise<boolean> {
    const store = await this.#store();
    const tsas = await store.tsas().catch(() => ['?']);
    return tsas.length > 0 || (await store.pendingSizes()).length > 0;
  }

  #schedule(delay: number, trigger: TimestampRunView['trigger']): void {
    const at = Math.max(Date.now() + delay, trigger === 'change' ? this.#lastStart + this.#delays.minGap : 0);
    if (this.#running) {
      this.#again ??= trigger;
      return;
    }
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    // A sooner run replaces a retry (it retries the pending requests too).
    this.#nextRetry = null;
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run(trigger);
    }, at - Date.now());
  }

  /** One run at a time; a run asked for meanwhile follows it. */
  #run(trigger: TimestampRunView['trigger']): Promise<void> {
    if (this.#running) {
      this.#again ??= trigger;
      return this.#running;
    }
    const run = this.#runOnce(trigger).finally(() => {
      this.#running = undefined;
      const again = this.#again;
      this.#again = undefined;
      if (again) this.#schedule(again === 'change' ? this.#delays.change : 0, again);
    });
    this.#running = run;
    return run;
  }

  async #runOnce(trigger: TimestampRunView['trigger']): Promise<void> {
    this.#lastStart = Date.now();
    const at = new Date().toISOString();
    try {
      const ledger = this.#openLedger();
      const identity = this.#d.host.deviceIdentity();
      if (!ledger || !identity) return;
      const store = await this.#store();
      const tsas = await store.tsas();
      if (tsas.length === 0 && (await store.pendingSizes()).length === 0) {
        this.#nextRetry = null;
        return;
      }
      const log = await this.#d.deviceLog(ledger);
      await log.settled();
      await log.reconcile(ledger);
      // The log signs after each batch; this makes sure the newest one is of the current log (no-op when it is).
      await log.checkpoint(ledger.id, identity.signer);
      const newest = (await log.checkpointSizes()).at(-1);
      if (!this.#online()) {
        const held = newest === undefined ? [] : (await store.tokens(newest)).map((t) => t.tsa);
        const error = 'TSA_UNREACHABLE: this device is offline; asked again when it is back online';
        const results: TimestampRunView['results'] = [];
        for (const tsa of tsas) {
          if (newest === undefined || held.includes(tsa)) continue;
          await store.markPending(newest, tsa, error);
          results.push({ tsa, size: newest, ok: false, code: 'TSA_UNREACHABLE', error: 'this device is offline' });
        }
        this.#lastRun = { at, trigger, results };
        this.#nextRetry = null; // the online event asks again
        return;
      }
      const { timestampCheckpoint } = await import('../core/timestamp/stamp.ts');
      const via = await this.#relay(store.storage);
      const results = await timestampCheckpoint({
        log,
        store,
        tsas,
        via,
        ...(this.#d.fetch ? { fetch: this.#d.fetch } : {})
      });
      this.#lastRun = {
        at,
        trigger,
        results: results.map(({ tsa, size, ok, held, genTime, tsaName, code, error }) => ({
          tsa,
          size,
          ok,
          ...(held ? { held } : {}),
          ...(genTime ? { genTime } : {}),
          ...(tsaName ? { tsaName } : {}),
          ...(code ? { code } : {}),
          ...(error ? { error: oneLine(error, 500) } : {})
        }))
      };
      this.#afterRun((await store.pendingSizes()).length > 0, trigger);
    } catch (e) {
      this.#lastRun = {
        at,
        trigger,
        results: [],
        error: oneLine(`${(e as { code?: string }).code ?? 'ERROR'}: ${(e as Error)?.message ?? String(e)}`, 500)
      };
      this.#afterRun(true, trigger);
    }
  }

  /** Pending requests left: asked again later, each time later (reset when none is left, or by a run the user asked for). */
  #afterRun(pending: boolean, trigger: TimestampRunView['trigger']): void {
    if (!pending) {
      this.#retryDelay = this.#delays.retryFirst;
      this.#nextRetry = null;
      return;
    }
    if (trigger === 'now' || trigger === 'settings' || trigger === 'online') this.#retryDelay = this.#delays.retryFirst;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#delays.retryMax, this.#retryDelay * 2);
    this.#nextRetry = Date.now() + delay;
    clearTimeout(this.#timer);
    this.#timerAt = this.#nextRetry;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#nextRetry = null;
      void this.#run('retry');
    }, delay);
  }

  /** The relay's http(s) base: the one set here, or the team relay's. */
  async #relay(storage: StorageAdapter): Promise<string> {
    return (await this.#relaySetting(storage)).relay;
  }

  async #relaySetting(storage: StorageAdapter): Promise<{ relay: string; fromTeam: boolean }> {
    const b = await storage.load(RELAY_KEY);
    if (b) {
      try {
        const o = JSON.parse(fromUtf8(b)) as { relay?: unknown };
        return { relay: checkRelay(o.relay), fromTeam: false };
      } catch {
        /* a damaged setting: the team relay, as if none were set (the next setting replaces it) */
      }
    }
    return { relay: relayHttpUrl(await this.#d.teamRelay()), fromTeam: true };
  }

  handle<T extends TimestampRequest['type']>(r: Extract<TimestampRequest, { type: T }>): Promise<TimestampResults[T]>;
  async handle(r: TimestampRequest): Promise<TimestampStatus> {
    switch (r.type) {
      case 'timestamp-status':
        return this.status();
      case 'timestamp-settings':
        await this.#settings(r);
        this.follow();
        // A TSA added, or the relay changed: ask now (in the background; the panel follows the status).
        if (this.#openLedger() && (await this.#wanted())) {
          clearTimeout(this.#timer);
          this.#timer = undefined;
          void this.#run('settings');
        }
        return this.status();
      case 'timestamp-now': {
        const ledger = this.#d.host.writableLedger();
        const store = await this.#store();
        if ((await store.tsas()).length === 0 && (await store.pendingSizes()).length === 0) {
          throw new LedgerError(ErrorCode.BAD_INPUT, 'Add a time-stamping authority first');
        }
        if (!this.#online())
          throw new LedgerError(
            ErrorCode.REMOTE_UNREACHABLE,
            'This device is offline: time-stamps are asked for when it is back online'
          );
        this.#ledger = ledger;
        clearTimeout(this.#timer);
        this.#timer = undefined;
        await this.#running?.catch(() => undefined);
        await this.#run('now');
        return this.status();
      }
    }
  }

  async #settings(r: Extract<TimestampRequest, { type: 'timestamp-settings' }>): Promise<void> {
    this.#d.host.writableLedger();
    const storage = await this.#d.host.storage();
    const store = new TimestampStore(storage);
    const given = [r.addTsa, r.removeTsa, r.relay].filter((v) => v !== undefined).length;
    if (given !== 1)
      throw new LedgerError(
        ErrorCode.BAD_INPUT,
        'Change one thing at a time: a TSA to add, one to remove, or the relay'
      );
    if (r.addTsa !== undefined) {
      const url = normalizeTsaUrl(typeof r.addTsa === 'string' ? r.addTsa.trim() : r.addTsa, 'The TSA address');
      const have = await store.tsas();
      if (have.includes(url)) throw new LedgerError(ErrorCode.BAD_INPUT, 'That TSA is already in the list');
      if (have.length >= MAX_TSAS) throw new LedgerError(ErrorCode.BAD_INPUT, `At most ${MAX_TSAS} TSAs can be listed`);
      await store.setTsas([...have, url]);
    } else if (r.removeTsa !== undefined) {
      const url = normalizeTsaUrl(r.removeTsa, 'The TSA address');
      const have = await store.tsas();
      if (!have.includes(url)) throw new LedgerError(ErrorCode.BAD_INPUT, 'That TSA is not in the list');
      await store.setTsas(have.filter((u) => u !== url));
      // Its pending requests go too; the tokens it gave stay (they are evidence).
      for (const size of await store.pendingSizes()) await store.clearPending(size, url);
    } else if (r.relay === null || r.relay === '') {
      await storage.remove(RELAY_KEY);
    } else {
      await storage.save(RELAY_KEY, utf8(JSON.stringify({ relay: checkRelay(r.relay) }) + '\n'));
    }
    this.#relayList = undefined;
  }

  /** What the relay forwards to (GET <relay>/timestamp), cached for a minute; hostile input: shape and size checked. */
  async #relayTsas(relay: string): Promise<TimestampStatus['relayTsas']> {
    const c = this.#relayList;
    if (c && c.relay === relay && Date.now() - c.at < RELAY_LIST_TTL_MS) return c.value;
    let value: TimestampStatus['relayTsas'];
    if (!this.#online()) value = { error: 'this device is offline' };
    else {
      try {
        const res = await (this.#d.fetch ?? fetch)(`${relay}/timestamp`, {
          credentials: 'omit',
          cache: 'no-store',
          signal: AbortSignal.timeout(5_000)
        });
        if (!res.ok) {
          await res.body?.cancel().catch(() => undefined);
          value = {
            error:
              res.status === 426
                ? 'this relay does not forward time-stamp requests (an older relay)'
                : `the relay answered HTTP ${res.status}`
          };
        } else {
          const text = await res.text();
          if (text.length > 64 * 1024) throw new Error('its answer is too large');
          const o = JSON.parse(text) as { tsas?: unknown };
          if (
            !Array.isArray(o.tsas) ||
            o.tsas.length > 100 ||
            !o.tsas.every((u) => typeof u === 'string' && u.length <= 2048)
          )
            throw new Error('its answer is not a list of TSAs');
          value = { tsas: (o.tsas as string[]).map((u) => oneLine(u, 2048)) };
        }
      } catch (e) {
        value = { error: `the relay could not be asked: ${oneLine((e as Error)?.message ?? String(e), 200)}` };
      }
    }
    this.#relayList = { at: Date.now(), relay, value };
    return value;
  }

  async status(): Promise<TimestampStatus> {
    const storage = await this.#d.host.storage();
    const store = new TimestampStore(storage);
    const problems: TimestampStatus['problems'] = [];
    const note = (e: unknown, key: string) =>
      problems.push({
        key: (e as { detail?: { key?: string } }).detail?.key ?? key,
        message: oneLine((e as Error)?.message ?? String(e), 500)
      });

    let tsas: string[] = [];
    try {
      tsas = await store.tsas();
    } catch (e) {
      note(e, 'settings/tsa');
    }
    const { relay, fromTeam } = await this.#relaySetting(storage);
    const checkpointSizes = (await storage.listKeys(CHECKPOINTS))
      .map((k) => Number(k[2]))
      .filter((n) => Number.isSafeInteger(n) && n > 0);
    const newest = checkpointSizes.length ? Math.max(...checkpointSizes) : null;

    const pending: TimestampPendingView[] = [];
    for (const size of await store.pendingSizes()) {
      try {
        const p = await store.pendingAt(size);
        if (p)
          pending.push({
            size: p.size,
            tsas: p.tsas,
            attempts: p.attempts,
            lastError: oneLine(p.lastError, 500),
            lastTry: p.lastTry
          });
      } catch (e) {
        note(e, `log/timestamps-pending/${sizeName(size)}`);
      }
    }
    pending.sort((a, b) => b.size - a.size);

    const sizes = [...new Set([...(await store.sizes()), ...(newest !== null ? [newest] : [])])]
      .sort((a, b) => b - a)
      .slice(0, MAX_SHOWN);
    const checkpoints: TimestampCheckpointView[] = [];
    for (const size of sizes) {
      try {
        const entries = await store.tokens(size);
        const tokens: TimestampTokenView[] = [];
        for (const t of entries)
          tokens.push({
            tsa: t.tsa,
            ...(t.via ? { via: t.via } : {}),
            received: t.received,
            ...(await this.#read(storage, size, t.token))
          });
        checkpoints.push({ size, tokens });
      } catch (e) {
        note(e, `log/timestamps/${sizeName(size)}`);
      }
    }

    return {
      tsas,
      relay,
      relayFromTeam: fromTeam,
      relayTsas: tsas.length
        ? await this.#relayTsas(relay)
        : this.#relayList?.relay === relay
          ? this.#relayList.value
          : null,
      newest,
      checkpoints,
      pending,
      problems,
      running: this.#running !== undefined,
      online: this.#online(),
      lastRun: this.#lastRun,
      nextRetry: this.#nextRetry === null ? null : new Date(this.#nextRetry).toISOString()
    };
  }

  /** What a held token says, checked against the imprint of this device's checkpoint of that size. */
  async #read(
    storage: StorageAdapter,
    size: number,
    token: string
  ): Promise<Pick<TimestampTokenView, 'genTime' | 'tsaName' | 'ok' | 'problem'>> {
    const key = `${size} ${token}`;
    const cached = this.#views.get(key);
    if (cached) return cached;
    let view: Pick<TimestampTokenView, 'genTime' | 'tsaName' | 'ok' | 'problem'>;
    try {
      const [{ parseNote }, { checkpointImprint }, { verifyTimestampToken }] = await Promise.all([
        import('../core/merkle/note.ts'),
        import('../core/timestamp/request.ts'),
        import('../core/timestamp/verify.ts')
      ]);
      const bytes = await storage.load([...CHECKPOINTS, sizeName(size)]);
      if (!bytes) throw new Error(`this device holds no checkpoint of size ${size}`);
      const imprint = await checkpointImprint(parseNote(fromUtf8(bytes)).text);
      const v = await verifyTimestampToken(fromBase64(token), imprint, []);
      const info = v.info
        ? { genTime: v.info.genTime, ...(v.info.tsa ? { tsaName: oneLine(v.info.tsa, 500) } : {}) }
        : {};
      // Without trusted roots a sound token is 'untrusted' (TSA_NO_ROOTS): sound is what can be said here.
      view =
        v.status === 'invalid'
          ? { ...info, ok: false, problem: oneLine(`${v.code}: ${v.reason}`, 500) }
          : { ...info, ok: true };
    } catch (e) {
      view = { ok: false, problem: oneLine((e as Error)?.message ?? String(e), 500) };
    }
    if (this.#views.size > 500) this.#views.clear();
    this.#views.set(key, view);
    return view;
  }
}
