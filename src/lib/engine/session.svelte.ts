/**
 * LedgerSession: the one object pages talk to. It holds what the UI shows as Svelte 5 state and forwards
 * every action to the ledger worker; pages never see Automerge, keys or storage.
 */
import { createContext } from 'svelte';
import type { LedgerEvent } from '../core/event.ts';
import type { VerifyReport } from '../core/verify.ts';
import { EngineClient } from './client.ts';
import { dashboardFacts, dashboardView, type DashboardFacts, type DashboardView } from '../core/dashboard.ts';
import {
  EngineError,
  toErrorInfo,
  type ChangeNotice,
  type EngineState,
  type ChecklistInput,
  type ErrorInfo,
  type GenerationInput,
  type PolicyInput,
  type LedgerInfo,
  type MemberInfo,
  type Progress,
  type RequestOf,
  type RequestType,
  type Results
} from './protocol.ts';
import type { CustodyInput } from './custody.ts';

export type SessionStatus = 'starting' | 'empty' | 'ready' | 'failed';

/** Lets the page paint and handle input (scheduler.yield where there is one; setTimeout clamps to 4 ms). */
const yieldToPage = (): Promise<void> => {
  const sched = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  return sched?.yield ? sched.yield() : new Promise((r) => setTimeout(r, 0));
};

/** Events parsed from JSON lines a slice at a time, yielding between slices: no long task on the page. */
const SLICE = 1000;
async function parseJsonl(text: string, out: LedgerEvent[] = []): Promise<LedgerEvent[]> {
  const lines = text.length ? text.split('\n') : [];
  for (let i = 0; i < lines.length; i += SLICE) {
    if (i > 0) await yieldToPage();
    for (const e of JSON.parse(`[${lines.slice(i, i + SLICE).join(',')}]`) as LedgerEvent[]) out.push(e);
  }
  return out;
}

/** How many events one `events` request brings. */
const PAGE = 2500;

/** Ledger.events() order: time, then id. */
const before = (a: LedgerEvent, b: LedgerEvent): number =>
  a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** `list` (sorted) with the events of `added` it lacks, in order; `list` itself when nothing is new. */
export function mergeEvents(
  list: readonly LedgerEvent[],
  added: readonly LedgerEvent[],
  ids: ReadonlySet<string>
): LedgerEvent[] {
  const seen = new Set<string>();
  const fresh = added.filter((e) => !ids.has(e.id) && !seen.has(e.id) && !!seen.add(e.id));
  if (fresh.length === 0) return list as LedgerEvent[];
  const last = list.at(-1);
  fresh.sort(before);
  if (!last || before(last, fresh[0]) < 0) return [...list, ...fresh];
  return [...list, ...fresh].sort(before);
}

export class LedgerSession {
  status = $state<SessionStatus>('starting');
  ledger = $state.raw<LedgerInfo | null>(null);
  member = $state.raw<MemberInfo | null>(null);
  /** How many events the ledger holds (known at open, before any event is on the page). */
  count = $state(0);
  /** The dashboard's figures, summed over every event in the worker (core/dashboard.ts); kept in step by its notices. */
  facts = $state.raw<DashboardFacts | null>(null);
  /** What the dashboard shows now. */
  readonly dashboard: DashboardView | null = $derived(this.facts ? dashboardView(this.facts, Date.now()) : null);
  /** Whether `events` holds the whole list (pages that need it show "Loading events…" until then: LedgerGate `events`). */
  eventsLoaded = $state(false);
  report = $state.raw<VerifyReport | null>(null);
  /** The last failure, for the page's alert region; cleared by the next successful action. */
  error = $state.raw<ErrorInfo | null>(null);
  /** What the engine is doing now ("Verifying…"), or null when idle. */
  activity = $state<string | null>(null);
  progress = $state.raw<Progress | null>(null);

  /** All events, oldest first, once loaded. Replaced, never mutated: `$state.raw` keeps 10k events cheap. */
  #events = $state.raw<LedgerEvent[]>([]);
  #ids = new Set<string>();
  /** The worker's change counter that `#events` reflects. */
  #eventsVersion = -1;
  /** A page needs the whole list: loaded at open or as soon as the ledger is ready. */
  #wantEvents = false;
  #loadingEvents?: Promise<void>;
  /** Notices that arrived while the list was loading, merged once it is. */
  #noticesWhileLoading: ChangeNotice[] = [];

  readonly #client: EngineClient;
  /** The hashing worker (hash-worker.ts), started on first use; only with the bundled ledger worker. */
  #hasher: EngineClient | null | undefined;
  /** The open-cache reader (open-worker.ts), for the first answer of a page load; only with the bundled ledger worker. */
  readonly #opener: EngineClient | null;

  readonly #pageSize: number;

  /** `pageSize`: events per `events` request (tests make it small to see several pages). */
  constructor(client?: EngineClient, opts: { pageSize?: number } = {}) {
    this.#pageSize = opts.pageSize ?? PAGE;
    this.#client = client ?? EngineClient.start();
    this.#opener = client
      ? null
      : new EngineClient(
          new Worker(new URL('./open-worker.ts', import.meta.url), { type: 'module', name: 'open-cache' })
        );
    if (client) this.#hasher = null;
    this.#client.onNotice((n) => this.#onNotice(n));
  }

  #clientFor(type: RequestType): EngineClient {
    if (type !== 'hash-files' || this.#hasher === null) return this.#client;
    this.#hasher ??= new EngineClient(
      new Worker(new URL('./hash-worker.ts', import.meta.url), { type: 'module', name: 'hasher' })
    );
    return this.#hasher;
  }

  /** The worker client, for pages with their own requests (the Team page's sync bridge). */
  get engine(): EngineClient {
    return this.#client;
  }

  /**
   * Every event, oldest first. The dashboard never needs them; a page that does gets them loaded (in pages
   * from the worker) on first use, and `[]` until then.
   */
  get events(): LedgerEvent[] {
    if (!this.eventsLoaded) this.needEvents();
    return this.#events;
  }

  /** Newest first, for lists. */
  readonly newestFirst = $derived([...this.events].reverse());

  /** Asks for the whole event list (LedgerGate `events` calls it as the page is made). */
  needEvents(): void {
    if (this.#wantEvents) return;
    this.#wantEvents = true;
    // Not from inside a template or $derived read: loading sets state.
    queueMicrotask(() => {
      if (this.status === 'ready' && !this.eventsLoaded) void this.#loadEvents();
    });
  }

  #setEvents(events: LedgerEvent[], version: number): void {
    this.#events = events;
    this.#ids = new Set(events.map((e) => e.id));
    this.#eventsVersion = version;
    this.eventsLoaded = true;
  }

  /** Loads the whole list in pages; starts again when the list changed between two pages. */
  #loadEvents(): Promise<void> {
    this.#loadingEvents ??= (async () => {
      try {
        for (;;) {
          let version: number | undefined;
          const all: LedgerEvent[] = [];
          for (let offset = 0; ; offset += this.#pageSize) {
            const page = await this.#client.call({ type: 'events', offset, limit: this.#pageSize });
            if (version !== undefined && page.version !== version) break;
            version = page.version;
            await parseJsonl(page.jsonl, all);
            if (offset + this.#pageSize >= page.total) {
              this.#setEvents(all, version);
              const missed = this.#noticesWhileLoading;
              this.#noticesWhileLoading = [];
              if (missed.some((n) => n.added === null)) break; // too many to merge: load again
              for (const n of missed) this.#merge(n);
              return;
            }
            await yieldToPage();
          }
        }
      } catch (e) {
        this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      } finally {
        this.#loadingEvents = undefined;
      }
    })();
    return this.#loadingEvents;
  }

  #merge(n: ChangeNotice): void {
    if (n.version <= this.#eventsVersion || !n.added) return;
    const merged = mergeEvents(this.#events, n.added, this.#ids);
    if (merged !== this.#events) {
      for (const e of n.added) this.#ids.add(e.id);
      this.#events = merged;
    }
    this.#eventsVersion = n.version;
  }

  /** Events were stored in the worker (here, by a peer, by an import): every view follows. */
  #onNotice(n: ChangeNotice): void {
    if (this.status !== 'ready') return;
    this.count = n.count;
    this.facts = n.facts;
    this.report = null; // a report about fewer events is stale
    if (this.#loadingEvents) this.#noticesWhileLoading.push(n);
    else if (this.eventsLoaded) {
      if (n.added) this.#merge(n);
      else void this.#loadEvents();
    }
  }

  async #apply(s: EngineState): Promise<void> {
    if (s.state === 'empty') {
      this.status = 'empty';
      this.ledger = null;
      this.member = null;
      this.count = 0;
      this.facts = null;
      this.#setEvents([], -1);
      return;
    }
    const sameLedger = this.ledger?.id === s.ledger.id;
    this.ledger = s.ledger;
    this.member = s.member;
    this.count = s.count ?? s.events.length;
    this.facts = s.facts ?? dashboardFacts(s.events);
    if (s.eventsJsonl !== undefined) this.#setEvents(await parseJsonl(s.eventsJsonl), s.version ?? -1);
    else if (s.count === undefined)
      this.#setEvents(s.events, s.version ?? -1); // a state with its events
    else if (!sameLedger) {
      this.#events = [];
      this.#ids = new Set();
      this.eventsLoaded = false;
    }
    this.status = 'ready';
    // The list the page holds (or is about to need) may no longer be the ledger's: load it (again) behind.
    if (s.eventsJsonl === undefined && s.count !== undefined && (this.eventsLoaded || this.#wantEvents)) {
      if (!this.eventsLoaded || s.count !== this.#events.length || (s.version ?? 0) > this.#eventsVersion)
        void this.#loadEvents();
    }
  }

  async #run<T>(activity: string, work: () => Promise<T>): Promise<T | undefined> {
    this.activity = activity;
    this.progress = null;
    try {
      const result = await work();
      this.error = null;
      return result;
    } catch (e) {
      this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      return undefined;
    } finally {
      this.activity = null;
      this.progress = null;
    }
  }

  /**
   * Opens the ledger. The ledger worker's `open` starts its load; meanwhile the small open-cache reader
   * (open-worker.ts) usually answers first, so the dashboard shows before the ledger worker has even started.
   */
  async start(): Promise<void> {
    // Marks for the UI benchmark (tests/bench/ui.ts): when the open left and when its (first) answer came.
    performance.mark('ledger-open-sent');
    const opening = this.#run('Opening your ledger…', () =>
      this.#client.call({ type: 'open', withEvents: this.#wantEvents })
    );
    if (this.#opener && !this.#wantEvents) {
      const quick = (await this.#opener.call({ type: 'open' }).catch(() => null)) as EngineState | null;
      this.#opener.dispose();
      if (quick?.state === 'ready' && this.status === 'starting') {
        performance.mark('ledger-open-answered');
        await this.#apply(quick);
      }
    } else this.#opener?.dispose();
    const s = await opening;
    if (!performance.getEntriesByName('ledger-open-answered').length) performance.mark('ledger-open-answered');
    if (s) await this.#apply(s);
    else this.status = 'failed';
  }

  async create(memberName: string, ledgerName: string, backupPassphrase?: string): Promise<boolean> {
    const s = await this.#run('Creating your ledger…', () =>
      this.#client.call({ type: 'create', memberName, ledgerName, ...(backupPassphrase ? { backupPassphrase } : {}) })
    );
    if (s) await this.#apply(s);
    return s !== undefined;
  }

  /**
   * Any request, with its activity line and progress shown. A failure goes to `error` (the alert region) and
   * gives undefined; with `{ inline: true }` it is thrown instead (an EngineError) for the page to show
   * beside its form.
   */
  async request<T extends RequestType>(
    request: RequestOf<T>,
    activity: string,
    opts: { inline?: boolean } = {}
  ): Promise<Results[T] | undefined> {
    this.activity = activity;
    this.progress = null;
    const t0 = performance.now();
    try {
      const result = await this.#clientFor(request.type).call(request, (p) => (this.progress = p));
      this.error = null;
      // For the UI benchmark: how long hashing took, as seen from the page.
      if (request.type === 'hash-files') performance.measure('hash-files', { start: t0, end: performance.now() });
      return result;
    } catch (e) {
      if (opts.inline) throw e instanceof EngineError ? e : new EngineError(toErrorInfo(e));
      this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      return undefined;
    } finally {
      this.activity = null;
      this.progress = null;
    }
  }

  /** Takes the engine's state after a change made elsewhere in the worker (import, key restore). */
  adopt(s: EngineState): Promise<void> {
    this.report = null;
    return this.#apply(s);
  }

  async recordCustody(input: CustodyInput): Promise<LedgerEvent | undefined> {
    const event = await this.request({ type: 'record-custody', input }, `Recording the ${input.type}…`);
    this.#appended(event);
    return event;
  }

  async recordGeneration(input: GenerationInput): Promise<LedgerEvent | undefined> {
    const event = await this.#run('Recording the generation…', () =>
      this.#client.call({ type: 'record-generation', input }, (p) => (this.progress = p))
    );
    this.#appended(event);
    return event;
  }

  /** An event this page recorded: in the list at once (the worker's notice brings the dashboard's figures). */
  #appended(event: LedgerEvent | undefined): void {
    if (!event) return;
    this.report = null; // a report about fewer events is stale
    if (this.eventsLoaded && !this.#ids.has(event.id)) {
      this.#events = mergeEvents(this.#events, [event], this.#ids);
      this.#ids.add(event.id);
    }
  }

  async recordChecklist(input: ChecklistInput): Promise<LedgerEvent | undefined> {
    const event = await this.#run('Recording the checklist…', () =>
      this.#client.call({ type: 'record-checklist', input })
    );
    this.#appended(event);
    return event;
  }

  async recordPolicy(input: PolicyInput): Promise<LedgerEvent | undefined> {
    const event = await this.#run('Saving the policy snapshot…', () =>
      this.#client.call({ type: 'record-policy', input })
    );
    this.#appended(event);
    return event;
  }

  /** The text of a policy snapshot kept on this device (null when it is not here). Errors go to `error`. */
  async policyText(sha256: string): Promise<string | null | undefined> {
    try {
      return await this.#client.call({ type: 'policy-text', sha256 });
    } catch (e) {
      this.error = e instanceof EngineError ? e.toJSON() : toErrorInfo(e);
      return undefined;
    }
  }

  async verify(): Promise<VerifyReport | undefined> {
    this.report = null;
    const report = await this.#run('Verifying every event…', () => this.#client.call({ type: 'verify' }));
    if (report) this.report = report;
    return report;
  }

  dismissError(): void {
    this.error = null;
  }

  dispose(): void {
    this.#client.dispose();
    this.#hasher?.dispose();
    this.#opener?.dispose();
  }
}

const [getSession, setSession] = createContext<LedgerSession>();
export { getSession, setSession };
